//go:build !js

package lobby

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/cutproxy"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

// newCutProxy is a proxy in front of the lobby at lobbyURL that the test
// can cut, and the proxy's URL.
func newCutProxy(t *testing.T, lobbyURL string) (*cutproxy.Proxy, string) {
	p := cutproxy.New(t, lobbyURL)
	return p, p.URL()
}

// TestLobbyReconnect: a dropped lobby connection is redialed with the
// token from the last welcome; the seat is still held and the lobby reminds
// the player of it without a second match; a queued player learns it was
// taken out of the queue.
func TestLobbyReconnect(t *testing.T) {
	srv, direct := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	attach(t, srv, 8)
	proxy, url := newCutProxy(t, direct)
	ctx := ctxTimeout(t, 30*time.Second)

	tok, err := GuestToken(ctx, direct, "a")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Dial(ctx, url, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "duel"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := a.NextToken()

	proxy.Cut()
	if n := nextNotice(t, a, "disconnected"); n.Reason == "" {
		t.Fatal("disconnected without a reason")
	}
	nextNotice(t, a, "reconnected")
	if n := nextNotice(t, a, "match"); n.Room != m.Room {
		t.Fatalf("reminder for room %q, want %q", n.Room, m.Room)
	}
	if after, _ := a.NextToken(); after == before || after == "" {
		t.Fatal("the token was not rotated")
	}
	if _, err := a.Rooms(ctx, ""); err != nil {
		t.Fatalf("request after reconnecting: %v", err)
	}
	select {
	case extra := <-a.matches:
		t.Fatalf("the reminder came out of WaitMatch as a new match: %+v", extra)
	default:
	}
	if st := srv.Stats(); st.Seats != 1 || st.Connected != 1 {
		t.Fatalf("after reconnecting: %+v", st)
	}

	// Queued, then cut: the lobby dequeues, and the client says so.
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	nextNotice(t, a, "reconnected")
	if n := nextNotice(t, a, "left"); n.Reason != "disconnected" {
		t.Fatalf("left notice %+v", n)
	}
	if _, err := a.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatalf("queue again: %v", err)
	}
}

// TestLobbyReconnectGivesUp: with the lobby unreachable, the client stops
// after its attempts and reports why.
func TestLobbyReconnectGivesUp(t *testing.T) {
	_, direct := testLobby(t, nil)
	proxy, url := newCutProxy(t, direct)
	ctx := ctxTimeout(t, 30*time.Second)
	tok, err := GuestToken(ctx, direct, "a")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Dial(ctx, url, tok, &ClientConfig{ReconnectAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	proxy.SetRefuse(true)
	proxy.Cut()
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("still trying after its attempts")
	}
	if !errors.Is(a.Err(), ErrClosed) {
		t.Fatalf("Err %v", a.Err())
	}
	if _, err := a.Rooms(context.Background(), ""); err == nil {
		t.Fatal("a request succeeded after giving up")
	}
}

// TestGameSurvivesLobbyCut: a game connected through the lobby outlives a
// cut of the lobby connection. The lobby client has the netcode client
// check its path when the connection drops and when it is back; the path
// (loopback) is fine, so the same session carries events both ways after
// the redial, and the seat stays held.
func TestGameSurvivesLobbyCut(t *testing.T) {
	srv, direct := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	gs := attach(t, srv, 8)
	proxy, url := newCutProxy(t, direct)
	ctx := ctxTimeout(t, 30*time.Second)

	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "duel"})
	if err != nil {
		t.Fatal(err)
	}
	checks := &reasonLog{}
	nc, err := a.Connect(ctx, m, &netcode.ClientConfig{Config: netcode.Config{Logger: slog.New(checks)}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	p, err := gs.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer p.Session.Close("test over")
	eventRoundTrip(t, ctx, nc, p.Session, "before the cut")

	proxy.Cut()
	nextNotice(t, a, "disconnected")
	nextNotice(t, a, "reconnected")
	// CheckPath is only seen through what netcode logs of it: the reason.
	waitFor(t, 5*time.Second, "both path checks to reach the netcode client", func() bool {
		return checks.saw("lobby connection dropped") && checks.saw("lobby connection back")
	})

	eventRoundTrip(t, ctx, nc, p.Session, "after the redial")
	waitFor(t, 5*time.Second, "the netcode client to be connected", func() bool { return nc.State() == netcode.StateConnected })
	if err := nc.Err(); err != nil {
		t.Fatalf("netcode client closed: %v", err)
	}
	select {
	case <-p.Session.Done():
		t.Fatalf("the game server's session ended: %v", p.Session.Err())
	default:
	}
	if st := srv.Stats(); st.Seats != 1 || st.Connected != 1 {
		t.Fatalf("after the redial: %+v, want the one seat and connection", st)
	}
}

// eventRoundTrip sends an event from the client to the session and one
// back, each within 5 s.
func eventRoundTrip(t *testing.T, ctx context.Context, nc *netcode.Client, sess *netcode.Session, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := nc.SendEvent([]byte("ping " + when)); err != nil {
		t.Fatalf("client SendEvent %s: %v", when, err)
	}
	if ev, err := sess.ReadEvent(ctx); err != nil || string(ev) != "ping "+when {
		t.Fatalf("session ReadEvent %s: %q, %v", when, ev, err)
	}
	if err := sess.SendEvent([]byte("pong " + when)); err != nil {
		t.Fatalf("session SendEvent %s: %v", when, err)
	}
	if ev, err := nc.ReadEvent(ctx); err != nil || string(ev) != "pong "+when {
		t.Fatalf("client ReadEvent %s: %q, %v", when, ev, err)
	}
}

// reasonLog is a slog.Handler that keeps the "reason" of every record, at
// every level: netcode logs the reason it is given by CheckPath.
type reasonLog struct {
	mu      sync.Mutex
	reasons []string
}

func (h *reasonLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *reasonLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			h.mu.Lock()
			h.reasons = append(h.reasons, a.Value.String())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *reasonLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *reasonLog) WithGroup(string) slog.Handler      { return h }

func (h *reasonLog) saw(reason string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.reasons {
		if r == reason {
			return true
		}
	}
	return false
}

// TestAnswerRacesDrop: an answer that arrives just before the connection
// drops, or a second answer to the same request, must not block the client.
// The drop used to send "connection lost" to every pending request under
// the client's lock, blocking on a reply buffer the answer had already
// filled while the requester waited for that lock to clean up.
func TestAnswerRacesDrop(t *testing.T) {
	c := &Client{
		log:      slog.New(slog.DiscardHandler),
		pending:  map[string]chan any{},
		sigs:     map[string]*clientSignaler{},
		notices:  make(chan Notice, 64),
		done:     make(chan struct{}),
		attempts: 0, // reconnect fails pending requests, then dials no more
	}
	reply := make(chan any, 1)
	c.pending["7"] = reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.dispatch(&proto.Envelope{ID: "7"}) // the answer
		c.dispatch(&proto.Envelope{ID: "7"}) // a second one, from a confused lobby
		c.reconnect(context.Background(), errors.New("cut"))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the client blocked on an answered request")
	}
	if r, ok := (<-reply).(*proto.Envelope); !ok || r.ID != "7" {
		t.Fatalf("the request got %v, want its answer", r)
	}
	if len(c.pending) != 0 {
		t.Fatalf("pending after the drop: %v", c.pending)
	}
}
