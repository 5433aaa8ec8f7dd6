//go:build !js

package main

// @tickwire/client as a user's project gets it: `npm pack` makes the
// package, a small sample project (js/sample) installs the tarball,
// type-checks against its declarations, bundles it with esbuild, and the
// bundle plays against the Go lobby and game server in Chromium.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPackageInSampleProject(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		btMissing(t, "npm", "apt-get install -y npm")
	}
	assets := btAssets(t) // builds js/dist when it is stale
	btNeedTS(t, assets)
	chromium := btChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
	js, err := filepath.Abs("../js")
	if err != nil {
		t.Fatal(err)
	}

	// The tarball, as `npm publish` would upload it (dist is built already).
	packs := t.TempDir()
	var packed []struct {
		Filename string `json:"filename"`
		Files    []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(run(js, npm, "pack", "--json", "--ignore-scripts", "--pack-destination", packs)), &packed); err != nil || len(packed) != 1 {
		t.Fatalf("npm pack --json: %v (%d packages)", err, len(packed))
	}
	var files []string
	for _, f := range packed[0].Files {
		files = append(files, f.Path)
	}
	t.Logf("npm pack: %s with %v", packed[0].Filename, files)
	for _, want := range []string{"package.json", "dist/tickwire.js", "dist/tickwire.js.map", "dist/types/index.d.ts", "src/index.ts"} {
		if !strings.Contains(" "+strings.Join(files, " ")+" ", " "+want+" ") {
			t.Errorf("the package lacks %s: %v", want, files)
		}
	}
	for _, f := range files {
		if strings.HasPrefix(f, "test/") || strings.HasPrefix(f, "node_modules/") || strings.HasPrefix(f, "sample/") {
			t.Errorf("the package ships %s", f)
		}
	}

	// The sample project installs it (offline: the package has no
	// dependency), type-checks and bundles with the tools of js/.
	app := t.TempDir()
	if err := btCopy(app, map[string]string{
		"../js/sample/package.json": "package.json", "../js/sample/tsconfig.json": "tsconfig.json",
		"../js/sample/main.ts": "main.ts", "../js/sample/index.html": "index.html",
	}); err != nil {
		t.Fatal(err)
	}
	run(app, npm, "install", "--offline", "--no-package-lock", filepath.Join(packs, packed[0].Filename))
	run(app, "node", filepath.Join(js, "node_modules/typescript/bin/tsc"), "-p", ".")
	run(app, filepath.Join(js, "node_modules/.bin/esbuild"), "main.ts", "--bundle", "--format=esm", "--minify", "--sourcemap", "--outfile=app.js")
	if _, err := os.Stat(filepath.Join(app, "node_modules/@tickwire/client/dist/types/index.d.ts")); err != nil {
		t.Fatalf("the installed package: %v", err)
	}

	// The bundle plays.
	h := btNewHarness(t, app, btSolo())
	browser := btStartBrowser(t, chromium)
	p := btOpenPage(t, browser, "sample", h.url+"/static/index.html")
	var out struct {
		Player   string         `json:"player"`
		Version  map[string]int `json:"version"`
		Echo     map[string]any `json:"echo"`
		Snapshot map[string]any `json:"snapshot"`
		TooLarge string         `json:"tooLarge"`
	}
	p.pageResult(30*time.Second, &out)
	if out.Version["lobby"] != 1 || out.Version["wire"] != 1 {
		t.Errorf("version %v", out.Version)
	}
	if want := map[string]any{"echo": map[string]any{"kind": "sample", "n": 1.0}, "from": out.Player}; !reflect.DeepEqual(out.Echo, want) {
		t.Errorf("the echo %v, want %v", out.Echo, want)
	}
	if out.Snapshot["player"] != out.Player {
		t.Errorf("snapshot %v, want one for %s", out.Snapshot, out.Player)
	}
	if out.TooLarge != "too_large" {
		t.Errorf("a 5000-byte input threw code %q, want too_large", out.TooLarge)
	}
	if ev := h.game.events(out.Player); len(ev) != 1 || !reflect.DeepEqual(btNumbers(ev[0]), map[string]any{"kind": "sample", "n": 1.0}) {
		t.Errorf("the server decoded the events %v", ev)
	}
	btWaitFor(5*time.Second, func() bool { return len(h.game.inputs(out.Player)) > 0 })
	if in := h.game.inputs(out.Player); len(in) != 1 {
		t.Errorf("the server decoded the inputs %v, want the one", in)
	}
}
