package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// needGit skips (or, under CI, fails) a test that needs this source tree
// to be a git checkout.
func needGit(t *testing.T) {
	t.Helper()
	if err := exec.Command("git", "rev-parse", "--verify", "HEAD").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("compare needs git and a git checkout: %v", err)
		}
		t.Skipf("compare needs git and a git checkout: %v", err)
	}
}

// runBenchFor is runBench with a longer limit, for subcommands that build.
func runBenchFor(t *testing.T, d time.Duration, args ...string) (stdout []byte, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, newEnv(strings.NewReader(""), &out, &errOut))
	return out.Bytes(), errOut.String(), code
}

// TestCompareSmoke compares this tree with its own HEAD on a cheap
// subcommand: both sides run, every numeric leaf is paired with a ratio,
// and results are keyed by transport. Timings are not asserted.
func TestCompareSmoke(t *testing.T) {
	needGit(t)
	out, stderr, code := runBenchFor(t, 10*time.Minute, "compare", "-base", "HEAD", "-runs", "1", "-json", "rtt", "-n", "50")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r compareReport
	decodeOne(t, out, &r)
	if r.Scenario != "compare" || r.Runs != 1 || !slices.Equal(r.Command, []string{"rtt", "-n", "50"}) {
		t.Errorf("scenario %q, runs %d, command %q", r.Scenario, r.Runs, r.Command)
	}
	if r.Base.Tool != toolHead || r.Head.Tool != toolOwn || r.Base.Commit == "" || r.Head.Commit == "" {
		t.Errorf("sides: base %+v, head %+v", r.Base, r.Head)
	}
	if len(r.BaseReports) != 1 || len(r.HeadReports) != 1 {
		t.Fatalf("%d base and %d head reports, want 1 each", len(r.BaseReports), len(r.HeadReports))
	}
	for _, raw := range append(r.BaseReports, r.HeadReports...) {
		var rr rttReport
		decodeOne(t, raw, &rr)
		if len(rr.Results) != 5 {
			t.Errorf("a side ran %d transports, want 5", len(rr.Results))
		}
	}
	if len(r.OnlyBase) != 0 || len(r.OnlyHead) != 0 {
		t.Errorf("the same tool on both sides yet metrics on one only: %v, %v", r.OnlyBase, r.OnlyHead)
	}
	var names []string
	for _, m := range r.Metrics {
		names = append(names, m.Name)
		if len(m.BaseRuns) != 1 || len(m.HeadRuns) != 1 {
			t.Errorf("%s: %d base and %d head runs", m.Name, len(m.BaseRuns), len(m.HeadRuns))
		}
		if m.Ratio == nil && !(m.Base == 0 && m.Head != 0) {
			t.Errorf("%s: no ratio for %v against %v", m.Name, m.Head, m.Base)
		}
	}
	for _, want := range []string{"size", "results[transport=udp].p50_us", "results[transport=netcode].p99_us", "results[transport=dc-unreliable].lost"} {
		if !slices.Contains(names, want) {
			t.Errorf("no metric %q among %q", want, names)
		}
	}
	// The worktree is gone.
	list, err := exec.Command("git", "worktree", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(list), "tickwire-compare-") {
		t.Errorf("compare left its worktree:\n%s", list)
	}
}

// TestCompareBeforeConfigSplit: against 907f4b3, from before netcode's
// Config was split (issue 16), compare builds this tree's bench with
// netcodecfg_v1.go, so the files that make netcode servers and clients are
// not left out.
func TestCompareBeforeConfigSplit(t *testing.T) {
	needGit(t)
	if err := exec.Command("git", "cat-file", "-e", "907f4b3^{commit}").Run(); err != nil {
		t.Skip("907f4b3 is not in this clone's history (a shallow clone?); compare against it is what this test checks")
	}
	out, stderr, code := runBenchFor(t, 10*time.Minute, "compare", "-base", "907f4b3", "-runs", "1", "-tool", "head", "-json", "rtt", "-n", "20")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r compareReport
	decodeOne(t, out, &r)
	if r.Base.Tool != toolHead {
		t.Fatalf("base measured by %q, want this tree's bench (%q)", r.Base.Tool, toolHead)
	}
	for _, f := range []string{"rtt.go", "ccu.go", "idle.go", "connect.go", "loss.go", "worker.go", "netcodecfg_v1.go"} {
		if slices.Contains(r.Base.Omitted, f) {
			t.Errorf("%s left out against 907f4b3 (left out: %v)", f, r.Base.Omitted)
		}
	}
}

func TestConfigTags(t *testing.T) {
	dir := t.TempDir()
	if got := configTags(dir); !slices.Equal(got, []string{"-tags=tickwire_config_v1"}) {
		t.Errorf("no netcode/server_config.go: %q", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "netcode"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "netcode", "server_config.go"), []byte("package netcode\n\ntype ServerConfig struct{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := configTags(dir); got != nil {
		t.Errorf("with a ServerConfig: %q", got)
	}
}

// TestCompareRefuses: outside a git checkout and with a revision git does
// not know, compare fails saying so, before building anything.
func TestCompareRefuses(t *testing.T) {
	needGit(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "-C", t.TempDir(), "-base", "HEAD", "rtt"}, "not in a git checkout"},
		{[]string{"compare", "-base", "no-such-revision-of-tickwire", "rtt"}, `unknown revision "no-such-revision-of-tickwire"`},
	} {
		_, stderr, code := runBenchFor(t, time.Minute, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("bench %q: exit %d, stderr %q; want 1 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestFlattenJSON(t *testing.T) {
	doc := `{
		"scenario": "grid", "args": ["grid", "-n", "3"], "params": {"hz": 60, "losses": [0, 0.05]},
		"cells": [
			{"loss": 0, "delay_ms": 25, "results": [
				{"transport": "netcode", "n": 240, "p50_us": 25100.5, "error": "broke", "samples": [1, 2, 3]},
				{"transport": "dc-unreliable", "n": 240, "p50_us": 25000}
			]},
			{"loss": 0.05, "delay_ms": 25, "results": [{"transport": "netcode", "n": 240, "p50_us": 25200}]}
		],
		"twins": [{"name": "a", "x": 1}, {"name": "a", "x": 2}],
		"ok": true, "ratio": 1.5
	}`
	f, err := flattenJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cells[loss=0,delay_ms=25].results[transport=netcode].n",
		"cells[loss=0,delay_ms=25].results[transport=netcode].p50_us",
		"cells[loss=0,delay_ms=25].results[transport=dc-unreliable].n",
		"cells[loss=0,delay_ms=25].results[transport=dc-unreliable].p50_us",
		"cells[loss=0.05,delay_ms=25].results[transport=netcode].n",
		"cells[loss=0.05,delay_ms=25].results[transport=netcode].p50_us",
		"twins[0].x", "twins[1].x", // the names repeat: by position
		"ratio",
	}
	if !slices.Equal(f.names, want) {
		t.Errorf("names\n%q\nwant\n%q", f.names, want)
	}
	if v := f.values["cells[loss=0,delay_ms=25].results[transport=netcode].p50_us"]; v != 25100.5 {
		t.Errorf("p50 = %v", v)
	}
	for _, bad := range []string{`[1, 2]`, `{"a": 1} {"b": 2}`, `{"a": `} {
		if _, err := flattenJSON([]byte(bad)); err == nil {
			t.Errorf("flattenJSON(%q) accepted", bad)
		}
	}
}

func TestCompareMetrics(t *testing.T) {
	flat := func(kv ...any) *flatJSON {
		f := &flatJSON{values: map[string]float64{}}
		for i := 0; i < len(kv); i += 2 {
			f.add(kv[i].(string), kv[i+1].(float64))
		}
		return f
	}
	base := []*flatJSON{flat("a", 2.0, "zero", 0.0, "from0", 0.0, "gone", 1.0), flat("a", 4.0, "zero", 0.0, "from0", 0.0, "gone", 1.0), flat("a", 100.0, "zero", 0.0, "from0", 0.0, "gone", 1.0)}
	head := []*flatJSON{flat("a", 1.0, "zero", 0.0, "from0", 3.0, "new", 7.0), flat("a", 1.5, "zero", 0.0, "from0", 3.0, "new", 7.0), flat("a", 2.0, "zero", 0.0, "from0", 3.0, "new", 7.0)}
	metrics, onlyBase, onlyHead := compareMetrics(base, head)
	byName := map[string]compareMetric{}
	for _, m := range metrics {
		byName[m.Name] = m
	}
	if m := byName["a"]; m.Base != 4 || m.Head != 1.5 || m.Ratio == nil || *m.Ratio != 0.375 {
		t.Errorf("a: %+v (medians 4 and 1.5, ratio 0.375)", m)
	}
	if m := byName["zero"]; m.Ratio == nil || *m.Ratio != 1 {
		t.Errorf("zero against zero: ratio %v, want 1", m.Ratio)
	}
	if m := byName["from0"]; m.Ratio != nil {
		t.Errorf("3 against 0: ratio %v, want none", *m.Ratio)
	}
	if onlyBase["gone"] != 1 || onlyHead["new"] != 7 || len(metrics) != 3 {
		t.Errorf("only base %v, only head %v, %d metrics", onlyBase, onlyHead, len(metrics))
	}
}
