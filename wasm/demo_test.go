//go:build !js

package main

// The demo that `make run` serves, played in Chromium the way a person
// plays it: the lobby command itself, built and started as `make run`
// starts it, serves the page of examples/web next to the TypeScript client
// (js/dist/tickwire.js); two
// tabs press Quick play, meet in one room, and each moves its dot with the
// arrow keys while the other tab watches it move. Then the README's
// example, run as written, plays against the same command.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

func TestBrowserDemo(t *testing.T) {
	chromium := btChromium(t)
	web := btDemoWeb(t)
	// `make run` is `lobby -web build/web -fill-wait 2s` on 127.0.0.1:8080;
	// here on a port the system picks.
	bin := btBuildLobbyCommand(t)
	lc := btStartLobbyCommand(t, bin, "-addr", "127.0.0.1:0", "-web", web, "-fill-wait", "2s")
	base := lc.base
	browser := btStartBrowser(t, chromium)

	ada := btOpenPage(t, browser, "ada", base+"/?name=Ada")
	bob := btOpenPage(t, browser, "bob", base+"/?name=Bob")
	for _, p := range []*btPage{ada, bob} {
		p.waitJS(`window.dots && dots.phase === "menu" && !document.getElementById("quick").disabled`, 30*time.Second)
		p.click("#quick")
	}
	for _, p := range []*btPage{ada, bob} {
		p.waitJS(`dots.phase === "playing" && dots.me > 0 && dots.dots.length === 2`, 30*time.Second)
	}
	adaRoom, bobRoom := ada.js(`dots.room`), bob.js(`dots.room`)
	if adaRoom == "" || adaRoom != bobRoom {
		t.Fatalf("Quick play put the tabs in rooms %q and %q, want one", adaRoom, bobRoom)
	}
	adaDot, bobDot := ada.js(`String(dots.me)`), bob.js(`String(dots.me)`)
	if adaDot == bobDot {
		t.Fatalf("both tabs are dot %s", adaDot)
	}
	// Each tab names the other's dot from the game's events.
	ada.waitJS(`dots.dots.some((d) => d.id !== dots.me && d.name === "Bob")`, 10*time.Second)
	bob.waitJS(`dots.dots.some((d) => d.id !== dots.me && d.name === "Ada")`, 10*time.Second)

	// Ada holds an arrow key, and Bob sees her dot move; then the other
	// way round, on the other axis, with WASD.
	btHoldAndWatch(t, ada, bob, adaDot, "x", "ArrowLeft", "ArrowRight")
	btHoldAndWatch(t, bob, ada, bobDot, "y", "KeyW", "KeyS")
	if n := ada.js(`String(dots.stats.inputsSent)`); n == "0" {
		t.Errorf("ada: stats report %s inputs sent", n)
	}

	// Ada leaves: her dot goes from Bob's arena, and she is back at the menu.
	ada.click("#leave")
	ada.waitJS(`dots.phase === "menu"`, 10*time.Second)
	bob.waitJS(`dots.dots.length === 1 && dots.dots[0].id === dots.me`, 15*time.Second)

	// The README's example, as written, with Ada's tab as the second player
	// its queue needs: it draws the snapshots and moves with the arrows.
	readme := btOpenPage(t, browser, "readme", base+"/readme.html")
	readme.waitJS(`window.__readme.error || window.__readme.queued === true`, 30*time.Second)
	ada.click("#quick")
	readme.waitJS(`window.__readme.error || (window.__readme.me > 0 && window.__readme.players.some((p) => p.id === window.__readme.me))`, 30*time.Second)
	if e := readme.js(`String(window.__readme.error || "")`); e != "" {
		t.Fatalf("readme: %s", e)
	}
	ada.waitJS(`dots.phase === "playing" && dots.dots.length === 2`, 15*time.Second)
	readmeDot := readme.js(`String(window.__readme.me)`)
	if ada.js(`dots.room`) == bob.js(`dots.room`) {
		t.Errorf("ada's second match is in bob's room %s", bob.js(`dots.room`))
	}
	// The example sends one input per keydown: a held key repeats.
	x0 := readme.jsFloat(`window.__readme.players.find((p) => p.id === window.__readme.me).fields.x`)
	key := "ArrowRight"
	dir := 1.0
	if x0 > 0 {
		key, dir = "ArrowLeft", -1
	}
	readme.front()
	for i := range 20 {
		readme.key(input.DispatchKeyEventTypeKeyDown, key, i > 0)
		time.Sleep(20 * time.Millisecond)
	}
	readme.key(input.DispatchKeyEventTypeKeyUp, key, false)
	want := x0 + dir*5
	cmp := ">="
	if dir < 0 {
		cmp = "<="
	}
	readme.waitJS(fmt.Sprintf(`window.__readme.players.find((p) => p.id === window.__readme.me).fields.x %s %v`, cmp, want), 10*time.Second)
	ada.waitJS(fmt.Sprintf(`dots.dots.find((d) => d.id === %s).x %s %v`, readmeDot, cmp, want), 10*time.Second)
	// The client pings every 500 ms; the dot may have moved before the
	// first pong.
	readme.waitJS(`window.__readme.game.stats().rttMs > 0`, 10*time.Second)

	// The lobby command stops (Ctrl-C) and starts again on the same
	// address, with a new guest secret: the tabs' games end, their lobby
	// connections are redialed and refused (their tokens are the old
	// lobby's), and the next action connects afresh: Ada creates a room,
	// Bob sees it in the list of open rooms and joins it by its code.
	lc.stop()
	for _, p := range []*btPage{ada, bob} {
		p.waitJS(`dots.phase === "menu"`, 15*time.Second)
	}
	btStartLobbyCommand(t, bin, "-addr", strings.TrimPrefix(base, "http://"), "-web", web, "-fill-wait", "2s")
	for _, p := range []*btPage{ada, bob} {
		p.waitJS(`document.getElementById("conn").textContent === "not connected to the lobby"`, 40*time.Second)
	}
	ada.click("#create")
	ada.waitJS(`dots.phase === "playing" && dots.code && dots.dots.length === 1`, 30*time.Second)
	code := ada.js(`dots.code`)
	bob.click("#quick") // connects to the lobby; cancelled at once
	bob.waitJS(`dots.phase === "queued"`, 15*time.Second)
	bob.click("#leave")
	bob.waitJS(`dots.phase === "menu" && [...document.querySelectorAll("#rooms li")].some((li) => li.textContent.includes("Ada's room"))`, 15*time.Second)
	bob.front()
	ctx, cancel := context.WithTimeout(bob.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#code"), strings.ToLower(code), chromedp.NodeVisible)); err != nil {
		t.Fatalf("bob: typing the room code: %v", err)
	}
	bob.click("#join")
	for _, p := range []*btPage{ada, bob} {
		p.waitJS(`dots.phase === "playing" && dots.dots.length === 2`, 30*time.Second)
	}
	if a, b := ada.js(`dots.room`), bob.js(`dots.room`); a != b {
		t.Errorf("bob joined room %s by code %s, ada is in %s", b, code, a)
	}
}

// btHoldAndWatch holds one of two keys (towards the arena's middle) on
// mover's tab for 700 ms, and waits until watcher's tab shows mover's dot
// at least 5 units further along axis.
func btHoldAndWatch(t *testing.T, mover, watcher *btPage, dot, axis, less, more string) {
	t.Helper()
	at := fmt.Sprintf(`dots.dots.find((d) => d.id === %s).%s`, dot, axis)
	from := mover.jsFloat(at)
	key, cmp, want := more, ">=", from+5
	if from > 0 {
		key, cmp, want = less, "<=", from-5
	}
	mover.front()
	mover.key(input.DispatchKeyEventTypeKeyDown, key, false)
	time.Sleep(700 * time.Millisecond)
	mover.key(input.DispatchKeyEventTypeKeyUp, key, false)
	watcher.waitJS(fmt.Sprintf(`%s %s %v`, at, cmp, want), 10*time.Second)
	t.Logf("%s held %s: its dot went from %s=%v to %s=%s on %s's screen", mover.name, key, axis, from, axis, watcher.js(`String(`+at+`)`), watcher.name)
}

// btDemoWeb is build/web as `make run` fills it: the TypeScript client
// (make js) and the page of examples/web, plus readme.html, the README's
// example.
func btDemoWeb(t *testing.T) string {
	t.Helper()
	assets := btAssets(t)
	btNeedTS(t, assets)
	dir := t.TempDir()
	copies := map[string]string{
		filepath.Join(assets, "ts", "tickwire.js"):     "tickwire.js",
		filepath.Join(assets, "ts", "tickwire.js.map"): "tickwire.js.map",
	}
	demo, err := filepath.Glob("../examples/web/*")
	if err != nil || len(demo) == 0 {
		t.Fatalf("no demo page in ../examples/web (%v)", err)
	}
	for _, f := range demo {
		copies[f] = filepath.Base(f)
	}
	if err := btCopy(dir, copies); err != nil {
		t.Fatal(err)
	}
	example, err := btReadmeExample("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "readme.html"), []byte(btReadmePage(example)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// btReadmeExample is the first js block of the README's "In the browser".
func btReadmeExample(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	_, section, ok := strings.Cut(string(b), "\n## In the browser\n")
	if !ok {
		return "", fmt.Errorf("%s has no section \"In the browser\"", path)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, code, ok := strings.Cut(section, "\n```js\n")
	if !ok {
		return "", fmt.Errorf("%s: no js example in \"In the browser\"", path)
	}
	code, _, ok = strings.Cut(code, "\n```")
	if !ok {
		return "", fmt.Errorf("%s: the js example in \"In the browser\" does not end", path)
	}
	if n := strings.Count(code, "\n") + 1; n > 20 {
		return "", fmt.Errorf("%s: the js example in \"In the browser\" has %d lines, over the 20 it promises", path, n)
	}
	return code, nil
}

// btReadmePage runs the example in a module script. It only adds what the
// example leaves to the game: draw, which records what it was given, and a
// record of the example's own variables and errors for the test to read.
func btReadmePage(example string) string {
	// The example's lines after the queue and the play: the test learns
	// from them that it queued, and gets the game for its stats.
	example = strings.Replace(example, "await lobby.queue({ mode: \"default\" });",
		"await lobby.queue({ mode: \"default\" }); window.__readme.queued = true;", 1)
	example = strings.Replace(example, "const game = await lobby.play(match);",
		"const game = await lobby.play(match); window.__readme.game = game;", 1)
	return `<!doctype html>
<meta charset="utf-8">
<title>The README's example</title>
<script>
window.__readme = { frames: 0 };
addEventListener("error", (e) => { window.__readme.error = String(e.message || e.error); });
addEventListener("unhandledrejection", (e) => { window.__readme.error = "unhandled: " + String(e.reason && (e.reason.code ? e.reason.code + ": " : "") + (e.reason && e.reason.message || e.reason)); });
</script>
<script type="importmap">{"imports": {"@tickwire/client": "./tickwire.js"}}</script>
<script type="module">
function draw(entities, me) {
  const players = entities;
  window.__readme.frames++;
  window.__readme.players = players;
  window.__readme.me = me;
}
` + example + `
</script>
`
}

// btBuildLobbyCommand builds lobby/cmd/lobby, with -race when this test
// binary has it, so that the build reuses the packages it compiled.
func btBuildLobbyCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lobby")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	buildArgs := []string{"build", "-o", bin}
	if btRace {
		buildArgs = append(buildArgs, "-race")
	}
	start := time.Now()
	if out, err := exec.CommandContext(ctx, "go", append(buildArgs, "../lobby/cmd/lobby")...).CombinedOutput(); err != nil {
		t.Fatalf("go build ../lobby/cmd/lobby: %v\n%s", err, out)
	}
	t.Logf("built the lobby command in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// btCommand is a running lobby command.
type btCommand struct {
	t      *testing.T
	base   string // from its banner: http://host:port
	out    *btSyncBuffer
	cmd    *exec.Cmd
	exited chan error
	once   sync.Once
}

// btStartLobbyCommand runs the lobby command bin with args until stop or
// the end of the test, and reads the base URL from its banner.
func btStartLobbyCommand(t *testing.T, bin string, args ...string) *btCommand {
	t.Helper()
	c := &btCommand{t: t, out: &btSyncBuffer{}, exited: make(chan error, 1)}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(c.stop)

	banner := regexp.MustCompile(`tickwire lobby on (http://\S+)`)
	deadline := time.After(60 * time.Second)
	for {
		if m := banner.FindStringSubmatch(c.out.String()); m != nil {
			c.base = m[1]
			return c
		}
		select {
		case err := <-c.exited:
			c.exited <- err // for stop
			t.Fatalf("the lobby command exited before serving: %v\n%s", err, btTail(c.out.String(), 30))
		case <-deadline:
			t.Fatalf("the lobby command printed no banner in 60 s:\n%s", btTail(c.out.String(), 30))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGINT, as Ctrl-C does, and checks that the command shuts down
// cleanly within 20 s. Idempotent.
func (c *btCommand) stop() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-c.exited:
			if err != nil {
				c.t.Errorf("the lobby command ended with %v after SIGINT", err)
			}
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
			c.t.Errorf("the lobby command did not stop within 20 s of SIGINT")
		}
		if c.t.Failed() {
			c.t.Logf("the lobby command's output (tail):\n%s", btTail(c.out.String(), 40))
		}
	})
}

// waitJS polls the boolean expression expr in the page until it is true,
// for at most d, and fails the test with what the page shows otherwise.
func (p *btPage) waitJS(expr string, d time.Duration) {
	p.t.Helper()
	if _, err := p.poll(`(() => { try { return !!(`+expr+`); } catch { return false; } })()`, d); err != nil {
		state := p.js(`JSON.stringify({phase: window.dots && dots.phase, me: window.dots && dots.me, dots: window.dots && dots.dots, readme: window.__readme && {error: window.__readme.error, me: window.__readme.me, frames: window.__readme.frames, queued: window.__readme.queued}, log: [...document.querySelectorAll("#log li")].slice(0, 8).map((li) => li.textContent)})`)
		p.t.Fatalf("%s: waited %v for %s: %v\npage: %s", p.name, d, expr, err, state)
	}
}

// pageResult waits at most d for the page to set window.__result or
// window.__error, and decodes the result into out; an error fails the test.
func (p *btPage) pageResult(d time.Duration, out any) {
	p.t.Helper()
	p.waitJS(`window.__result || window.__error`, d)
	if e := p.js(`window.__error`); e != "" {
		p.t.Fatalf("page %s: %s", p.name, e)
	}
	if err := json.Unmarshal([]byte(p.js(`JSON.stringify(window.__result)`)), out); err != nil {
		p.t.Fatalf("page %s: decoding its result: %v", p.name, err)
	}
}

// js evaluates expr, which gives a string, in the page ("" on error).
func (p *btPage) js(expr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := p.evalJSON(ctx, `(() => { const v = (`+expr+`); return v == null ? "" : String(v); })()`)
	var s string
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil {
		p.t.Logf("%s: evaluating %s: %v", p.name, expr, err)
		return ""
	}
	return s
}

func (p *btPage) jsFloat(expr string) float64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := p.evalJSON(ctx, expr)
	var f float64
	if err == nil {
		err = json.Unmarshal(raw, &f)
	}
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.name, expr, err)
	}
	return f
}

// click clicks the element as a mouse does.
func (p *btPage) click(selector string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("%s: click %s: %v", p.name, selector, err)
	}
}

// front makes the tab the one keys go to.
func (p *btPage) front() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.BringToFront, cdp.Empty{}); err != nil {
		p.t.Fatalf("%s: bring to front: %v", p.name, err)
	}
}

// btKeys are the DOM key, code and Windows virtual key code of the keys
// the tests press.
var btKeys = map[string]struct {
	key string
	vk  int64
}{
	"ArrowLeft": {"ArrowLeft", 37}, "ArrowUp": {"ArrowUp", 38}, "ArrowRight": {"ArrowRight", 39}, "ArrowDown": {"ArrowDown", 40},
	"KeyW": {"w", 87}, "KeyA": {"a", 65}, "KeyS": {"s", 83}, "KeyD": {"d", 68},
}

// key sends one key event (by its DOM code) to the page, as the keyboard
// does.
func (p *btPage) key(typ input.DispatchKeyEventType, code string, repeat bool) {
	p.t.Helper()
	k, ok := btKeys[code]
	if !ok {
		p.t.Fatalf("no key %q", code)
	}
	ev := input.DispatchKeyEventParams{
		Type: typ, Key: k.key, Code: code,
		WindowsVirtualKeyCode: k.vk, NativeVirtualKeyCode: k.vk, AutoRepeat: &repeat,
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
		p.t.Fatalf("%s: key %s %s: %v", p.name, typ, code, err)
	}
}

// TestBrowserGoCanvas: the browser game written in Go (examples/godots),
// served by the lobby command as `make run` serves it at /go/, creates a
// room, plays in it through the lobby and netcode Go API, draws its dot on
// the canvas, and moves it with the arrow keys.
func TestBrowserGoCanvas(t *testing.T) {
	chromium := btChromium(t)
	web := t.TempDir()
	goDir := filepath.Join(web, "go")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(goDir, "godots.wasm"), "../examples/godots")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build ../examples/godots: %v\n%s", err, out)
	}
	if err := btCopy(goDir, map[string]string{
		"../examples/godots/index.html":            "index.html",
		filepath.Join(btAssets(t), "wasm_exec.js"): "wasm_exec.js",
	}); err != nil {
		t.Fatal(err)
	}
	lc := btStartLobbyCommand(t, btBuildLobbyCommand(t), "-addr", "127.0.0.1:0", "-web", web)
	browser := btStartBrowser(t, chromium)
	p := btOpenPage(t, browser, "gopher", lc.base+"/go/?name=Gopher")
	p.waitJS(`window.__godots && __godots.phase === "playing" && __godots.me > 0 && __godots.dots.length === 1`, 30*time.Second)
	// The canvas shows the dot: pixels other than the background.
	drawn := p.jsFloat(`(() => {
		const c = document.getElementById("arena");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) if (d[i] > 40 || d[i + 1] > 40 || d[i + 2] > 40) n++;
		return n;
	})()`)
	if drawn < 50 {
		t.Errorf("the canvas has %v lit pixels: no dot drawn", drawn)
	}
	x0 := p.jsFloat(`__godots.dots[0][1]`)
	key, cmp, want := "ArrowRight", ">=", x0+5
	if x0 > 0 {
		key, cmp, want = "ArrowLeft", "<=", x0-5
	}
	p.front()
	p.key(input.DispatchKeyEventTypeKeyDown, key, false)
	time.Sleep(700 * time.Millisecond)
	p.key(input.DispatchKeyEventTypeKeyUp, key, false)
	p.waitJS(fmt.Sprintf(`__godots.dots[0][1] %s %v`, cmp, want), 10*time.Second)
	t.Logf("held %s: the Go game's dot went from x=%v to x=%s", key, x0, p.js(`__godots.dots[0][1]`))
}
