//go:build !js

package main

// Tests of the browser client in a real headless Chromium, driven by
// chromedp: the wasm built from this directory, loaded by tickwire.js into
// the pages of testdata/, plays through a lobby and a Go game server running
// in the test. The page and the lobby share one httptest server, so the page
// is same-origin with the lobby.
//
// Under CI=true a missing chromium (or coturn, for the TURN test) fails the
// test; elsewhere it skips with the package to install.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(btMain{m})
}

// btMain removes the wasm build of the browser tests once every test ran,
// before goleak looks for leaks.
type btMain struct{ *testing.M }

func (m btMain) Run() int {
	code := m.M.Run()
	if btBuild.dir != "" {
		_ = os.RemoveAll(btBuild.dir)
	}
	return code
}

// ---------------------------------------------------------------------------
// The tests

// TestBrowserGoAPI: a Go program compiled to WebAssembly, using the lobby
// and netcode packages as a native client would (testdata/goapi), gets a
// guest token through fetch, joins through the browser's WebSocket, plays
// through the browser's RTCPeerConnection, and sees a refused guest token
// as an error.
func TestBrowserGoAPI(t *testing.T) {
	h, browser := btSetup(t, btSolo())
	page := btOpenPage(t, browser, "goapi", h.url+"/static/goapi.html")
	report, err := page.evalString(`new Promise((resolve) => {
		const poll = () => window.__goapi ? resolve(window.__goapi) : setTimeout(poll, 50);
		poll();
	})`)
	if err != nil {
		t.Fatalf("no report from the Go program: %v", err)
	}
	var r struct {
		Error, GuestError  string
		Player, Name, Room string
		ConnectMs          float64
		Channels           []netcode.ChannelInfo
		Snapshot, Echo     map[string]any
		Stats              netcode.Stats
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatalf("report %s: %v", report, err)
	}
	if r.Error != "" {
		t.Fatalf("the Go program failed: %s (report %s)", r.Error, report)
	}
	t.Logf("BROWSER test=go_api connect_ms=%.0f rtt_ms=%.2f", r.ConnectMs, float64(r.Stats.RTT)/1e6)
	if !strings.Contains(r.GuestError, "404") {
		t.Errorf("guest token from a path with no lobby: %q, want the 404", r.GuestError)
	}
	if r.Name != "gopher" || r.Player == "" || r.Room == "" {
		t.Errorf("player %q named %q in room %q", r.Player, r.Name, r.Room)
	}
	btCheckChannelInfos(t, "goapi", r.Channels)
	if r.Snapshot["player"] != r.Player || r.Snapshot["room"] != r.Room {
		t.Errorf("snapshot %v, want one for %s in %s", r.Snapshot, r.Player, r.Room)
	}
	if echo, _ := r.Echo["echo"].(map[string]any); r.Echo["from"] != r.Player || echo["kind"] != "hello" || echo["from"] != "go" {
		t.Errorf("echo %v", r.Echo)
	}
	if ev := h.game.events(r.Player); len(ev) != 1 {
		t.Errorf("the game server saw events %v, want the one hello", ev)
	}
	btWaitFor(10*time.Second, func() bool { return len(h.game.inputs(r.Player)) > 0 })
	if in := h.game.inputs(r.Player); len(in) == 0 || !reflect.DeepEqual(in[0], map[string]any{"x": int8(1)}) {
		t.Errorf("the game server saw inputs %v, want {x: 1}", in)
	}
	if err := page.eval(`window.__goapiClose = true`); err != nil {
		t.Fatalf("__goapiClose: %v", err)
	}
	h.game.waitClosed(t, r.Player, 10*time.Second)
}

// TestWASMSize holds the stripped tickwire.wasm to its budget: 6 MiB, and
// 1.6 MiB gzipped as a server sends it. It needs no browser. What keeps it
// there: the browser build uses the browser's RTCPeerConnection, WebSocket
// and fetch rather than pion and net/http (each adds megabytes).
func TestWASMSize(t *testing.T) {
	const maxSize, maxGzipped = 6 << 20, 16 << 20 / 10 // 1.6 MiB, rounded down
	b, err := os.ReadFile(filepath.Join(btAssets(t), "tickwire.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	t.Logf("WASM size=%d gzipped=%d", len(b), gz.Len())
	if len(b) > maxSize || gz.Len() > maxGzipped {
		t.Errorf("tickwire.wasm is %d bytes, %d gzipped: over the budget of %d and %d", len(b), gz.Len(), maxSize, maxGzipped)
	}
}

// ---------------------------------------------------------------------------
// What a page reports (testdata/client.js)

// btSetup finds chromium, builds the assets, serves them with a lobby of
// cfg and its game server, and starts the browser.
func btSetup(t *testing.T, cfg *lobby.Config) (*btHarness, context.Context) {
	t.Helper()
	chromium := btChromium(t)
	h := btNewHarness(t, btAssets(t), cfg)
	return h, btStartBrowser(t, chromium)
}

// btSolo is a lobby of one-player rooms.
func btSolo() *lobby.Config {
	return &lobby.Config{
		Modes:        map[string]lobby.Mode{"solo": {MinPlayers: 1, MaxPlayers: 1}},
		TickInterval: 20 * time.Millisecond,
	}
}

type btResult struct {
	Player  string `json:"player"`
	Name    string `json:"name"`
	Version struct {
		Lobby int `json:"lobby"`
		Wire  int `json:"wire"`
	} `json:"version"`
	Match struct {
		Room    string `json:"room"`
		Mode    string `json:"mode"`
		Server  string `json:"server"`
		Players []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"players"`
		ICEServers []btICEServer `json:"iceServers"`
	} `json:"match"`
	SnapshotCount int `json:"snapshotCount"`
	Snapshots     []struct {
		Seq   float64        `json:"seq"`
		State map[string]any `json:"state"`
	} `json:"snapshots"`
	InputsSent     []bool         `json:"inputsSent"`
	Echo           any            `json:"echo"`
	EventsReceived int            `json:"eventsReceived"`
	Channels       []btChannel    `json:"channels"`
	NativeChannels []btChannel    `json:"nativeChannels"`
	ICE            btICE          `json:"ice"`
	PingRTTs       []float64      `json:"pingRTTs"`
	PingMedianMs   float64        `json:"pingMedianMs"`
	Stats          map[string]any `json:"stats"`
	RTTTrace       []float64      `json:"rttTrace"`
	States         []struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	} `json:"states"`
	Timings    map[string]float64 `json:"timings"`
	PageErrors []string           `json:"pageErrors"`
	World      btWorld            `json:"world"`
}

// btWorld is what the page saw of the replicated world (btGame.tick):
// the first change onState reported, the entities of the newest state,
// and the ball's x in frames rendered with world.at.
type btWorld struct {
	Tick     float64          `json:"tick"`
	First    btWorldChange    `json:"first"`
	Changes  int              `json:"changes"`
	Entities []map[string]any `json:"entities"`
	BallX    []float64        `json:"ballX"`
	Playout  map[string]any   `json:"playout"`
}

type btWorldChange struct {
	Tick    float64   `json:"tick"`
	Created []float64 `json:"created"`
	Changed []float64 `json:"changed"`
	Removed []float64 `json:"removed"`
}

// btBall and btSign are the replicated world's two entity types: a ball
// that moves a quarter unit a tick along x, and a sign of every other
// kind of field, which never changes.
type btBall struct {
	X float64 `tw:"float,min=0,max=10000,step=0.01"`
}

type btSign struct {
	Text    string     `tw:"string,max=32"`
	On      bool       //
	Heading float64    `tw:"angle,bits=12"`
	Rot     [4]float64 `tw:"quat,bits=12"`
	HP      int        `tw:"int,min=-10,max=100"`
}

type btICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

type btChannel struct {
	Label          string   `json:"label"`
	Protocol       string   `json:"protocol"`
	Ordered        bool     `json:"ordered"`
	MaxRetransmits *float64 `json:"maxRetransmits"`
	ReadyState     string   `json:"readyState"`
	Negotiated     bool     `json:"negotiated"`
}

type btCandidate struct {
	Type          string `json:"type"`
	Protocol      string `json:"protocol"`
	Address       string `json:"address"`
	Port          int    `json:"port"`
	RelayProtocol string `json:"relayProtocol"`
	URL           string `json:"url"`
}

type btICE struct {
	PeerConnections int         `json:"peerConnections"`
	Policy          string      `json:"policy"`
	ConnectionState string      `json:"connectionState"`
	Local           btCandidate `json:"local"`
	Remote          btCandidate `json:"remote"`
	RTTMs           *float64    `json:"rttMs"`
}

// btHello is the event the page sends, as the Go server decodes it with
// every number made a float64 (btNumbers).
func btHello(name string) map[string]any {
	return map[string]any{
		"kind": "hello", "name": name, "n": 42.0, "pi": 3.5, "neg": -7.0, "big": float64(1 << 40),
		"ok": true, "nothing": nil, "list": []any{1.0, "two", false},
		"nested": map[string]any{"deep": map[string]any{"x": 1.0}},
		"bin":    []byte{0, 1, 254, 255}, "text": "héllo ✓",
	}
}

// btCheckWorld checks what the page saw of the replicated world: onState
// first reported the three entities created; the newest state has every
// field as the server set it (to the field's precision); and the ball
// rendered with world.at moved forward, between ticks as well as on them.
func btCheckWorld(t *testing.T, name string, w btWorld, rttMs float64) {
	t.Helper()
	if fmt.Sprint(w.First.Created) != "[1 2 3]" || len(w.First.Removed) != 0 || w.Changes < 1 || w.Tick < 1 {
		t.Errorf("%s: world: first change %+v, %d changes, tick %v; want entities 1, 2 and 3 created", name, w.First, w.Changes, w.Tick)
	}
	if len(w.Entities) != 3 {
		t.Fatalf("%s: world: %d entities, want 3: %v", name, len(w.Entities), w.Entities)
	}
	near := func(a any, b, tol float64) bool { f, ok := a.(float64); return ok && math.Abs(f-b) <= tol }
	sign, _ := w.Entities[1]["fields"].(map[string]any)
	rot, _ := sign["rot"].([]any)
	if w.Entities[1]["type"] != "sign" || sign["text"] != "héllo" || sign["on"] != true || !near(sign["heading"], 1.5, 2*math.Pi/4096) ||
		!near(sign["hp"], -3, 0) || len(rot) != 4 || !near(rot[0], 0, 1e-3) || !near(rot[1], 0, 1e-3) || !near(rot[2], 0.6, 1e-3) || !near(rot[3], 0.8, 1e-3) {
		t.Errorf("%s: world: sign %v", name, w.Entities[1])
	}
	blob, _ := w.Entities[2]["fields"].(map[string]any)
	if w.Entities[2]["type"] != "blob" || fmt.Sprint(blob["data"]) != "map[$u8:[0 1 254 255]]" {
		t.Errorf("%s: world: blob %v", name, w.Entities[2])
	}
	between := 0
	for i, x := range w.BallX {
		// Extrapolated frames may overshoot what a late state then
		// brings, by a hair: a step back is one of more than the field's
		// step (0.01).
		if i > 0 && x < w.BallX[i-1]-0.01 {
			t.Errorf("%s: world: the ball went back from x=%v to %v at frame %d", name, w.BallX[i-1], x, i)
		}
		if math.Abs(4*x-math.Round(4*x)) > 1e-6 {
			between++
		}
	}
	// A page whose round trip is over four intervals (a machine so loaded
	// that the browser handles messages hundreds of milliseconds late) has
	// its playout at the delay's bound of eight intervals: it extrapolates
	// to its limit and holds there, on a tick's value. That is the
	// playout's rule, not a fault; the frames tell nothing then.
	interval, _ := w.Playout["interval"].(float64)
	overloaded := interval > 0 && rttMs > 4*interval
	switch {
	case len(w.BallX) < 60:
		t.Errorf("%s: world: %d frames, want 60: %v", name, len(w.BallX), w.BallX)
	case between == 0 && overloaded:
		t.Logf("%s: world: no frame between ticks, with a round trip of %.0f ms (interval %.0f ms, playout %v): the machine is too loaded to tell", name, rttMs, interval, w.Playout)
	case between == 0:
		t.Errorf("%s: world: %d frames, none between ticks (round trip %.0f ms, playout %v): %v", name, len(w.BallX), rttMs, w.Playout, w.BallX)
	}
	if d, _ := w.Playout["delay"].(float64); d <= 0 {
		t.Errorf("%s: world: playout %v, want a delay", name, w.Playout)
	}
}

// btCheckPlay checks what the page and the game server saw of one player's
// game: snapshots with the right content in order, inputs and the hello
// event decoded on the server, the echo of that event in the page, and
// the replicated world.
func btCheckPlay(t *testing.T, name string, r *btResult, g *btGame) {
	t.Helper()
	rtt, _ := r.Stats["rttMs"].(float64)
	btCheckWorld(t, name, r.World, rtt)
	if len(r.PageErrors) > 0 {
		t.Errorf("%s: errors in the page: %q", name, r.PageErrors)
	}
	if len(r.States) > 0 {
		t.Errorf("%s: the game changed state before the page reported: %+v", name, r.States)
	}
	// Snapshots: {tick, room, player}, newer each time.
	if r.SnapshotCount < 10 || len(r.Snapshots) == 0 {
		t.Errorf("%s: %d snapshots, want at least 10", name, r.SnapshotCount)
	}
	lastSeq, lastTick := -1.0, -1.0
	for i, s := range r.Snapshots {
		tick, ok := s.State["tick"].(float64)
		if !ok || s.State["room"] != r.Match.Room || s.State["player"] != r.Player {
			t.Errorf("%s: snapshot %d is %v, want {tick: a number, room: %q, player: %q}", name, i, s.State, r.Match.Room, r.Player)
			break
		}
		if s.Seq <= lastSeq || tick <= lastTick {
			t.Errorf("%s: snapshot %d has seq %v tick %v after seq %v tick %v", name, i, s.Seq, tick, lastSeq, lastTick)
		}
		lastSeq, lastTick = s.Seq, tick
	}

	// Inputs: the server decoded at least one, each {kind, name, i, keys}
	// with i rising. The page sent them on the unreliable channel, so the
	// server may still be reading them: wait a little.
	if !slices.Contains(r.InputsSent, true) {
		t.Errorf("%s: sendInput returned %v", name, r.InputsSent)
	}
	var inputs []any
	btWaitFor(5*time.Second, func() bool { inputs = g.inputs(r.Player); return len(inputs) >= 1 })
	if len(inputs) == 0 {
		t.Errorf("%s: the game server got no input", name)
	}
	lastI := -1.0
	for _, in := range inputs {
		m, _ := btNumbers(in).(map[string]any)
		i, ok := m["i"].(float64)
		want := map[string]any{"kind": "input", "name": name, "i": i, "keys": []any{"up", "left"}}
		if !ok || !reflect.DeepEqual(m, want) || i <= lastI || i > 9 {
			t.Errorf("%s: the game server decoded the input %#v (after i=%v), want %#v with i from 0 to 9", name, in, lastI, want)
			break
		}
		lastI = i
	}
	t.Logf("%s: the server decoded %d of %d inputs", name, len(inputs), len(r.InputsSent))

	if p := g.player(r.Player); p != nil {
		g.mu.Lock()
		errs := slices.Clone(p.errs)
		g.mu.Unlock()
		if len(errs) > 0 {
			t.Errorf("%s: the game server had errors: %q", name, errs)
		}
	}

	// The event, as the server decoded it, and its echo in the page.
	events := g.events(r.Player)
	if len(events) != 1 || !reflect.DeepEqual(btNumbers(events[0]), btHello(name)) {
		t.Errorf("%s: the game server decoded the events %#v, want one: %#v", name, events, btHello(name))
	}
	wantEcho := btJSONish(map[string]any{"echo": btHello(name), "from": r.Player})
	if !reflect.DeepEqual(r.Echo, wantEcho) {
		t.Errorf("%s: the page got the echo\n%#v\nwant\n%#v", name, r.Echo, wantEcho)
	}
}

// btCheckChannels checks the channels as game.channels() reports them and as
// the page's own RTCDataChannel objects have them.
// btCheckChannelInfos checks the channels a Go client reports.
func btCheckChannelInfos(t *testing.T, name string, chans []netcode.ChannelInfo) {
	t.Helper()
	var got []string
	for _, c := range chans {
		got = append(got, fmt.Sprintf("%s/%s ordered=%v maxRetransmits=%v", c.Label, c.Protocol, c.Ordered, btPtr16(c.MaxRetransmits)))
	}
	want := []string{
		"snapshots/tickwire.v1 ordered=false maxRetransmits=0",
		"events/tickwire.v1 ordered=true maxRetransmits=nil",
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: channels %q, want %q", name, got, want)
	}
}

func btPtr16(p *uint16) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func btCheckChannels(t *testing.T, name string, r *btResult) {
	t.Helper()
	zero := 0.0
	want := map[string]btChannel{
		"snapshots": {Label: "snapshots", Ordered: false, MaxRetransmits: &zero},
		"events":    {Label: "events", Ordered: true, MaxRetransmits: nil},
	}
	check := func(what string, chans []btChannel, native bool) {
		seen := map[string]bool{}
		for _, c := range chans {
			w, ok := want[c.Label]
			if !ok {
				t.Errorf("%s: %s has an unexpected channel %+v", name, what, c)
				continue
			}
			seen[c.Label] = true
			if c.Ordered != w.Ordered || !reflect.DeepEqual(c.MaxRetransmits, w.MaxRetransmits) {
				t.Errorf("%s: %s: channel %q ordered=%v maxRetransmits=%v, want ordered=%v maxRetransmits=%v",
					name, what, c.Label, c.Ordered, btPtr(c.MaxRetransmits), w.Ordered, btPtr(w.MaxRetransmits))
			}
			if native && (c.ReadyState != "open" || c.Negotiated) {
				t.Errorf("%s: %s: channel %q readyState=%q negotiated=%v, want open and in-band", name, what, c.Label, c.ReadyState, c.Negotiated)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: %s: channels %+v, want snapshots and events", name, what, chans)
		}
	}
	check("game.channels()", r.Channels, false)
	check("the page's RTCDataChannels", r.NativeChannels, true)
}

func btPtr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// btLogFigures prints the browser-measured figures in one parseable line:
//
//	rtt_ms        median of event round trips timed in the page (performance.now)
//	rtt_min_ms, rtt_max_ms  their extremes
//	ice_rtt_ms    the selected ICE candidate pair's currentRoundTripTime
//	stats_rtt_ms  the netcode client's smoothed RTT (stats().rttMs)
//	open_ms       page load (navigation start) to both channels open
//	connect_ms    match to both channels open (play())
//	wasm_ms       page load to load() resolved
//	match_ms      page load to the match
func btLogFigures(t *testing.T, test, page string, r *btResult) {
	t.Helper()
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	lo, hi := 0.0, 0.0
	if len(r.PingRTTs) > 0 {
		lo, hi = slices.Min(r.PingRTTs), slices.Max(r.PingRTTs)
	}
	ice := "na"
	if r.ICE.RTTMs != nil {
		ice = f(*r.ICE.RTTMs)
	}
	statsRTT, _ := r.Stats["rttMs"].(float64)
	t.Logf("BROWSER test=%s page=%s rtt_ms=%s rtt_min_ms=%s rtt_max_ms=%s ice_rtt_ms=%s stats_rtt_ms=%s open_ms=%s connect_ms=%s wasm_ms=%s match_ms=%s pair=%s>%s",
		test, page, f(r.PingMedianMs), f(lo), f(hi), ice, f(statsRTT),
		f(r.Timings["open"]), f(r.Timings["open"]-r.Timings["matched"]), f(r.Timings["loaded"]), f(r.Timings["matched"]),
		r.ICE.Local.Type, r.ICE.Remote.Type)
	t.Logf("%s: stats().rttMs every 250 ms from the open: %v", page, r.RTTTrace)
}

// btNumbers returns v with every number a float64, as JSON has them, so that
// values decoded from msgpack compare with plain expectations.
func btNumbers(v any) any {
	switch x := v.(type) {
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint, float32:
		f, _ := strconv.ParseFloat(fmt.Sprint(x), 64)
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = btNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = btNumbers(e)
		}
		return out
	}
	return v
}

// btJSONish is v as the page reports it through JSON (client.js jsonable):
// numbers are float64 and bytes {"$u8": [...]}.
func btJSONish(v any) any {
	switch x := btNumbers(v).(type) {
	case []byte:
		a := make([]any, len(x))
		for i, b := range x {
			a[i] = float64(b)
		}
		return map[string]any{"$u8": a}
	case []any:
		for i, e := range x {
			x[i] = btJSONish(e)
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = btJSONish(e)
		}
		return x
	default:
		return x
	}
}

// ---------------------------------------------------------------------------
// The wasm build, once per test binary

var btBuild struct {
	once sync.Once
	dir  string
	err  error
}

// btAssets builds tickwire.wasm from this directory and gathers what the
// pages load: tickwire.wasm, wasm_exec.js, tickwire.js and the pages of
// testdata/ (*.html, *.js).
func btAssets(t *testing.T) string {
	t.Helper()
	btBuild.once.Do(func() {
		start := time.Now()
		btBuild.dir, btBuild.err = btBuildAssets()
		if btBuild.err == nil {
			st, _ := os.Stat(filepath.Join(btBuild.dir, "tickwire.wasm"))
			t.Logf("built tickwire.wasm (%d bytes) in %v", st.Size(), time.Since(start).Round(time.Millisecond))
		}
	})
	if btBuild.err != nil {
		t.Fatalf("building the browser assets: %v", btBuild.err)
	}
	return btBuild.dir
}

func btBuildAssets() (string, error) {
	dir, err := os.MkdirTemp("", "tickwire-browser-test-")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gorootOut, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return dir, fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(gorootOut))
	// tickwire.wasm behind tickwire.js, and Go programs using the Go API
	// (TestBrowserGoAPI, TestBrowserWSSignaler).
	for pkg, out := range map[string]string{".": "tickwire.wasm", "./testdata/goapi": "goapi.wasm", "./testdata/wsgo": "wsgo.wasm"} {
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, out), pkg)
		build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return dir, fmt.Errorf("GOOS=js GOARCH=wasm go build %s: %w\n%s", pkg, err, out)
		}
	}
	copies := map[string]string{"tickwire.js": "tickwire.js"}
	wasmExec := ""
	for _, c := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		if _, err := os.Stat(filepath.Join(goroot, c)); err == nil {
			wasmExec = filepath.Join(goroot, c)
			break
		}
	}
	if wasmExec == "" {
		return dir, fmt.Errorf("no wasm_exec.js under %s", goroot)
	}
	copies[wasmExec] = "wasm_exec.js"
	for _, pattern := range []string{"testdata/*.html", "testdata/*.js"} {
		pages, _ := filepath.Glob(pattern)
		for _, p := range pages {
			copies[p] = filepath.Base(p)
		}
	}
	if err := btCopy(dir, copies); err != nil {
		return dir, err
	}
	return dir, btTSAssets(ctx, filepath.Join(dir, "ts"))
}

// btTSAssets puts the TypeScript client, js/dist/tickwire.js and its source
// map, into dir, building it first when it is older than its sources and
// js/node_modules is there to build it with (make js). Without a build it
// leaves dir out: the tests of the TypeScript client then say what to run.
func btTSAssets(ctx context.Context, dir string) error {
	const js = "../js"
	dist := filepath.Join(js, "dist", "tickwire.js")
	built, err := os.Stat(dist)
	stale := err != nil
	_ = filepath.WalkDir(filepath.Join(js, "src"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil && built != nil && info.ModTime().After(built.ModTime()) {
				stale = true
			}
		}
		return nil
	})
	if stale {
		if _, err := os.Stat(filepath.Join(js, "node_modules")); err != nil {
			return nil
		}
		build := exec.CommandContext(ctx, "node", "build.mjs")
		build.Dir = js
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("building js/ (node build.mjs): %w\n%s", err, out)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return btCopy(dir, map[string]string{dist: "tickwire.js", dist + ".map": "tickwire.js.map"})
}

// btCopy copies each file of files (source path: name) into dir.
func btCopy(dir string, files map[string]string) error {
	for from, to := range files {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// The lobby, the game server and the page's origin

type btHarness struct {
	url  string // the origin of the pages and the lobby
	game *btGame
}

// btNewHarness serves the lobby on / and the assets on /static/ from one
// httptest server, and attaches a game server running btGame.
func btNewHarness(t *testing.T, assets string, cfg *lobby.Config) *btHarness {
	return btNewHarnessOn(t, assets, cfg, nil, nil)
}

// btNewHarnessOn is btNewHarness with the lobby serving on ln and the game
// server made with ncfg (network namespace tests); nil means loopback for
// either.
func btNewHarnessOn(t *testing.T, assets string, cfg *lobby.Config, ln net.Listener, ncfg *netcode.ServerConfig) *btHarness {
	t.Helper()
	logs := btTestLogger(t, slog.LevelWarn)
	cfg.Logger = logs
	srv, err := lobby.NewServer(cfg)
	if err != nil {
		t.Fatalf("lobby.NewServer: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir(assets))))
	mux.Handle("/", srv)
	hs := httptest.NewUnstartedServer(mux)
	if ln != nil {
		_ = hs.Listener.Close()
		hs.Listener = ln
	}
	hs.Start()

	// pion warns of ordinary events (pings before the first candidate
	// pair, reads on closed sockets at close): errors only.
	if ncfg == nil {
		ncfg = &netcode.ServerConfig{UDPAddr: "127.0.0.1:0"}
	}
	ncfg.Logger = btTestLogger(t, slog.LevelError)
	ns, err := netcode.NewServer(ncfg)
	if err != nil {
		hs.Close()
		_ = srv.Close()
		t.Fatalf("netcode.NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gs, err := srv.AttachGameServer(ctx, ns, &lobby.GameServerConfig{Name: "browser-test", Logger: logs})
	if err != nil {
		cancel()
		_ = ns.Close()
		hs.Close()
		_ = srv.Close()
		t.Fatalf("AttachGameServer: %v", err)
	}
	g := &btGame{players: map[string]*btPlayer{}}
	var wg sync.WaitGroup
	wg.Go(func() { g.run(ctx, gs, &wg) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_ = gs.Close()
		_ = ns.Close()
		_ = srv.Close()
		hs.Close()
	})
	return &btHarness{url: hs.URL, game: g}
}

// btGame is a tiny authoritative game: it sends each player
// {tick, room, player} at 30 Hz, records the inputs and events it decodes
// (msgpack), and echoes every event as {echo, from}.
type btGame struct {
	mu      sync.Mutex
	players map[string]*btPlayer
}

type btPlayer struct {
	room, name string
	session    *netcode.Session
	inputs     []any
	events     []any // pings apart
	pings      int
	errs       []string
}

func (g *btGame) run(ctx context.Context, gs *lobby.GameServer, wg *sync.WaitGroup) {
	for {
		p, err := gs.Accept(ctx)
		if err != nil {
			return
		}
		bp := &btPlayer{room: p.Room, name: p.Name, session: p.Session}
		g.mu.Lock()
		g.players[p.ID] = bp
		g.mu.Unlock()
		wg.Go(func() { g.tick(ctx, p, bp) })
		wg.Go(func() { g.echo(ctx, p, bp) })
	}
}

func (g *btGame) tick(ctx context.Context, p *lobby.Player, bp *btPlayer) {
	t := time.NewTicker(time.Second / 30)
	defer t.Stop()
	var buf []netcode.Input
	// Each player's own world: a ball moving along x, a sign, and a blob
	// of bytes.
	world, err := netcode.NewWorld(nil)
	if err == nil {
		err = errors.Join(world.Register("ball", btBall{}), world.Register("sign", btSign{}), world.RegisterBytes("blob", 8))
	}
	if err == nil {
		err = errors.Join(world.Set(2, btSign{Text: "héllo", On: true, Heading: 1.5, Rot: [4]float64{0, 0, 0.6, 0.8}, HP: -3}),
			world.SetBytes(3, "blob", []byte{0, 1, 254, 255}))
	}
	if err != nil {
		panic(err)
	}
	world.Join(p.Session)
	for n := 0; ; n++ {
		select {
		case <-t.C:
		case <-p.Session.Done():
			return
		case <-ctx.Done():
			return
		}
		snap, err := msgpack.Marshal(map[string]any{"tick": n, "room": p.Room, "player": p.ID})
		if err == nil {
			err = p.Session.SendSnapshot(snap)
		}
		if err == nil {
			err = world.Set(1, btBall{X: float64(n) / 4})
		}
		if err == nil {
			err = world.Tick()
		}
		buf = p.Session.ReadInputs(buf[:0])
		g.mu.Lock()
		if err != nil && !errors.Is(err, netcode.ErrClosed) {
			bp.errs = append(bp.errs, "snapshot: "+err.Error())
		}
		for _, in := range buf {
			var v any
			if err := msgpack.Unmarshal(in.Payload, &v); err != nil {
				bp.errs = append(bp.errs, fmt.Sprintf("input %d: %v", in.Seq, err))
				continue
			}
			bp.inputs = append(bp.inputs, v)
		}
		g.mu.Unlock()
	}
}

func (g *btGame) echo(ctx context.Context, p *lobby.Player, bp *btPlayer) {
	for {
		ev, err := p.Session.ReadEvent(ctx)
		if err != nil {
			return
		}
		var v any
		err = msgpack.Unmarshal(ev, &v)
		g.mu.Lock()
		switch m, _ := v.(map[string]any); {
		case err != nil:
			bp.errs = append(bp.errs, "event: "+err.Error())
		case m["kind"] == "ping":
			bp.pings++
		default:
			bp.events = append(bp.events, v)
		}
		g.mu.Unlock()
		if err != nil {
			continue
		}
		out, err := msgpack.Marshal(map[string]any{"echo": v, "from": p.ID})
		if err == nil {
			err = p.Session.SendEvent(out)
		}
		if m, _ := v.(map[string]any); err == nil && m["kind"] == "bye" {
			// The echo is the game's last word: the server closes.
			err = p.Session.Close("bye")
		}
		if err != nil {
			g.mu.Lock()
			bp.errs = append(bp.errs, "echo: "+err.Error())
			g.mu.Unlock()
		}
	}
}

func (g *btGame) player(id string) *btPlayer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.players[id]
}

func (g *btGame) inputs(id string) []any {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.players[id]; p != nil {
		return slices.Clone(p.inputs)
	}
	return nil
}

func (g *btGame) events(id string) []any {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.players[id]; p != nil {
		return slices.Clone(p.events)
	}
	return nil
}

func (g *btGame) pings(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.players[id]; p != nil {
		return p.pings
	}
	return 0
}

// snapshot returns a copy of the players by id, with their errors logged
// nowhere: callers check them.
func (g *btGame) snapshot() map[string]*btPlayer {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]*btPlayer, len(g.players))
	for id, p := range g.players {
		c := *p
		c.errs = slices.Clone(p.errs)
		out[id] = &c
	}
	return out
}

func (p *btPlayer) String() string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%s (errors %q)", p.room, p.errs)
}

// waitClosed waits for the server session of player id to end.
func (g *btGame) waitClosed(t *testing.T, id string, d time.Duration) {
	t.Helper()
	p := g.player(id)
	if p == nil {
		t.Errorf("no session for player %s", id)
		return
	}
	select {
	case <-p.session.Done():
		t.Logf("player %s: the server session ended: %v", id, p.session.Err())
	case <-time.After(d):
		t.Errorf("player %s: the server session is still open %v after the page closed the game", id, d)
	}
}

// ---------------------------------------------------------------------------
// Chromium

// btChromium finds the browser, or skips (fails under CI=true).
func btChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	btMissing(t, "chromium", "apt-get install -y chromium")
	return ""
}

func btMissing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing and CI=true: %s", what, install)
	}
	t.Skipf("%s is missing; install it: %s", what, install)
}

// btStartBrowser starts one headless Chromium for the test and returns its
// context; btOpenPage opens tabs in it.
func btStartBrowser(t *testing.T, path string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	out := &btSyncBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		// Two tabs play at once: neither may be throttled as a background tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// WebRTC on loopback (docs/webrtc-facts.md, "Chromium on loopback"): without these,
		// a machine with only lo gathers no candidate at all.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
		chromedp.CombinedOutput(out),
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must not have a timeout (the
	// browser would live only as long as it).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			cancel()
			cancelAlloc()
			t.Fatalf("starting %s: %v\n%s", path, err, btTail(out.String(), 20))
		}
	case <-time.After(30 * time.Second):
		cancel()
		cancelAlloc()
		<-started
		t.Fatalf("%s did not start in 30 s\n%s", path, btTail(out.String(), 20))
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output (tail):\n%s", btTail(out.String(), 30))
		}
	})
	return ctx
}

// btPage is one tab.
type btPage struct {
	t       *testing.T
	name    string
	browser string          // "chromium" or "firefox"
	ctx     context.Context // the tab's chromedp context (Chromium only: clicks and keys)
	// evalJSON evaluates a JS expression in the page, awaiting a promise,
	// and returns its value as JSON.
	evalJSON func(ctx context.Context, expr string) (json.RawMessage, error)
}

// btJSONExpr wraps expr so that the page returns its value, awaited, as
// JSON text: one shape for both drivers.
func btJSONExpr(expr string) string {
	return `(async () => { const v = await (` + expr + `); return JSON.stringify(v === undefined ? null : v) ?? "null"; })()`
}

// poll evaluates expr every 50 ms until it gives something other than
// null or false, for at most d.
func (p *btPage) poll(expr string, d time.Duration) (json.RawMessage, error) {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := p.evalJSON(ctx, expr)
		cancel()
		if err == nil && string(v) != "null" && string(v) != "false" {
			return v, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("still " + string(v))
			}
			return nil, fmt.Errorf("waited %v for %s: %w", d, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// btOpenPage opens url in a new tab of browser and copies the page's console
// and exceptions into the test log.
func btOpenPage(t *testing.T, browser context.Context, name, url string) *btPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	logs := &btGate{t: t}
	if err := chromedp.Listen(ctx, func(ev any) { btLogEvent(logs, name, ev) }); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	t.Cleanup(func() {
		logs.close()
		cancel()
	})
	nctx, ncancel := context.WithTimeout(ctx, 15*time.Second)
	defer ncancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigate to %s: %v", name, url, err)
	}
	p := &btPage{t: t, name: name, browser: "chromium", ctx: ctx}
	p.evalJSON = func(ectx context.Context, expr string) (json.RawMessage, error) {
		// Bounded by ectx, in the tab's own context.
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(ectx, cancel)
		defer stop()
		s, err := chromedp.Run(rctx, chromedp.Evaluate[string](btJSONExpr(expr), chromedp.EvalAwaitPromise))
		if err != nil && ectx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ectx.Err(), err)
		}
		return json.RawMessage(s), err
	}
	return p
}

// result polls the page until it reports, for at most d.
func (p *btPage) result(d time.Duration) (*btResult, error) {
	type outcome struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	raw, err := p.poll(`window.__result ? {result: window.__result} : (window.__error ? {error: String(window.__error)} : null)`, d)
	if err != nil {
		step := p.js(`"document " + document.readyState + ", step " + (window.__step ? window.__step.name : "none")`)
		return nil, fmt.Errorf("no result from the page after %v (%s): %w", d, step, err)
	}
	var o outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	if o.Error != "" {
		return nil, errors.New(o.Error)
	}
	var r btResult
	if err := json.Unmarshal(o.Result, &r); err != nil {
		return nil, fmt.Errorf("decoding the result %s: %w", o.Result, err)
	}
	return &r, nil
}

// evalString evaluates expr, a string or a promise of one, in the page.
func (p *btPage) evalString(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := p.evalJSON(ctx, expr)
	if err != nil {
		return "", err
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw), nil
	}
	return s, nil
}

func (p *btPage) eval(expr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.evalJSON(ctx, expr)
	return err
}

// btLogEvent copies console calls, exceptions and browser log entries of a
// tab into the test log. It runs on chromedp's reader goroutine: it only
// formats and logs.
func btLogEvent(logs *btGate, page string, ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		args := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			args = append(args, btRemoteString(a))
		}
		logs.logf("page %s: console.%s: %s", page, e.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		logs.logf("page %s: exception: %s", page, (&chromedp.ExceptionError{ExceptionDetails: e.ExceptionDetails}).Error())
	case *log.EventEntryAdded:
		if e.Entry != nil {
			logs.logf("page %s: %s %s: %s %s", page, e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		}
	}
}

func btRemoteString(a *runtime.RemoteObject) string {
	if a == nil {
		return "<nil>"
	}
	if len(a.Value) > 0 {
		var s string
		if json.Unmarshal(a.Value, &s) == nil {
			return s
		}
		return string(a.Value)
	}
	if a.UnserializableValue != "" {
		return string(a.UnserializableValue)
	}
	if a.Description != "" {
		return a.Description
	}
	return string(a.Type)
}

// ---------------------------------------------------------------------------
// coturn

// btStartCoturn runs turnserver on free loopback ports with REST
// credentials for secret and returns its URL. It stops it when the test
// ends, and logs its output if the test failed.
func btStartCoturn(t *testing.T, secret string) string {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		btMissing(t, "coturn (turnserver)", "apt-get install -y coturn")
	}
	port := btFreeUDPPort(t)
	minPort := 40000 + mathrand.IntN(200)*100
	dir := t.TempDir()
	cmd := exec.Command(bin, "-n",
		"--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm=tickwire",
		"--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
		"--min-port="+strconv.Itoa(minPort), "--max-port="+strconv.Itoa(minPort+99),
		"--allow-loopback-peers",
		"--log-file=stdout", "--simple-log",
		"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--userdb="+filepath.Join(dir, "turndb"))
	out := &btSyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting turnserver: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("coturn output (tail):\n%s", btTail(out.String(), 40))
		}
	})

	// Ready when it answers a STUN binding request.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("turnserver exited: %v\n%s", err, btTail(out.String(), 30))
		default:
		}
		if btSTUNPing(addr, 100*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("turnserver does not answer on %s after 10 s\n%s", addr, btTail(out.String(), 30))
		}
	}
	return "turn:" + addr + "?transport=udp"
}

// btSTUNPing sends one STUN binding request to addr and reports whether a
// binding success answer came back within d.
func btSTUNPing(addr string, d time.Duration) bool {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	req := make([]byte, 20)
	req[1] = 0x01                                  // type 0x0001: binding request, length 0
	copy(req[4:8], []byte{0x21, 0x12, 0xA4, 0x42}) // magic cookie
	_, _ = rand.Read(req[8:20])                    // transaction id
	if _, err := c.Write(req); err != nil {
		time.Sleep(d) // connection refused comes back at once
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	resp := make([]byte, 1500)
	n, err := c.Read(resp)
	if err != nil {
		return false
	}
	return n >= 20 && resp[0] == 0x01 && resp[1] == 0x01 && bytes.Equal(resp[8:20], req[8:20])
}

func btFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free UDP port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// ---------------------------------------------------------------------------
// Small helpers

// btGate logs to t until closed: chromedp and the servers' loggers call it
// from their goroutines, which must not log once the test has ended.
type btGate struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (g *btGate) logf(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.t.Logf(format, args...)
	}
}

func (g *btGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *btGate) Write(p []byte) (int, error) {
	g.logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// btTestLogger sends the logs of the lobby or the game server at level and
// above to the test log.
func btTestLogger(t *testing.T, level slog.Level) *slog.Logger {
	g := &btGate{t: t}
	t.Cleanup(g.close)
	return slog.New(slog.NewTextHandler(g, &slog.HandlerOptions{Level: level}))
}

type btSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *btSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *btSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var _ io.Writer = (*btSyncBuffer)(nil)

func btTail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func btRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func btWaitFor(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
