//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/internal/cutproxy"
	"github.com/tickwire/tickwire/internal/leakcheck"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

// The "players keep playing" harness of the TestHostile tests: an arena is
// a lobby with an in-process game server whose tick loop broadcasts
// snapshots, and real players (lobby Clients with netcode sessions) playing
// on it in one room. A test measures the players' snapshot rate before an
// attack, attacks, measures again while the attack runs, and checks that the
// players kept at least 90% of their rate, their lobby seats and their game
// connections, and that goroutines, descriptors and memory come back once
// the attackers are gone.

const (
	arenaHz       = 50              // snapshots per second to each player
	arenaWindow   = 2 * time.Second // one measurement window
	arenaKeepRate = 0.9             // the share of the rate players must keep
	arenaMode     = "arena"         // the real players' mode: rooms of 2 to 4
	// Attackers dial from other loopback addresses than the players
	// (127.0.0.1), so that per-IP limits tell them apart.
	attackerNet = "127.0.0."
)

type arenaConfig struct {
	Lobby    *Config // Auth is the arena's; an "arena" mode is added
	Capacity int     // of the in-process game server; 64 by default
	Players  int     // real players; 2 by default
	Listener bool    // serve through Server.Listener, as the lobby command does
	// IdleTimeout of the arena's http.Server (30 s by default, as the lobby
	// command's).
	IdleTimeout time.Duration
	// Remote runs the game server as if in another process: it dials the
	// lobby (Lobby.GameServerKey must be hsKey) through a proxy that can
	// cut its connection.
	Remote bool
}

type arena struct {
	t      *testing.T
	srv    *Server
	url    string // http://127.0.0.1:port
	wsURL  string
	guests *Guests
	ns     *netcode.Server
	gs     *GameServer
	proxy  *cutproxy.Proxy // with arenaConfig.Remote

	players []*realPlayer
	base    leakcheck.Resources
	stop    func()
}

// realPlayer is one honest player: its lobby connection, its seat and its
// netcode client.
type realPlayer struct {
	lc *Client
	m  *Match
	nc *netcode.Client
}

// rates is one measurement window: snapshots per second and RTT per player.
type rates struct {
	label string
	snaps []float64
	rtt   []time.Duration
}

func newArena(t *testing.T, ac arenaConfig) *arena {
	t.Helper()
	if ac.Capacity == 0 {
		ac.Capacity = 64
	}
	if ac.Players == 0 {
		ac.Players = 2
	}
	if ac.IdleTimeout == 0 {
		ac.IdleTimeout = 30 * time.Second
	}
	cfg := Config{}
	if ac.Lobby != nil {
		cfg = *ac.Lobby
	}
	modes := map[string]Mode{arenaMode: {MinPlayers: 2, MaxPlayers: 4}}
	for k, v := range cfg.Modes {
		modes[k] = v
	}
	cfg.Modes = modes
	a := &arena{t: t}
	var err error
	a.guests, err = NewGuests(&GuestsConfig{Secret: []byte("arena-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth = a.guests
	a.srv, err = NewServer(&cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewUnstartedServer(a.srv)
	hs.Config.IdleTimeout = ac.IdleTimeout
	hs.Config.ReadHeaderTimeout = 10 * time.Second
	if ac.Listener {
		hs.Listener = a.srv.Listener(hs.Listener)
	}
	hs.Start()
	a.url = hs.URL
	a.wsURL = "ws" + strings.TrimPrefix(a.url, "http")

	a.ns, err = netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("netcode.NewServer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gcfg := &GameServerConfig{Name: "arena", Capacity: ac.Capacity}
	if ac.Remote {
		var via string
		a.proxy, via = newCutProxy(t, a.url)
		gcfg.Key = hsKey
		a.gs, err = DialGameServer(ctx, via, a.ns, gcfg)
	} else {
		a.gs, err = a.srv.AttachGameServer(ctx, a.ns, gcfg)
	}
	if err != nil {
		t.Fatalf("attach the game server: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); acceptAll(ctx, a.gs) }()
	go func() { defer wg.Done(); tickLoop(ctx, a.ns) }()
	a.stop = func() {
		cancel()
		wg.Wait()
	}
	t.Cleanup(func() {
		for _, p := range a.players {
			_ = p.nc.Close()
			_ = p.lc.Close()
		}
		a.stop()
		_ = a.gs.Close()
		_ = a.ns.Close()
		_ = a.srv.Close()
		hs.Close()
	})

	// The players: one creates the room, the others join it by code.
	pctx := ctxTimeout(t, 30*time.Second)
	for i := range ac.Players {
		lc := guest(t, pctx, a.url, fmt.Sprintf("player%d", i))
		var m *Match
		if i == 0 {
			m, err = lc.CreateRoom(pctx, RoomOptions{Mode: arenaMode, Max: 4})
		} else {
			m, err = lc.JoinRoom(pctx, a.players[0].m.Code)
		}
		if err != nil {
			t.Fatalf("player %d: %v", i, err)
		}
		nc, err := lc.Connect(pctx, m, nil)
		if err != nil {
			t.Fatalf("player %d: Connect: %v", i, err)
		}
		a.players = append(a.players, &realPlayer{lc: lc, m: m, nc: nc})
	}
	for i, p := range a.players {
		waitFor(t, 10*time.Second, fmt.Sprintf("player %d's snapshots and RTT", i), func() bool {
			st := p.nc.Stats()
			return st.SnapshotsReceived > 0 && st.RTT > 0
		})
	}
	a.waitClaimed()
	return a
}

// acceptAll takes every player the game server hands over; the tick loop
// reaches them through the netcode server.
func acceptAll(ctx context.Context, gs *GameServer) {
	for {
		if _, err := gs.Accept(ctx); err != nil {
			return
		}
	}
}

// tickLoop broadcasts a snapshot arenaHz times a second. It keeps to its
// schedule as a fixed-step game does, sending late ticks at once, so that a
// slow scheduler shows as late snapshots, not fewer.
func tickLoop(ctx context.Context, ns *netcode.Server) {
	period := time.Second / arenaHz
	next := time.Now()
	var tick uint64
	payload := make([]byte, 64)
	for {
		next = next.Add(period)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		tick++
		copy(payload, fmt.Sprintf("tick %d", tick))
		_ = ns.Broadcast(payload)
	}
}

// waitClaimed waits until the lobby holds every player's seat as claimed.
func (a *arena) waitClaimed() {
	a.t.Helper()
	waitFor(a.t, 10*time.Second, "the players' seats claimed", func() bool {
		ok := true
		a.srv.h.do(func() {
			for _, p := range a.players {
				q := a.srv.h.players[p.lc.Player()]
				ok = ok && q != nil && q.seat != nil && q.seat.claimed
			}
		})
		return ok
	})
}

// measure samples every player's snapshot counter over one window.
func (a *arena) measure(label string) rates {
	a.t.Helper()
	start := make([]uint64, len(a.players))
	t0 := time.Now()
	for i, p := range a.players {
		start[i] = p.nc.Stats().SnapshotsReceived
	}
	time.Sleep(arenaWindow)
	r := rates{label: label}
	el := time.Since(t0).Seconds()
	for i, p := range a.players {
		st := p.nc.Stats()
		r.snaps = append(r.snaps, float64(st.SnapshotsReceived-start[i])/el)
		r.rtt = append(r.rtt, st.RTT)
	}
	for i := range a.players {
		a.t.Logf("%-7s player %d: %5.1f snapshots/s, RTT %v", label, i, r.snaps[i], r.rtt[i].Round(10*time.Microsecond))
	}
	return r
}

// during runs attack while it measures a window, and returns the window
// and what attack returned. attack must end by itself, bounded.
func (a *arena) during(label string, attack func()) rates {
	a.t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); attack() }()
	r := a.measure(label)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		a.t.Fatalf("the attack of %s did not end within a minute", label)
	}
	return r
}

// keptRate checks that every player's rate in got is at least arenaKeepRate
// of its rate in base.
func (a *arena) keptRate(base, got rates) {
	a.t.Helper()
	for i := range base.snaps {
		if got.snaps[i] < arenaKeepRate*base.snaps[i] {
			a.t.Errorf("player %d: %.1f snapshots/s %s, below %.0f%% of %.1f %s", i, got.snaps[i], got.label,
				100*arenaKeepRate, base.snaps[i], base.label)
		}
	}
}

// stillPlaying checks that no player lost its lobby connection, its seat
// or its game connection, or was told it left.
func (a *arena) stillPlaying() {
	a.t.Helper()
	for i, p := range a.players {
		select {
		case <-p.lc.Done():
			a.t.Errorf("player %d: lobby connection ended: %v", i, p.lc.Err())
		default:
		}
	drain:
		for range 64 {
			select {
			case n := <-p.lc.Notices():
				switch n.Type {
				case "left", "disconnected", "error":
					a.t.Errorf("player %d: told %+v", i, n)
				}
			default:
				break drain
			}
		}
		if err := p.nc.Err(); err != nil {
			a.t.Errorf("player %d: game connection closed: %v", i, err)
		}
		if st := p.nc.Stats(); st.Resumes != 0 {
			a.t.Errorf("player %d: game connection resumed %d times", i, st.Resumes)
		}
	}
	held := 0
	a.srv.h.do(func() {
		for _, p := range a.players {
			if q := a.srv.h.players[p.lc.Player()]; q != nil && q.seat != nil && q.seat.room.id == p.m.Room && q.seat.claimed {
				held++
			}
		}
	})
	if held != len(a.players) {
		a.t.Errorf("%d of %d players hold their claimed seat in the lobby", held, len(a.players))
	}
}

// tcpFrom is how many connections ip holds through Server.Listener.
func (a *arena) tcpFrom(ip string) int {
	a.srv.mu.Lock()
	defer a.srv.mu.Unlock()
	return a.srv.tcp[ip]
}

// finish ends a TestHostile test once the attackers are gone: the
// players kept their rate during the attack and still play, the rate after
// is measured and kept too, and resources come back.
func (a *arena) finish(before, during rates) {
	a.t.Helper()
	a.stillPlaying()
	a.keptRate(before, during)
	after := a.measure("after")
	a.keptRate(before, after)
	a.stillPlaying()
	a.settled()
}

// ---- resources

// tolerance is how far resources may stay above the baseline after an
// attack: the players' own sessions keep some churn (pion timers, pings).
var tolerance = leakcheck.Resources{Goroutines: 25, FDs: 10, Heap: 24 << 20}

// baseline records the resources in use before an attack.
func (a *arena) baseline() {
	a.base = leakcheck.Measure()
	a.t.Logf("baseline: %v", a.base)
}

// settled waits, bounded, until goroutines, descriptors and heap are back
// near the baseline.
func (a *arena) settled() {
	a.t.Helper()
	r, ok := leakcheck.WaitBack(a.base, tolerance, 20*time.Second)
	if ok {
		a.t.Logf("after:    %v", r)
		return
	}
	a.t.Errorf("resources did not come back: %v, baseline %v (tolerance %v)", r, a.base, tolerance)
	buf := make([]byte, 1<<20)
	a.t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
}

// ---- attackers

// token mints a guest token for an attacker without going through
// /v1/guest, so that the attacker's budget is spent on the attack.
func (a *arena) token(name string) string {
	a.t.Helper()
	tok, _, err := a.guests.IssueToken(a.guests.NewGuest(name))
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// fromIP is an HTTP client whose connections come from the loopback
// address ip.
func fromIP(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: biWait}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// dialRaw opens a raw WebSocket to path of the lobby at wsURL from the
// loopback address ip ("" for the default), or returns the dial error and
// the HTTP response.
func dialRaw(t testing.TB, wsURL, path, ip string) (*rawPeer, *http.Response, error) {
	t.Helper()
	opts := &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}}
	if ip != "" {
		opts.HTTPClient = fromIP(ip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), biWait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, wsURL+path, opts)
	if err != nil {
		return nil, resp, err
	}
	side := proto.ToPlayer
	if path == "/v1/server" {
		side = proto.ToServer
	}
	return newRawPeer(t, ws, side), resp, nil
}

// newRawPeer starts reading ws into the peer's in, until it closes.
func newRawPeer(t testing.TB, ws *websocket.Conn, side proto.Side) *rawPeer {
	ws.SetReadLimit(1 << 20)
	p := &rawPeer{ws: ws, side: side, in: make(chan []byte, 4096), quit: make(chan struct{}), dead: make(chan struct{})}
	go func() {
		defer close(p.dead)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				p.err = err
				return
			}
			select {
			case p.in <- b:
			case <-p.quit:
				p.err = errors.New("test over")
				return
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

// attacker is a raw player connection from ip that has said hello.
func (a *arena) attacker(ip, id string) *rawPeer {
	a.t.Helper()
	p, resp, err := dialRaw(a.t, a.wsURL, "/v1/play", ip)
	if err != nil {
		a.t.Fatalf("attacker from %s: %v (%v)", ip, err, resp)
	}
	p.send(a.t, helloMsg(id, a.token("attacker")))
	p.player = p.welcome(a.t, id).Player
	return p
}

// candidateMsg is a small trickled candidate signal for p's seat.
func candidateMsg(p *rawPeer, i int) string {
	mid := "0"
	return msgJSON(proto.TypeSignal, &proto.Signal{Room: p.room, Seat: p.seat, Signal: &netcode.Signal{
		Type: netcode.SignalCandidate,
		Candidate: &netcode.ICECandidate{
			Candidate: fmt.Sprintf("candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host", i, 40000+i),
			SDPMid:    &mid,
		},
	}})
}

// all runs f for every peer at once, after a common start, and waits.
func all(peers []*rawPeer, f func(i int, p *rawPeer)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i, p)
		}()
	}
	close(start)
	wg.Wait()
}
