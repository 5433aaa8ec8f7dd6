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

// TestBrowserWASMClient: two tabs load the wasm, queue for a two-player
// mode, are matched into one room, open both channels to the Go game server,
// receive snapshots, send inputs and events that the server decodes, get
// their event echoed, and report the channels as the browser's
// RTCDataChannel has them.
func TestBrowserWASMClient(t *testing.T) {
	h, browser := btSetup(t, &lobby.Config{
		Modes:        map[string]lobby.Mode{"duo": {MinPlayers: 2, MaxPlayers: 2}},
		TickInterval: 20 * time.Millisecond,
	})

	names := []string{"alice", "bob"}
	pages := make([]*btPage, len(names))
	for i, name := range names {
		pages[i] = btOpenPage(t, browser, name, h.url+"/static/client.html?mode=duo&how=queue&settle=2500&name="+name)
	}
	results := make([]*btResult, len(pages))
	errs := make([]error, len(pages))
	var wg sync.WaitGroup
	for i, p := range pages {
		wg.Go(func() { results[i], errs[i] = p.result(30 * time.Second) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("page %s: %v", names[i], err)
		}
	}

	room := results[0].Match.Room
	if room == "" || results[1].Match.Room != room {
		t.Fatalf("pages matched into rooms %q and %q, want one room", room, results[1].Match.Room)
	}
	for i, r := range results {
		name := names[i]
		btLogFigures(t, "wasm_client", name, r)
		if r.Name != name || r.Player == "" {
			t.Errorf("%s: lobby player %q named %q", name, r.Player, r.Name)
		}
		if r.Match.Mode != "duo" || len(r.Match.Players) != 2 {
			t.Errorf("%s: match of mode %q with %d players, want duo with 2: %+v", name, r.Match.Mode, len(r.Match.Players), r.Match)
		}
		if r.Version.Lobby == 0 || r.Version.Wire == 0 {
			t.Errorf("%s: version %+v", name, r.Version)
		}
		btCheckPlay(t, name, r, h.game)
		btCheckChannels(t, name, r)
		if len(r.PingRTTs) != 20 {
			t.Errorf("%s: %d ping round trips, want 20", name, len(r.PingRTTs))
		}
		if n := h.game.pings(r.Player); n != 20 {
			t.Errorf("%s: the server saw %d pings, want 20", name, n)
		}
	}

	// The server saw exactly these two players, in the room the pages report.
	players := h.game.snapshot()
	if len(players) != 2 {
		t.Errorf("the game server accepted %d players, want 2", len(players))
	}
	for _, r := range results {
		if p := players[r.Player]; p == nil || p.room != room {
			t.Errorf("the game server has player %s in room %v, want %q", r.Player, p, room)
		}
	}

	// Closing the game in the page ends the session on the server.
	for i, p := range pages {
		if err := p.eval(`window.__close()`); err != nil {
			t.Errorf("%s: __close: %v", names[i], err)
		}
	}
	for _, r := range results {
		h.game.waitClosed(t, r.Player, 10*time.Second)
	}
}

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

// TestBrowserServerICERestart: the game server asks the browser's client
// to restart ICE (Session.RestartICE, as a server whose network changed
// would); the page sees onState "reconnecting" then "connected", keeps
// the same RTCPeerConnection with a new ICE username fragment, and events
// flow both ways afterwards.
func TestBrowserServerICERestart(t *testing.T) {
	h, browser := btSetup(t, btSolo())
	page := btOpenPage(t, browser, "carol", h.url+"/static/client.html?mode=solo&how=queue&pings=5&name=carol")
	r, err := page.result(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bp := h.game.player(r.Player)
	if bp == nil {
		t.Fatalf("no session for player %s", r.Player)
	}
	before, err := page.evalString(`window.__ufrag()`)
	if err != nil || before == "" {
		t.Fatalf("ICE ufrag before: %q, %v", before, err)
	}

	from, err := page.evalString(`window.__stateCount()`)
	if err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	if err := bp.session.RestartICE(); err != nil {
		t.Fatal(err)
	}
	text, err := page.evalString(`window.__afterRestart(` + from + `)`)
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	took := time.Since(asked)
	var out struct {
		States []struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"states"`
		Stats           map[string]any `json:"stats"`
		EchoMs          float64        `json:"echoMs"`
		Ufrag           string         `json:"ufrag"`
		PeerConnections int            `json:"peerConnections"`
		ConnectionState string         `json:"connectionState"`
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("page states after the request: %+v", out.States)
	t.Logf("BROWSER test=server_ice_restart recovered_ms=%d echo_after_ms=%.1f", took.Milliseconds(), out.EchoMs)
	if out.Ufrag == "" || out.Ufrag == before {
		t.Errorf("ICE ufrag %q before, %q after: no ICE restart happened", before, out.Ufrag)
	}
	if out.PeerConnections != 1 || out.ConnectionState != "connected" {
		t.Errorf("%d RTCPeerConnections, the last %q: want the same one, connected", out.PeerConnections, out.ConnectionState)
	}
	if n, _ := out.Stats["restarts"].(float64); n != 1 {
		t.Errorf("stats().restarts = %v, want 1", out.Stats["restarts"])
	}
	if n, _ := out.Stats["resumes"].(float64); n != 0 {
		t.Errorf("stats().resumes = %v, want 0: the restart should keep the connection", out.Stats["resumes"])
	}
	if err := bp.session.Err(); err != nil {
		t.Fatalf("the server session ended: %v", err)
	}
	if err := page.eval(`window.__close()`); err != nil {
		t.Errorf("__close: %v", err)
	}
	h.game.waitClosed(t, r.Player, 10*time.Second)
}

// TestBrowserRelayOnlyTURN: with relayOnly the browser connects only
// through a TURN relay, here coturn started by the test and then the
// embedded pion/turn server, both with REST credentials that the lobby
// issues, and exchanges snapshots and events with the game server.
func TestBrowserRelayOnlyTURN(t *testing.T) {
	chromium := btChromium(t)
	assets := btAssets(t)
	browser := btStartBrowser(t, chromium)

	relayTest := func(t *testing.T, turnURL, secret string) {
		h := btNewHarness(t, assets, &lobby.Config{
			Modes:        map[string]lobby.Mode{"duo": {MinPlayers: 2, MaxPlayers: 2}},
			TickInterval: 20 * time.Millisecond,
			TURN:         lobby.TURNConfig{URLs: []string{turnURL}, Secret: secret},
		})
		name := "relay-" + strings.ReplaceAll(t.Name()[strings.LastIndex(t.Name(), "/")+1:], "_", "-")
		p := btOpenPage(t, browser, name, h.url+"/static/client.html?mode=duo&how=room&relay=1&pings=10&name="+name)
		r, err := p.result(30 * time.Second)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		btLogFigures(t, "relay_"+t.Name()[strings.LastIndex(t.Name(), "/")+1:], name, r)

		var turn *btICEServer
		for i, s := range r.Match.ICEServers {
			if slices.Contains(s.URLs, turnURL) {
				turn = &r.Match.ICEServers[i]
			}
		}
		if turn == nil || turn.Username == "" || turn.Credential == "" {
			t.Errorf("the match's ICE servers %+v have no credentials for %s", r.Match.ICEServers, turnURL)
		}
		if r.ICE.Policy != "relay" {
			t.Errorf("the RTCPeerConnection has iceTransportPolicy %q, want relay", r.ICE.Policy)
		}
		if r.ICE.Local.Type != "relay" {
			t.Errorf("the selected candidate pair's local candidate is %+v, want a relay candidate", r.ICE.Local)
		}
		if hostPort := strings.TrimPrefix(strings.Split(turnURL, "?")[0], "turn:"); !strings.Contains(r.ICE.Local.URL, hostPort) {
			t.Errorf("the relay candidate %+v is not from the TURN server at %s", r.ICE.Local, hostPort)
		}
		btCheckPlay(t, name, r, h.game)
		btCheckChannels(t, name, r)
	}

	t.Run("coturn", func(t *testing.T) {
		secret := btRandomHex(16)
		turnURL := btStartCoturn(t, secret)
		relayTest(t, turnURL, secret)
	})
	t.Run("pion", func(t *testing.T) {
		secret := btRandomHex(16)
		ts, err := lobby.NewTURNServer(lobby.TURNServerConfig{Addr: "127.0.0.1:0", Secret: secret})
		if err != nil {
			t.Fatalf("NewTURNServer: %v", err)
		}
		t.Cleanup(func() { _ = ts.Close() })
		relayTest(t, ts.URLs()[0], secret) // ?transport=udp
	})
}

// ---------------------------------------------------------------------------
// What a page reports (testdata/client.js)

// TestBrowserPlayAbandoned: plays cut short by a timeout of 1 to 130 ms,
// at every stage of the connection, must each settle (opened, or rejected
// with "timeout") and leave nothing open. Chromium never settles the
// promises of an RTCPeerConnection closed while they are pending; a close
// that waited for them hung play() for good.
func TestBrowserPlayAbandoned(t *testing.T) {
	cfg := btSolo()
	// Three lobby messages a round, and a room created, as fast as the
	// page can.
	cfg.MessageRate, cfg.MessageBurst = 1000, 1000
	cfg.RoomCreateRate, cfg.RoomCreateBurst, cfg.IPRoomCreateRate, cfg.IPRoomCreateBurst = 1000, 1000, 1000, 1000
	h, browser := btSetup(t, cfg)
	const rounds = 24
	p := btOpenPage(t, browser, "abandon", h.url+"/static/abandon.html?rounds="+strconv.Itoa(rounds))
	var out struct {
		Opened   int      `json:"opened"`
		Timeouts int      `json:"timeouts"`
		Hung     []string `json:"hung"`
		Errors   []string `json:"errors"`
		Handles  struct {
			Lobbies int `json:"lobbies"`
			Games   int `json:"games"`
		} `json:"handles"`
	}
	p.pageResult(4*time.Minute, &out)
	t.Logf("%d plays: %d opened, %d timed out", rounds, out.Opened, out.Timeouts)
	if len(out.Hung) > 0 {
		t.Errorf("plays that never settled: %v", out.Hung)
	}
	if len(out.Errors) > 0 {
		t.Errorf("plays rejected other than with timeout: %v", out.Errors)
	}
	if out.Opened+out.Timeouts != rounds {
		t.Errorf("%d opened and %d timed out, want %d in all", out.Opened, out.Timeouts, rounds)
	}
	if out.Timeouts == 0 {
		t.Errorf("no play timed out: the test cut none short")
	}
	if out.Handles.Lobbies != 0 || out.Handles.Games != 0 {
		t.Errorf("open after the rounds: %+v", out.Handles)
	}
}

// TestBrowserErrorCodes: what the JS API rejects or throws with carries
// the code tickwire.d.ts documents, in a real browser (an Error without a
// code would be a bug); a game closed by the page reports "closed" once;
// and a game with codec "raw" passes bytes both ways untouched.
func TestBrowserErrorCodes(t *testing.T) {
	h, browser := btSetup(t, btSolo())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := btOpenPage(t, browser, "errors", h.url+"/static/errors.html?closed="+strconv.Itoa(closedPort))
	var out struct {
		Codes             map[string]string `json:"codes"`
		NoticesAfterClose []string          `json:"noticesAfterClose"`
		Delivery          struct {
			Order      []string `json:"order"`
			LateEvents []string `json:"lateEvents"`
		} `json:"delivery"`
		Raw struct {
			Player        string `json:"player"`
			SnapshotBytes int    `json:"snapshotBytes"`
			Echo          any    `json:"echo"` // bytes as numbers
		} `json:"raw"`
		States    []string `json:"states"`
		CloseInfo struct {
			Code   string `json:"code"`
			Remote bool   `json:"remote"`
		} `json:"closeInfo"`
	}
	p.pageResult(time.Minute, &out)
	want := map[string]string{
		"connect to no lobby":                         "network",
		"connect with a forged token":                 "token_invalid",
		"connect without a token":                     "bad_request",
		"queue for an unknown mode":                   "unknown_mode",
		"queue without options":                       "bad_request",
		"join an unknown room":                        "room_not_found",
		"create a second room":                        "busy",
		"play with an unknown codec":                  "bad_argument",
		"play a forged match":                         "timeout",
		"send a function":                             "bad_argument",
		"send a symbol":                               "bad_argument",
		"send a cyclic object":                        "bad_argument",
		"play with a TURN server without credentials": "bad_argument",
		"send an input over 1200 bytes":               "too_large",
		"send an event over 16 KiB":                   "too_large",
		"send an event after close":                   "closed",
		"send an input after close":                   "closed",
		"channels after close":                        "closed",
		"rooms after close":                           "closed",
		"play after close":                            "closed",
		"send an object with codec raw":               "bad_argument",
	}
	for name, code := range want {
		got, ok := out.Codes[name]
		switch {
		case !ok:
			t.Errorf("%s: not run", name)
		case got != code:
			t.Errorf("%s: code %q, want %q", name, got, code)
		}
	}
	if want := []string{"onEvent returned", "event early"}; !slices.Equal(out.Delivery.Order, want) {
		t.Errorf("a waiting event and onEvent(): %q, want %q", out.Delivery.Order, want)
	}
	if want := []string{"bye"}; !slices.Equal(out.Delivery.LateEvents, want) {
		t.Errorf("onEvent set after the server closed: got %q, want the event that came before the close, %q", out.Delivery.LateEvents, want)
	}
	if want := []string{"closed"}; !slices.Equal(out.NoticesAfterClose, want) {
		t.Errorf("onNotice set after the lobby closed: %q, want %q", out.NoticesAfterClose, want)
	}
	// codec "raw": the page got bytes, and the server decoded the bytes the
	// page encoded by hand, as an event and as an input.
	raw := out.Raw
	wantRaw := map[string]any{"kind": "raw", "n": int8(7)}
	var echo map[string]any
	if nums, ok := raw.Echo.([]any); !ok {
		t.Errorf("codec raw: the echo arrived as %v, want a Uint8Array", raw.Echo)
	} else {
		b := make([]byte, len(nums))
		for i, n := range nums {
			b[i] = byte(n.(float64))
		}
		if err := msgpack.Unmarshal(b, &echo); err != nil || !reflect.DeepEqual(echo["echo"], wantRaw) {
			t.Errorf("codec raw: the echo's bytes decode to %#v (%v), want the event sent back", echo, err)
		}
	}
	if raw.SnapshotBytes <= 0 {
		t.Errorf("codec raw: no snapshot as a Uint8Array (%d bytes)", raw.SnapshotBytes)
	}
	if ev := h.game.events(raw.Player); len(ev) != 1 || !reflect.DeepEqual(ev[0], wantRaw) {
		t.Errorf("codec raw: the server decoded the events %#v, want [%#v]", ev, wantRaw)
	}
	if in := h.game.inputs(raw.Player); len(in) != 1 || !reflect.DeepEqual(in[0], wantRaw) {
		t.Errorf("codec raw: the server decoded the inputs %#v, want [%#v]", in, wantRaw)
	}
	if !slices.Equal(out.States, []string{"closed"}) || out.CloseInfo.Code != "normal" || out.CloseInfo.Remote {
		t.Errorf("onState after game.close(): %v, info %+v; want only closed, normal, not remote", out.States, out.CloseInfo)
	}
}

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

// btCheckPlay checks what the page and the game server saw of one player's
// game: snapshots with the right content in order, inputs and the hello
// event decoded on the server, the echo of that event in the page.
func btCheckPlay(t *testing.T, name string, r *btResult, g *btGame) {
	t.Helper()
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
	// tickwire.wasm behind tickwire.js, and a Go program using the Go API
	// (TestBrowserGoAPI).
	for pkg, out := range map[string]string{".": "tickwire.wasm", "./testdata/goapi": "goapi.wasm"} {
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
	return dir, btCopy(dir, copies)
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
func btNewHarnessOn(t *testing.T, assets string, cfg *lobby.Config, ln net.Listener, ncfg *netcode.Config) *btHarness {
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
		ncfg = &netcode.Config{UDPAddr: "127.0.0.1:0"}
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
		// WebRTC on loopback (FIELD-NOTES.md "Real browser"): without these,
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
	t    *testing.T
	name string
	ctx  context.Context
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
	return &btPage{t: t, name: name, ctx: ctx}
}

// result polls the page until it reports, for at most d.
func (p *btPage) result(d time.Duration) (*btResult, error) {
	type outcome struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	ctx, cancel := context.WithTimeout(p.ctx, d+5*time.Second)
	defer cancel()
	o, err := chromedp.Run(ctx, chromedp.Poll[outcome](
		`window.__result ? {result: window.__result} : (window.__error ? {error: String(window.__error)} : null)`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		ectx, ecancel := context.WithTimeout(p.ctx, 2*time.Second)
		defer ecancel()
		step, _ := chromedp.Run(ectx, chromedp.Evaluate[string](`"document " + document.readyState + ", step " + (window.__step ? window.__step.name : "none")`))
		return nil, fmt.Errorf("no result from the page after %v (%s): %w", d, step, err)
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
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
}

func (p *btPage) eval(expr string) error {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
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
