//go:build !js

package netcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsGame is a game server reached over WebSocket signaling: a Server, a
// SignalHandler on an httptest server on loopback, and the sessions its
// accept callback gets.
type wsGame struct {
	srv      *Server
	h        *SignalHandler
	hs       *httptest.Server
	url      string // ws://
	sessions chan *Session

	mu    sync.Mutex
	raw   []net.Conn // the server's side of every hijacked connection
	reqs  []*http.Request
	accts int
	gate  chan struct{} // when set, requests wait for it to close
}

// hold makes new requests wait until the returned func is called.
func (g *wsGame) hold() (release func()) {
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.gate = nil
		g.mu.Unlock()
		close(gate)
	}
}

func newWSGame(t *testing.T, cfg *ServerConfig, hcfg *SignalHandlerConfig) *wsGame {
	t.Helper()
	g := &wsGame{srv: newTestServer(t, cfg), sessions: make(chan *Session, 16)}
	h, err := NewSignalHandler(g.srv, func(s *Session, r *http.Request) {
		g.mu.Lock()
		g.reqs = append(g.reqs, r)
		g.accts++
		g.mu.Unlock()
		g.sessions <- s
	}, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	g.h = h
	g.hs = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		gate := g.gate
		g.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	g.hs.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			g.mu.Lock()
			g.raw = append(g.raw, c)
			g.mu.Unlock()
		}
	}
	g.hs.Start()
	g.url = "ws" + strings.TrimPrefix(g.hs.URL, "http")
	t.Cleanup(func() {
		_ = g.srv.Close()
		_ = g.h.Close()
		g.hs.Close()
		if n := g.h.openConns(); n != 0 {
			t.Errorf("the handler holds %d WebSockets after Close", n)
		}
	})
	return g
}

// openConns counts the WebSockets the handler holds.
func (h *SignalHandler) openConns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// routes counts the sessions a reconnecting client can be routed to.
func (h *SignalHandler) routeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.routes)
}

// attached says whether every session with a route has a WebSocket: its
// client's reconnect was routed, and a signal the server sends reaches it.
func (h *SignalHandler) attached() bool {
	h.mu.Lock()
	sigs := make([]*handlerSignaler, 0, len(h.routes))
	for _, sig := range h.routes {
		sigs = append(sigs, sig)
	}
	h.mu.Unlock()
	for _, sig := range sigs {
		if sig.current() == nil {
			return false
		}
	}
	return len(sigs) > 0
}

// killWebSockets closes the server's side of every signaling connection so
// far, as a network that drops them would.
func (g *wsGame) killWebSockets() {
	g.mu.Lock()
	raw := g.raw
	g.raw = nil
	g.mu.Unlock()
	for _, c := range raw {
		_ = c.Close()
	}
}

// dial connects a client through DialSignaler and returns it with its
// session.
func (g *wsGame) dial(t *testing.T, url string, cfg *ClientConfig) (*Client, *Session) {
	t.Helper()
	ctx := ctxTimeout(t, 20*time.Second)
	sig, err := DialSignaler(ctx, url, nil)
	if err != nil {
		t.Fatalf("DialSignaler: %v", err)
	}
	c, err := Dial(ctx, sig, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	select {
	case s := <-g.sessions:
		return c, s
	case <-ctx.Done():
		t.Fatal("no session for the client")
	}
	return nil, nil
}

// TestWSSignalGame: a whole game over WebSocket signaling, the URL given
// as a player would: snapshots, inputs and events flow both ways, the
// accept callback gets the request, and a client that leaves takes its
// WebSocket and its route with it.
func TestWSSignalGame(t *testing.T) {
	for _, scheme := range []string{"ws", "http"} {
		t.Run(scheme, func(t *testing.T) {
			g := newWSGame(t, nil, nil)
			url := scheme + strings.TrimPrefix(g.url, "ws") + "/play?name=ada"
			c, s := g.dial(t, url, nil)
			ctx := ctxTimeout(t, 10*time.Second)

			g.mu.Lock()
			r := g.reqs[0]
			g.mu.Unlock()
			if r.URL.Query().Get("name") != "ada" {
				t.Errorf("accept got request %v, want the player's", r.URL)
			}
			if err := c.SendEvent([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if ev, err := s.ReadEvent(ctx); err != nil || string(ev) != "hello" {
				t.Fatalf("server ReadEvent = %q, %v", ev, err)
			}
			if err := s.SendEvent([]byte("welcome")); err != nil {
				t.Fatal(err)
			}
			if ev, err := c.ReadEvent(ctx); err != nil || string(ev) != "welcome" {
				t.Fatalf("client ReadEvent = %q, %v", ev, err)
			}
			if err := c.SendInput([]byte("left")); err != nil {
				t.Fatal(err)
			}
			if in, err := s.ReadInput(ctx); err != nil || string(in.Payload) != "left" {
				t.Fatalf("ReadInput = %+v, %v", in, err)
			}
			if err := g.srv.Broadcast([]byte("state")); err != nil {
				t.Fatal(err)
			}
			if snap, err := c.ReadSnapshot(ctx); err != nil || !bytes.Equal(snap.Payload, []byte("state")) {
				t.Fatalf("ReadSnapshot = %+v, %v", snap, err)
			}
			if n := g.h.routeCount(); n != 1 {
				t.Errorf("%d routes for one session", n)
			}

			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.Done():
			case <-ctx.Done():
				t.Fatal("the session did not see the client leave")
			}
			waitFor(t, ctx, func() bool { return g.h.openConns() == 0 && g.h.routeCount() == 0 }, "the WebSocket and its route to go")
		})
	}
}

// rawWS opens a signaling WebSocket without DialSignaler, to send what a
// real client would not.
func rawWS(t *testing.T, ctx context.Context, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{Subprotocols: []string{signalSubprotocol}}
	}
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("websocket.Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	c.SetReadLimit(1 << 20)
	return c
}

// readClose reads until the server closes c, and returns the signals it
// sent before and its close.
func readClose(t *testing.T, ctx context.Context, c *websocket.Conn) ([]Signal, websocket.CloseError) {
	t.Helper()
	var got []Signal
	for {
		_, b, err := c.Read(ctx)
		var ce websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return got, ce
		case err != nil:
			t.Fatalf("the WebSocket ended without a close: %v", err)
		}
		var s Signal
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("the server sent %q: %v", b, err)
		}
		got = append(got, s)
	}
}

// TestWSSignalBadInput: what a client that is not one sends gets the
// WebSocket closed with a status and a reason that say why, costs the
// server no session, and leaves nothing behind.
func TestWSSignalBadInput(t *testing.T) {
	text := func(s string) func(context.Context, *websocket.Conn) {
		return func(ctx context.Context, c *websocket.Conn) { _ = c.Write(ctx, websocket.MessageText, []byte(s)) }
	}
	offer, _ := json.Marshal(Signal{Type: SignalOffer, SDP: fuzzOffer})
	tests := []struct {
		name   string
		opts   *websocket.DialOptions
		send   func(context.Context, *websocket.Conn)
		status websocket.StatusCode
		reason string
		signal string // the type of a signal expected before the close
	}{
		{"not JSON", nil, text("hello"), wsPolicy, "not a JSON object", ""},
		{"JSON array", nil, text(`[1,2]`), wsPolicy, "not a JSON object", ""},
		{"null", nil, text(`null`), wsPolicy, "without a type", ""},
		{"binary", nil, func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageBinary, offer)
		}, wsUnsupported, "JSON text", ""},
		{"huge frame", nil, text(`{"type":"offer","sdp":"` + strings.Repeat("a", maxSignalMessage) + `"}`), wsTooBig, "", ""},
		{"unknown type", nil, text(`{"type":"hello"}`), wsPolicy, `unexpected signal type "hello"`, ""},
		{"answer from a client", nil, text(`{"type":"answer","sdp":"v=0\r\n"}`), wsPolicy, `unexpected signal type "answer"`, ""},
		{"candidate first", nil, text(`{"type":"candidate"}`), wsPolicy, "first signal must be an offer", ""},
		{"offer without sdp", nil, text(`{"type":"offer"}`), wsPolicy, "offer without sdp", ""},
		{"offer not SDP", nil, text(`{"type":"offer","sdp":"hello"}`), wsPolicy, "signaling failed", ""},
		{"long token", nil, text(`{"type":"reconnect","resume":"` + strings.Repeat("a", 65) + `"}`), wsPolicy, "resume token of 65 bytes", ""},
		{"reconnect, no token", nil, text(`{"type":"reconnect"}`), wsPolicy, "without a resume token", ""},
		{"reconnect, unknown token", nil, text(`{"type":"reconnect","resume":"q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"}`), wsUnknownSession, "no session", ""},
		{"resume, unknown token", nil, text(`{"type":"offer","sdp":"v=0\r\n","gen":1,"resume":"q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"}`),
			wsNormal, "resume refused", SignalRefused},
		{"reconnect after an offer", nil, func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageText, offer)
			_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"reconnect","resume":"x"}`))
		}, wsPolicy, "reconnect after the first signal", ""},
		{"flood", nil, func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageText, offer)
			for range 300 {
				if c.Write(ctx, websocket.MessageText, []byte(`{"type":"candidate"}`)) != nil {
					return
				}
			}
		}, wsPolicy, "SignalRate", SignalAnswer},
		{"silence", nil, func(context.Context, *websocket.Conn) {}, wsPolicy, "no signal within", ""},
		{"no subprotocol", &websocket.DialOptions{}, text(string(offer)), wsPolicy, "subprotocol " + signalSubprotocol + " required", ""},
	}
	g := newWSGame(t, nil, &SignalHandlerConfig{HandshakeTimeout: 2 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t, 20*time.Second)
			c := rawWS(t, ctx, g.url, tt.opts)
			tt.send(ctx, c)
			got, ce := readClose(t, ctx, c)
			t.Logf("closed with %d %q after %d signals", ce.Code, ce.Reason, len(got))
			if ce.Code != tt.status || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("closed with %d %q, want %d saying %q", ce.Code, ce.Reason, tt.status, tt.reason)
			}
			if tt.signal != "" && (len(got) == 0 || got[0].Type != tt.signal) {
				t.Errorf("signals before the close: %+v, want a %q first", got, tt.signal)
			}
			waitFor(t, ctx, func() bool { return g.h.openConns() == 0 }, "the handler to let the WebSocket go")
			if n := len(g.srv.Sessions()); n != 0 {
				t.Errorf("%d sessions on the server", n)
			}
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.accts != 0 {
		t.Errorf("accept called %d times", g.accts)
	}
}

// TestWSSignalLimits: handshakes past MaxHandshakes are refused before the
// upgrade, and origins are checked as OriginPatterns says.
func TestWSSignalLimits(t *testing.T) {
	t.Run("handshakes", func(t *testing.T) {
		g := newWSGame(t, nil, &SignalHandlerConfig{MaxHandshakes: 1})
		ctx := ctxTimeout(t, 20*time.Second)
		held := rawWS(t, ctx, g.url, nil) // says nothing: holds the one slot
		_, err := DialSignaler(ctx, g.url, nil)
		if !errors.Is(err, ErrSignaling) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("DialSignaler with the slot taken: %v, want ErrSignaling with a 503", err)
		}
		_ = held.CloseNow()
		waitFor(t, ctx, func() bool { return len(g.h.slots) == 0 }, "the slot to free")
		c, s := g.dial(t, g.url, nil)
		_ = c.Close()
		<-s.Done()
	})
	t.Run("origins", func(t *testing.T) {
		tests := []struct {
			patterns []string
			origin   string
			ok       bool
		}{
			{nil, "", true}, // a native client
			{nil, "http://evil.example", false},
			{[]string{"game.example"}, "https://game.example", true},
			{[]string{"game.example"}, "https://evil.example", false},
			{[]string{"*.example"}, "https://play.example", true},
			{[]string{"*"}, "https://anything.example", true},
			{[]string{"*"}, "null", true},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%v %s", tt.patterns, tt.origin), func(t *testing.T) {
				g := newWSGame(t, nil, &SignalHandlerConfig{OriginPatterns: tt.patterns})
				ctx := ctxTimeout(t, 10*time.Second)
				opts := &websocket.DialOptions{Subprotocols: []string{signalSubprotocol}, HTTPHeader: http.Header{}}
				if tt.origin != "" {
					opts.HTTPHeader.Set("Origin", tt.origin)
				}
				c, resp, err := websocket.Dial(ctx, g.url, opts)
				if err == nil {
					_ = c.CloseNow()
				}
				if ok := err == nil; ok != tt.ok {
					t.Fatalf("dial from origin %q: %v (response %v), want allowed %v", tt.origin, err, resp, tt.ok)
				}
				if !tt.ok && resp.StatusCode != http.StatusForbidden {
					t.Errorf("refused with %d, want 403", resp.StatusCode)
				}
			})
		}
	})
	t.Run("config", func(t *testing.T) {
		srv := newTestServer(t, nil)
		for _, cfg := range []SignalHandlerConfig{{HandshakeTimeout: -1}, {MaxHandshakes: -1}, {PingInterval: -1}} {
			if _, err := NewSignalHandler(srv, nil, &cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewSignalHandler(%+v): %v, want ErrInvalidConfig", cfg, err)
			}
		}
		if _, err := NewSignalHandler(nil, nil, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewSignalHandler(nil server): %v, want ErrInvalidConfig", err)
		}
	})
}

// TestDialSignalerErrors: a URL that is not a signaling one, and a dial
// whose ctx ends before the server answers, are errors that wrap
// ErrSignaling and say why (wsconn_js.go gives the same).
func TestDialSignalerErrors(t *testing.T) {
	ctx := ctxTimeout(t, 10*time.Second)
	for _, url := range []string{"ftp://nowhere", "nowhere", "ws://", ""} {
		if _, err := DialSignaler(ctx, url, nil); !errors.Is(err, ErrSignaling) {
			t.Errorf("DialSignaler(%q): %v, want ErrSignaling", url, err)
		}
	}
	// A server that takes the connection and never answers the upgrade.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c) // until the client goes
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = DialSignaler(dctx, "ws://"+ln.Addr().String(), nil)
	if !errors.Is(err, ErrSignaling) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DialSignaler past its ctx: %v, want ErrSignaling and context.DeadlineExceeded", err)
	}
}

// TestWSSignalCloseUnblocks: closing either end ends the calls waiting on
// it at once, and the handler's Close ends a handshake under way, saying
// why.
func TestWSSignalCloseUnblocks(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		g := newWSGame(t, nil, nil)
		ctx := ctxTimeout(t, 10*time.Second)
		sig, err := DialSignaler(ctx, g.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan error, 1)
		go func() {
			_, err := sig.ReadSignal(ctx)
			read <- err
		}()
		time.Sleep(50 * time.Millisecond) // let the read block; it ends either way
		_ = sig.Close()
		select {
		case err := <-read:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("ReadSignal after Close: %v, want ErrClosed", err)
			}
		case <-ctx.Done():
			t.Fatal("Close did not end ReadSignal")
		}
		if err := sig.WriteSignal(ctx, Signal{Type: SignalCandidate}); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteSignal after Close: %v, want ErrClosed", err)
		}
		_ = sig.Close()
		waitFor(t, ctx, func() bool { return g.h.openConns() == 0 }, "the handler to see the WebSocket go")
	})
	t.Run("handler", func(t *testing.T) {
		g := newWSGame(t, nil, nil)
		ctx := ctxTimeout(t, 10*time.Second)
		c := rawWS(t, ctx, g.url, nil)
		offer, _ := json.Marshal(Signal{Type: SignalOffer, SDP: fuzzOffer})
		_ = c.Write(ctx, websocket.MessageText, offer)
		// The server answers, and waits for channels that never open.
		if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"answer"`) {
			t.Fatalf("first signal: %s, %v; want the answer", b, err)
		}
		closed := make(chan struct{})
		go func() {
			_ = g.h.Close()
			close(closed)
		}()
		_, ce := readClose(t, ctx, c)
		if ce.Code != wsGoingAway {
			t.Errorf("closed with %d %q, want %d", ce.Code, ce.Reason, wsGoingAway)
		}
		select {
		case <-closed:
		case <-ctx.Done():
			t.Fatal("the handler's Close did not return")
		}
		if _, err := DialSignaler(ctx, g.url, nil); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("DialSignaler after Close: %v, want a 503", err)
		}
	})
}

// wsProxy relays TCP between clients and a server, and can freeze what it
// relays: a connection that stays open and carries nothing, as one does
// when the network under it changed.
type wsProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	pairs  []*proxyPair
	wg     sync.WaitGroup
	closed bool
}

type proxyPair struct {
	a, b   net.Conn
	frozen chan struct{} // closed to freeze
	once   sync.Once
}

func newWSProxy(t *testing.T, target string) *wsProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wsProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *wsProxy) url() string { return "ws://" + p.ln.Addr().String() }

func (p *wsProxy) serve() {
	defer p.wg.Done()
	for {
		a, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp4", p.target)
		if err != nil {
			_ = a.Close()
			continue
		}
		pair := &proxyPair{a: a, b: b, frozen: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = a.Close()
			_ = b.Close()
			return
		}
		p.pairs = append(p.pairs, pair)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.relay(pair, a, b)
		go p.relay(pair, b, a)
	}
}

// relay copies from src to dst until either closes; frozen, it holds what
// it read.
func (p *wsProxy) relay(pair *proxyPair, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pair.frozen:
			_, _ = io.Copy(io.Discard, src) // until the pair closes
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			_ = src.Close()
			_ = dst.Close()
			return
		}
	}
}

// freeze stops every connection so far from carrying anything, without
// closing it.
func (p *wsProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pair := range p.pairs {
		pair.once.Do(func() { close(pair.frozen) })
	}
}

func (p *wsProxy) close() {
	p.mu.Lock()
	p.closed = true
	pairs := p.pairs
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, pair := range pairs {
		_ = pair.a.Close()
		_ = pair.b.Close()
	}
	p.wg.Wait()
}

// TestWSSignalResume: the client's PeerConnection fails and it resumes its
// session on a new one, its WebSocket working, broken, or silently dead
// (a network change): the resume goes on a new WebSocket that the handler
// routes to the session by its token. Events sent before and during the
// outage arrive exactly once, in order, both ways.
func TestWSSignalResume(t *testing.T) {
	tests := []struct {
		name    string
		breakWS func(g *wsGame, p *wsProxy)
	}{
		{"websocket working", func(*wsGame, *wsProxy) {}},
		{"websocket closed", func(g *wsGame, _ *wsProxy) { g.killWebSockets() }},
		{"websocket silently dead", func(_ *wsGame, p *wsProxy) { p.freeze() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newWSGame(t, nil, nil)
			p := newWSProxy(t, g.hs.Listener.Addr().String())
			c, s := g.dial(t, p.url(), nil)
			ctx := ctxTimeout(t, 30*time.Second)
			for i := range 3 {
				_ = c.SendEvent(numbered(i+1, 10))
				_ = s.SendEvent(numbered(i+1, 10))
			}
			tt.breakWS(g, p)
			_ = c.p.link.Load().rc.close() // the PeerConnection fails: resume at once
			for i := 3; i < 6; i++ {
				_ = c.SendEvent(numbered(i+1, 10))
				_ = s.SendEvent(numbered(i+1, 10))
			}
			waitState(t, ctx, c.StateChanges(), StateResuming)
			waitState(t, ctx, c.StateChanges(), StateConnected)
			for i := 6; i < 9; i++ {
				_ = c.SendEvent(numbered(i+1, 10))
				_ = s.SendEvent(numbered(i+1, 10))
			}
			if err := checkEvents(ctx, s.ReadEvent, 9); err != nil {
				t.Errorf("server: %v", err)
			}
			if err := checkEvents(ctx, c.ReadEvent, 9); err != nil {
				t.Errorf("client: %v", err)
			}
			if r := c.Stats().Resumes; r != 1 {
				t.Errorf("client resumes = %d, want 1", r)
			}
			if s.Err() != nil || len(g.srv.Sessions()) != 1 {
				t.Errorf("session %v, %d sessions; want the one, open", s.Err(), len(g.srv.Sessions()))
			}
			select {
			case s2 := <-g.sessions:
				t.Errorf("a resume made a new session %s", s2.ID())
			default:
			}
			// The session's signaling is its new WebSocket: an ICE restart
			// the server asks for reaches the client over it.
			restarts := c.Stats().Restarts
			if err := s.RestartICE(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, func() bool { return c.Stats().Restarts > restarts }, "the restart the server asked for")
			waitFor(t, ctx, func() bool { return g.h.openConns() == 1 }, "the handler to hold one WebSocket")
		})
	}
}

// TestWSSignalReconnect: the WebSocket breaks while the session is fine;
// the client takes the session's signaling over on a new one on its own
// (a reconnect message), so that the server can still reach it, and a
// later WebSocket that breaks is replaced again.
func TestWSSignalReconnect(t *testing.T) {
	g := newWSGame(t, nil, nil)
	c, s := g.dial(t, g.url, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	for round := range 2 {
		g.killWebSockets()
		waitFor(t, ctx, func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.raw) == 1 && g.h.openConns() == 1 && g.h.attached()
		}, "the client to reconnect")
		restarts := c.Stats().Restarts
		if err := s.RestartICE(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, func() bool { return c.Stats().Restarts > restarts }, fmt.Sprintf("round %d: the restart the server asked for", round))
		waitState(t, ctx, c.StateChanges(), StateConnected)
	}
	if s.Err() != nil || c.Err() != nil {
		t.Fatalf("session %v, client %v", s.Err(), c.Err())
	}
}

// TestWSSignalRestartWhileAway: the server asks for an ICE restart while
// its client's WebSocket is down; the request waits for the WebSocket the
// client comes back on, and the client restarts.
func TestWSSignalRestartWhileAway(t *testing.T) {
	g := newWSGame(t, nil, nil)
	c, s := g.dial(t, g.url, nil)
	ctx := ctxTimeout(t, 30*time.Second)
	release := g.hold()
	g.killWebSockets()
	waitFor(t, ctx, func() bool { return g.h.openConns() == 0 }, "the handler to see the WebSocket go")
	restarts := c.Stats().Restarts
	if err := s.RestartICE(); err != nil {
		t.Fatalf("RestartICE while the client is away: %v", err)
	}
	release()
	waitFor(t, ctx, func() bool { return c.Stats().Restarts > restarts }, "the client to make the restart asked for while it was away")
	waitState(t, ctx, c.StateChanges(), StateReconnecting)
	waitState(t, ctx, c.StateChanges(), StateConnected)
	if s.Err() != nil || c.Err() != nil {
		t.Fatalf("session %v, client %v", s.Err(), c.Err())
	}
}

// TestWSSignalPing: an idle WebSocket is kept by pings, and one whose
// client does not answer them is dropped long before the handshake would
// time out.
func TestWSSignalPing(t *testing.T) {
	// A pong is due within one interval: a second is far more than a
	// loopback round trip even on a loaded 2-core CI machine, where 300 ms
	// was once missed.
	const interval = time.Second
	g := newWSGame(t, nil, &SignalHandlerConfig{PingInterval: interval, HandshakeTimeout: time.Minute})
	c, s := g.dial(t, g.url, nil)
	ctx := ctxTimeout(t, 20*time.Second)

	hijacked := func() int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.raw)
	}
	// A client that sends its offer and then never reads answers no ping.
	// net/http sends the 101 before its hijack hook runs, so the dial can
	// return before the server has counted the WebSocket: wait for that
	// first, or the deaf one would be counted during the sleep below.
	one := hijacked()
	deaf := rawWS(t, ctx, g.url, nil)
	offer, _ := json.Marshal(Signal{Type: SignalOffer, SDP: fuzzOffer})
	_ = deaf.Write(ctx, websocket.MessageText, offer)
	waitFor(t, ctx, func() bool { return hijacked() == one+1 }, "the server to take the deaf client's WebSocket")
	waitFor(t, ctx, func() bool { return g.h.openConns() == 1 }, "the deaf client's WebSocket to be dropped")

	before := hijacked()
	time.Sleep(4 * interval) // four pings, each answered within an interval
	if n, after := g.h.openConns(), hijacked(); n != 1 || after != before {
		t.Errorf("the idle client's WebSocket was replaced: %d new connections, %d WebSockets held", after-before, n)
	}
	if s.Err() != nil || c.Err() != nil {
		t.Fatalf("session %v, client %v", s.Err(), c.Err())
	}
}

// TestSignalingDocExamples pins SIGNALING.md's example messages to what
// the code sends and accepts.
func TestSignalingDocExamples(t *testing.T) {
	doc, err := os.ReadFile("SIGNALING.md")
	if err != nil {
		t.Fatal(err)
	}
	mid, idx := "0", uint16(0)
	tok := "q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"
	next := "Nx4Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz012345_-"
	tests := []struct {
		s          Signal
		want       string
		fromClient bool
	}{
		{Signal{Type: SignalOffer, SDP: "v=0\r\no=- 2711506437641131305 1796430931 IN IP4 0.0.0.0\r\n"},
			`{"type":"offer","sdp":"v=0\r\no=- 2711506437641131305 1796430931 IN IP4 0.0.0.0\r\n"}`, true},
		{Signal{Type: SignalAnswer, SDP: "v=0\r\n", Resume: tok},
			`{"type":"answer","sdp":"v=0\r\n","resume":"` + tok + `"}`, false},
		{Signal{Type: SignalCandidate, Candidate: &ICECandidate{Candidate: "candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}},
			`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}`, true},
		{Signal{Type: SignalCandidate}, `{"type":"candidate"}`, false},
		{Signal{Type: signalReconnect, Resume: tok}, `{"type":"reconnect","resume":"` + tok + `"}`, true},
		{Signal{Type: SignalOffer, SDP: "v=0\r\n", Gen: 1, Resume: tok},
			`{"type":"offer","sdp":"v=0\r\n","gen":1,"resume":"` + tok + `"}`, true},
		{Signal{Type: SignalAnswer, SDP: "v=0\r\n", Gen: 1, Resume: next},
			`{"type":"answer","sdp":"v=0\r\n","gen":1,"resume":"` + next + `"}`, false},
		{Signal{Type: SignalRefused, Gen: 2, Error: "resume token already used"},
			`{"type":"refused","gen":2,"error":"resume token already used"}`, false},
		{Signal{Type: SignalRestart, Gen: 1}, `{"type":"restart","gen":1}`, false},
	}
	// Every line of the document's JSON examples, in order, is one of
	// these: none is left unchecked.
	var shown []string
	for _, block := range strings.Split(string(doc), "```json\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		shown = append(shown, strings.Split(strings.TrimRight(body, "\n"), "\n")...)
	}
	if len(shown) != len(tests) {
		t.Errorf("SIGNALING.md shows %d example messages, the test checks %d", len(shown), len(tests))
	}
	for i, tt := range tests {
		b, err := json.Marshal(tt.s)
		if err != nil || string(b) != tt.want {
			t.Errorf("%+v encodes as %s, %v; want %s", tt.s, b, err, tt.want)
		}
		if i >= len(shown) || shown[i] != tt.want {
			t.Errorf("SIGNALING.md example %d is not %s", i+1, tt.want)
		}
		got, err := decodeSignal([]byte(tt.want), tt.fromClient)
		if err != nil || !reflect.DeepEqual(got, tt.s) {
			t.Errorf("%s decodes as %+v, %v", tt.want, got, err)
		}
	}
	if !bytes.Contains(doc, []byte("`"+signalSubprotocol+"`")) {
		t.Errorf("SIGNALING.md does not name the subprotocol %s", signalSubprotocol)
	}
	for _, code := range []int{wsNormal, wsGoingAway, wsUnsupported, wsPolicy, wsTooBig, wsInternal, wsReplaced, wsUnknownSession} {
		if !bytes.Contains(doc, []byte(fmt.Sprintf("| %d |", code))) {
			t.Errorf("SIGNALING.md does not list close status %d", code)
		}
	}
}

// FuzzSignalMessage: decodeSignal takes any bytes without a panic, and
// what it accepts from a client is of a type the handler routes, encodes
// back to what decodes the same.
func FuzzSignalMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","sdp":"v=0\r\n"}`, `{"type":"candidate"}`, `{"type":"reconnect","resume":"x"}`,
		`{"type":"answer","sdp":"v=0\r\n","resume":"y"}`, `{"type":"restart","gen":1}`, `null`, `[]`, `{"type":1}`,
		`{"type":"offer","sdp":""}`, `{"type":"reconnect"}`, "{\"type\":\"\xff\"}", `{"type":"candidate","candidate":{"sdpMLineIndex":70000}}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, fromClient bool) {
		s, err := decodeSignal(b, fromClient)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if s.Type == "" || len(s.Resume) > maxResumeTokenLen {
			t.Fatalf("accepted %+v", s)
		}
		if fromClient && s.Type != SignalOffer && s.Type != SignalCandidate && s.Type != signalReconnect {
			t.Fatalf("accepted type %q from a client", s.Type)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeSignal(out, fromClient)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%s decodes as %+v, %v; want %+v", out, again, err, s)
		}
	})
}
