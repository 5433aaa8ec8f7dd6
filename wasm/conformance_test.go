//go:build !js

package main

// The browser conformance suite: one set of cases, run against both
// browser clients (the TypeScript one, @tickwire/client in js/, and the Go
// client compiled to WebAssembly behind tickwire.js) in both browsers
// (Chromium over CDP, Firefox over WebDriver BiDi), each playing through a
// lobby and a Go game server in the test: connect through the lobby, both
// channels' parameters as the browser reports them, snapshots, inputs,
// events, ICE restart, resume with exactly-once events, the error codes,
// plays abandoned at every stage, and relay-only through TURN (coturn and
// the embedded pion server).
//
// Under CI=true a missing browser, coturn or TypeScript build fails the
// test; elsewhere it skips saying what to install.

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/cutproxy"
	"github.com/tickwire/tickwire/lobby"
	"github.com/vmihailenco/msgpack/v5"
)

// btTarget is one browser with one client.
type btTarget struct {
	browser string // "chromium" or "firefox"
	client  string // "ts" or "wasm"
	open    func(t *testing.T, name, url string) *btPage
}

// query is the page's query parameter that picks the client.
func (tg btTarget) query() string { return "client=" + tg.client }

// btClients are the two browser clients.
var btClients = []string{"ts", "wasm"}

func TestConformance(t *testing.T) {
	assets := btAssets(t)
	cases := []struct {
		name string
		run  func(t *testing.T, tg btTarget, assets string)
	}{
		{"play", btCasePlay},
		{"ice_restart", btCaseICERestart},
		{"resume", btCaseResume},
		{"errors", btCaseErrors},
		{"abandoned", btCaseAbandoned},
		{"relay_only", btCaseRelayOnly},
		{"lobby_failover", btCaseLobbyFailover},
	}
	for _, browser := range []string{"chromium", "firefox"} {
		t.Run(browser, func(t *testing.T) {
			t.Parallel()
			open := btBrowserOpener(t, browser)
			for _, client := range btClients {
				t.Run(client, func(t *testing.T) {
					if client == "ts" {
						btNeedTS(t, assets)
					}
					tg := btTarget{browser: browser, client: client, open: open}
					for _, c := range cases {
						t.Run(c.name, func(t *testing.T) { c.run(t, tg, assets) })
					}
				})
			}
		})
	}
}

// btBrowserOpener starts the browser for the test and returns how to open
// a page in it.
func btBrowserOpener(t *testing.T, browser string) func(t *testing.T, name, url string) *btPage {
	t.Helper()
	if browser == "firefox" {
		ff := btStartFirefox(t)
		return ff.open
	}
	ctx := btStartBrowser(t, btChromium(t))
	return func(t *testing.T, name, url string) *btPage { return btOpenPage(t, ctx, name, url) }
}

// btNeedTS checks that the assets have the TypeScript client (make js
// builds it into js/dist).
func btNeedTS(t *testing.T, assets string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(assets, "ts", "tickwire.js")); err != nil {
		btMissing(t, "the TypeScript client (js/dist/tickwire.js)", "make js (npm ci and the build in js/)")
	}
}

// btCasePlay: two tabs queue for a two-player mode, are matched into one
// room, open both channels to the Go game server, receive snapshots, send
// inputs and events that the server decodes, get their event echoed, and
// report the channels as the browser's RTCDataChannel has them.
func btCasePlay(t *testing.T, tg btTarget, assets string) {
	h := btNewHarness(t, assets, &lobby.Config{
		Modes:        map[string]lobby.Mode{"duo": {MinPlayers: 2, MaxPlayers: 2}},
		TickInterval: 20 * time.Millisecond,
	})
	names := []string{"alice", "bob"}
	pages := make([]*btPage, len(names))
	for i, name := range names {
		pages[i] = tg.open(t, name, h.url+"/static/client.html?mode=duo&how=queue&settle=2500&name="+name+"&"+tg.query())
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
		btLogFigures(t, tg.browser+"_"+tg.client, name, r)
		if r.Name != name || r.Player == "" {
			t.Errorf("%s: lobby player %q named %q", name, r.Player, r.Name)
		}
		if r.Match.Mode != "duo" || len(r.Match.Players) != 2 {
			t.Errorf("%s: match of mode %q with %d players, want duo with 2: %+v", name, r.Match.Mode, len(r.Match.Players), r.Match)
		}
		if r.Version.Lobby != 1 || r.Version.Wire != 1 {
			t.Errorf("%s: version %+v, want lobby 1 and wire 1", name, r.Version)
		}
		btCheckPlay(t, name, r, h.game)
		btCheckChannels(t, name, r)
		if len(r.PingRTTs) != 20 {
			t.Errorf("%s: %d ping round trips, want 20", name, len(r.PingRTTs))
		}
		if n := h.game.pings(r.Player); n != 20 {
			t.Errorf("%s: the server saw %d pings, want 20", name, n)
		}
		if rtt, _ := r.Stats["rttMs"].(float64); rtt <= 0 {
			t.Errorf("%s: stats().rttMs = %v after the game settled", name, r.Stats["rttMs"])
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

// btOneGame opens a page that plays one game in a one-player room, and
// returns it with its report and the server's player.
func btOneGame(t *testing.T, tg btTarget, assets, name string) (*btHarness, *btPage, *btResult, *btPlayer) {
	t.Helper()
	h := btNewHarness(t, assets, btSolo())
	page := tg.open(t, name, h.url+"/static/client.html?mode=solo&how=queue&pings=5&name="+name+"&"+tg.query())
	r, err := page.result(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bp := h.game.player(r.Player)
	if bp == nil {
		t.Fatalf("no session for player %s", r.Player)
	}
	return h, page, r, bp
}

// btCaseICERestart: the game server asks the browser's client to restart
// ICE (Session.RestartICE, as a server whose network changed would); the
// page sees onState "reconnecting" then "connected", keeps the same
// RTCPeerConnection with a new ICE username fragment, and events flow both
// ways afterwards.
func btCaseICERestart(t *testing.T, tg btTarget, assets string) {
	h, page, r, bp := btOneGame(t, tg, assets, "carol")
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
	t.Logf("BROWSER test=server_ice_restart browser=%s client=%s recovered_ms=%d echo_after_ms=%.1f", tg.browser, tg.client, took.Milliseconds(), out.EchoMs)
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

// btCaseResume: the page closes the RTCPeerConnection under the client, as
// a dying network leaves it, with events on their way both ways; the
// client resumes the same session on a new RTCPeerConnection (the server
// keeps it), and every event arrives exactly once and in order, in both
// directions, with both channels as specified on the new connection.
func btCaseResume(t *testing.T, tg btTarget, assets string) {
	const n, serverEvents = 5, 3
	h, page, r, bp := btOneGame(t, tg, assets, "dave")
	from, err := page.evalString(`window.__stateCount()`)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.eval(`window.__break(` + strconv.Itoa(n) + `)`); err != nil {
		t.Fatalf("__break: %v", err)
	}
	broken := time.Now()
	for i := range serverEvents {
		b, _ := msgpack.Marshal(map[string]any{"kind": "server", "i": i})
		if err := bp.session.SendEvent(b); err != nil {
			t.Fatalf("the server's event %d during the outage: %v", i, err)
		}
	}
	text, err := page.evalString(`window.__afterResume(` + from + `, ` + strconv.Itoa(n) + `, ` + strconv.Itoa(serverEvents) + `)`)
	if err != nil {
		t.Fatalf("after the break: %v", err)
	}
	var out struct {
		States []struct {
			State  string `json:"state"`
			Reason string `json:"reason"`
		} `json:"states"`
		Stats           map[string]float64 `json:"stats"`
		Echoes          []int              `json:"echoes"`
		Server          []int              `json:"server"`
		Channels        []btChannel        `json:"channels"`
		PeerConnections int                `json:"peerConnections"`
		ConnectionState string             `json:"connectionState"`
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("page states after the break: %+v", out.States)
	t.Logf("BROWSER test=resume browser=%s client=%s resumed_ms=%d resent=%v", tg.browser, tg.client, time.Since(broken).Milliseconds(), out.Stats["eventsResent"])
	seq := func(k int) []int {
		s := make([]int, k)
		for i := range s {
			s[i] = i
		}
		return s
	}
	if !slices.Equal(out.Echoes, seq(2*n)) {
		t.Errorf("echoes of the page's events: %v, want each of 0..%d once, in order", out.Echoes, 2*n-1)
	}
	if !slices.Equal(out.Server, seq(serverEvents)) {
		t.Errorf("the server's events sent during the outage arrived as %v, want each of 0..%d once, in order", out.Server, serverEvents-1)
	}
	var got []int
	for _, ev := range h.game.events(r.Player) {
		if m, _ := btNumbers(ev).(map[string]any); m["kind"] == "seq" {
			got = append(got, int(m["i"].(float64)))
		}
	}
	if !slices.Equal(got, seq(2*n)) {
		t.Errorf("the server received the page's events %v, want each of 0..%d once, in order", got, 2*n-1)
	}
	if out.Stats["resumes"] != 1 || out.PeerConnections != 2 || out.ConnectionState != "connected" {
		t.Errorf("resumes %v on %d RTCPeerConnections (the last %q): want 1 on a second, connected", out.Stats["resumes"], out.PeerConnections, out.ConnectionState)
	}
	if last := out.States[len(out.States)-1]; last.State != "connected" || !slices.ContainsFunc(out.States, func(s struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}) bool {
		return s.State == "resuming"
	}) {
		t.Errorf("states %+v: want resuming, then connected", out.States)
	}
	btCheckChannels(t, "dave after the resume", &btResult{Channels: out.Channels, NativeChannels: btNativeOpen(out.Channels)})
	if err := bp.session.Err(); err != nil {
		t.Fatalf("the server session ended: %v", err)
	}
	if err := page.eval(`window.__close()`); err != nil {
		t.Errorf("__close: %v", err)
	}
	h.game.waitClosed(t, r.Player, 10*time.Second)
}

// btNativeOpen is game.channels() as the page's own view of open in-band
// channels, for btCheckChannels.
func btNativeOpen(chans []btChannel) []btChannel {
	out := slices.Clone(chans)
	for i := range out {
		out[i].ReadyState = "open"
	}
	return out
}

// btCaseRelayOnly: with relayOnly the browser connects only through a TURN
// relay, coturn started by the test or the embedded pion/turn server, both
// with REST credentials that the lobby issues, and exchanges snapshots and
// events with the game server.
func btCaseRelayOnly(t *testing.T, tg btTarget, assets string) {
	relayTest := func(t *testing.T, turnURL, secret string) {
		h := btNewHarness(t, assets, &lobby.Config{
			Modes:        map[string]lobby.Mode{"duo": {MinPlayers: 2, MaxPlayers: 2}},
			TickInterval: 20 * time.Millisecond,
			TURN:         lobby.TURNConfig{URLs: []string{turnURL}, Secret: secret},
		})
		name := "relay-" + t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		p := tg.open(t, name, h.url+"/static/client.html?mode=duo&how=room&relay=1&pings=10&name="+name+"&"+tg.query())
		r, err := p.result(30 * time.Second)
		if err != nil {
			t.Fatalf("page: %v", err)
		}
		btLogFigures(t, "relay_"+tg.browser+"_"+tg.client, name, r)
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
		// Chromium names the TURN server of a relay candidate (url);
		// Firefox does not, but its address is the relay's.
		hostPort := strings.TrimPrefix(strings.Split(turnURL, "?")[0], "turn:")
		host, _, _ := net.SplitHostPort(hostPort)
		if !strings.Contains(r.ICE.Local.URL, hostPort) && r.ICE.Local.Address != host {
			t.Errorf("the relay candidate %+v is not from the TURN server at %s", r.ICE.Local, hostPort)
		}
		btCheckPlay(t, name, r, h.game)
		btCheckChannels(t, name, r)
	}
	t.Run("coturn", func(t *testing.T) {
		secret := btRandomHex(16)
		relayTest(t, btStartCoturn(t, secret), secret)
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

// btCaseAbandoned: plays cut short by a timeout of 1 to 130 ms, at every
// stage of the connection, must each settle (opened, or rejected with
// "timeout") and leave nothing open. Chromium never settles the promises
// of an RTCPeerConnection closed while they are pending; a close that
// waited for them hung play() for good.
func btCaseAbandoned(t *testing.T, tg btTarget, assets string) {
	cfg := btSolo()
	// Three lobby messages a round, and a room created, as fast as the
	// page can.
	cfg.MessageRate, cfg.MessageBurst = 1000, 1000
	cfg.RoomCreateRate, cfg.RoomCreateBurst, cfg.IPRoomCreateRate, cfg.IPRoomCreateBurst = 1000, 1000, 1000, 1000
	h := btNewHarness(t, assets, cfg)
	const rounds = 24
	p := tg.open(t, "abandon", h.url+"/static/abandon.html?rounds="+strconv.Itoa(rounds)+"&"+tg.query())
	var out struct {
		Opened   int      `json:"opened"`
		Timeouts int      `json:"timeouts"`
		Hung     []string `json:"hung"`
		Errors   []string `json:"errors"`
		Handles  struct {
			Lobbies int `json:"lobbies"`
			Games   int `json:"games"`
		} `json:"handles"`
		OpenPeerConnections int `json:"openPeerConnections"`
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
	if out.Handles.Lobbies != 0 || out.Handles.Games != 0 || out.OpenPeerConnections != 0 {
		t.Errorf("open after the rounds: %+v and %d RTCPeerConnections", out.Handles, out.OpenPeerConnections)
	}
}

// btCaseErrors: what the JS API rejects or throws with carries the code
// tickwire.d.ts documents (an Error without a code would be a bug); a game
// closed by the page reports "closed" once; and a game with codec "raw"
// passes bytes both ways untouched.
func btCaseErrors(t *testing.T, tg btTarget, assets string) {
	h := btNewHarness(t, assets, btSolo())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := tg.open(t, "errors", h.url+"/static/errors.html?closed="+strconv.Itoa(closedPort)+"&"+tg.query())
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
		"connect to a relative URL":                   "bad_argument",
		"connect with a malformed lobbies entry":      "bad_argument",
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

// btCaseLobbyFailover: a page whose lobby connection goes through a node
// that dies (a proxy, cut and then refusing) redials the other node it was
// given (the lobbies option), hears "disconnected" then "reconnected", and
// its next request is answered there.
func btCaseLobbyFailover(t *testing.T, tg btTarget, assets string) {
	cfg := btSolo()
	cfg.OriginPatterns = []string{"127.0.0.1:*"} // the page's origin is the other node's, not the proxy's
	h := btNewHarness(t, assets, cfg)
	via := cutproxy.New(t, h.url)
	p := tg.open(t, "failover", h.url+"/static/failover.html?via="+via.URL()+"&"+tg.query())
	p.waitJS(`window.__ready || window.__error`, time.Minute)
	if e := p.js(`window.__error`); e != "" {
		t.Fatalf("page: %s", e)
	}
	via.SetRefuse(true) // the node is gone: its connections and its port
	via.Cut()
	var out struct {
		Notices []string `json:"notices"`
		Rooms   []any    `json:"rooms"`
	}
	p.pageResult(time.Minute, &out)
	if !slices.Equal(out.Notices, []string{"disconnected", "reconnected"}) || out.Rooms == nil {
		t.Fatalf("notices %q, rooms %v; want disconnected, reconnected, and an answer", out.Notices, out.Rooms)
	}
	if n := via.Forwarded(); n != 1 {
		t.Fatalf("the proxy took %d connections, want the first only", n)
	}
}
