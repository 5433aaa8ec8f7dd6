//go:build !js

package lobby

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"golang.org/x/time/rate"
)

// Server is a lobby: an http.Handler that players and game servers connect
// to (PROTOCOL.md). It owns no listener; mount it on any http.Server:
//
//	/healthz     GET: 200 while the lobby runs
//	/v1/guest    POST: a guest token, when the Authenticator can issue them
//	/v1/play     WebSocket for players
//	/v1/server   WebSocket for game servers in other processes
type Server struct {
	cfg *Config
	h   *hub
	mux *http.ServeMux

	mu      sync.Mutex
	closed  bool
	ipConns map[string]int
	ipLims  *lru.Cache[string, *rate.Limiter]
	wg      sync.WaitGroup // connection goroutines
	stop    sync.Once
}

// NewServer returns a running lobby; nil cfg means defaults.
func NewServer(cfg *Config) (*Server, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	h, err := newHub(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	lims, err := lru.New[string, *rate.Limiter](1 << 16)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c, h: h, mux: http.NewServeMux(), ipConns: map[string]int{}, ipLims: lims}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("POST /v1/guest", s.guest)
	s.mux.HandleFunc("OPTIONS /v1/guest", s.guestPreflight)
	s.mux.HandleFunc("GET /v1/play", func(w http.ResponseWriter, r *http.Request) { s.accept(w, r, proto.FromPlayer) })
	s.mux.HandleFunc("GET /v1/server", func(w http.ResponseWriter, r *http.Request) { s.accept(w, r, proto.FromServer) })
	go h.run()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-s.h.done:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"stopped"}`+"\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	}
}

// GuestTokenResponse is the body of a POST /v1/guest answer.
type GuestTokenResponse struct {
	Token   string `json:"token"`
	Player  string `json:"player"`
	Name    string `json:"name"`
	Expires int64  `json:"expires"` // unix seconds
}

// cors lets a page from another origin read the answer when OriginPatterns
// allow that origin, the same rule as for the player WebSocket; false means
// the origin is refused.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range s.cfg.OriginPatterns {
		// The same matching as coder/websocket's for the WebSocket
		// endpoints: the host, or scheme://host for patterns that name a
		// scheme.
		ok := p == "*"
		if !ok && err == nil {
			target := u.Host
			if strings.Contains(p, "://") {
				target = u.Scheme + "://" + u.Host
			}
			ok, _ = path.Match(strings.ToLower(p), strings.ToLower(target))
		}
		if ok {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
			return true
		}
	}
	return false
}

func (s *Server) guestPreflight(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	w.Header().Set("Access-Control-Allow-Methods", "POST")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) guest(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	iss, ok := s.cfg.Auth.(TokenIssuer)
	if !ok {
		http.Error(w, "guest tokens are not enabled", http.StatusNotFound)
		return
	}
	if !s.ipLimiter(remoteIP(r)).Allow() {
		http.Error(w, "rate limited", http.StatusTooManyRequests)
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	body := http.MaxBytesReader(w, r.Body, 4<<10)
	if err := json.NewDecoder(body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, "body must be empty or {\"name\": \"...\"}", http.StatusBadRequest)
		return
	}
	id := iss.NewGuest(req.Name)
	tok, exp, err := iss.IssueToken(id)
	if err != nil {
		http.Error(w, "cannot issue token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(GuestTokenResponse{Token: tok, Player: id.Player, Name: id.Name, Expires: exp.Unix()})
}

// remoteIP is the client's address as the connection shows it. Behind a
// reverse proxy that is the proxy's: wrap the handler to rewrite
// r.RemoteAddr from a header you trust if you need per-client limits there.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) ipLimiter(ip string) *rate.Limiter {
	lim, ok := s.ipLims.Get(ip)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(s.cfg.IPMessageRate), s.cfg.IPMessageBurst)
		// PeekOrAdd keeps one limiter per IP when two connections race.
		if prev, found, _ := s.ipLims.PeekOrAdd(ip, lim); found {
			lim = prev
		}
	}
	return lim
}

// admit counts a connection against the shutdown and, when it comes from
// the network, against MaxConnsPerIP for its ip; release undoes it. Game
// servers attached in-process have no ip.
func (s *Server) admit(ip string, fromNetwork bool) (ok bool, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return false, http.StatusServiceUnavailable
	case fromNetwork && s.ipConns[ip] >= s.cfg.MaxConnsPerIP:
		return false, http.StatusTooManyRequests
	}
	if fromNetwork {
		s.ipConns[ip]++
	}
	s.wg.Add(1)
	return true, 0
}

func (s *Server) release(ip string, fromNetwork bool) {
	s.mu.Lock()
	if fromNetwork {
		if s.ipConns[ip]--; s.ipConns[ip] <= 0 {
			delete(s.ipConns, ip)
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request, side proto.Side) {
	ip := remoteIP(r)
	if ok, status := s.admit(ip, true); !ok {
		http.Error(w, http.StatusText(status), status)
		return
	}
	defer s.release(ip, true)
	opts := &websocket.AcceptOptions{Subprotocols: []string{proto.Subprotocol}, OriginPatterns: s.cfg.OriginPatterns}
	if side == proto.FromPlayer && len(s.cfg.OriginPatterns) == 1 && s.cfg.OriginPatterns[0] == "*" {
		opts = &websocket.AcceptOptions{Subprotocols: opts.Subprotocols, InsecureSkipVerify: true}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		s.cfg.Logger.Debug("lobby: websocket refused", "ip", ip, "err", err)
		return // Accept has answered with the HTTP error
	}
	if ws.Subprotocol() != proto.Subprotocol {
		_ = ws.Close(proto.CloseVersion, "subprotocol "+proto.Subprotocol+" required")
		return
	}
	ws.SetReadLimit(s.cfg.MaxMessageSize)
	c := newConn(wsTransport{ws}, ip, s.cfg.SendQueue)
	if side == proto.FromPlayer {
		c.lim = rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)
		c.ipLim = s.ipLimiter(ip)
	}
	s.serve(r.Context(), c, side, false)
}

// serveTrusted serves an in-process game server, whose register needs no key.
func (s *Server) serveTrusted(c *conn) {
	s.serve(context.Background(), c, proto.FromServer, true)
}

// serve is a connection's reader: it authenticates the first message,
// then decodes and rate-limits every message and posts it to the hub. It
// returns when the connection ends, after its writer has finished.
func (s *Server) serve(ctx context.Context, c *conn, side proto.Side, trusted bool) {
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); c.writeLoop() }()
	// Everything that ends a connection goes through c.close, so that the
	// writer sends what is queued (the error that explains it) and then the
	// close code. Cancelling a read instead would drop the TCP connection on
	// the spot: coder/websocket closes on a cancelled read context.
	stop := context.AfterFunc(s.h.ctx, func() { c.close(proto.CloseGoingAway, "lobby shutting down") })
	defer func() {
		stop()
		c.close(proto.CloseNormal, "")
		<-writerDone
	}()

	if !s.hello(ctx, c, side, trusted) {
		return
	}
	defer s.h.post(event{c: c, gone: true})
	for {
		b, err := c.t.Read(ctx)
		if err != nil {
			s.readFailed(c, err)
			return
		}
		msg, ok := s.decode(c, side, b)
		if c.closed() {
			return
		}
		if !ok {
			continue
		}
		if !s.h.post(event{c: c, msg: msg}) {
			return
		}
	}
}

// readFailed closes c with the code its read error calls for.
func (s *Server) readFailed(c *conn, err error) {
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.close(proto.CloseTooBig, "message too big")
	case errors.Is(err, ErrProtocol):
		c.sendError("", proto.CodeMalformed, err.Error())
		c.close(proto.CloseProtocol, "binary message")
	default:
		c.close(proto.CloseNormal, "")
	}
}

// decode applies the limits and decoding rules of PROTOCOL.md to one
// message; false means there is nothing to pass on (an error was sent, and
// the connection closed where the protocol says so).
func (s *Server) decode(c *conn, side proto.Side, b []byte) (any, bool) {
	if c.lim != nil && (!c.lim.Allow() || !c.ipLim.Allow()) {
		c.sendError("", proto.CodeRateLimited, "too many messages")
		c.close(proto.CloseRateLimited, "rate limited")
		return nil, false
	}
	msg, err := proto.Decode(side, b)
	var de *proto.DecodeError
	if errors.As(err, &de) {
		c.sendError(de.ID, de.Code, de.Msg)
		switch de.Code {
		case proto.CodeMalformed:
			c.close(proto.CloseProtocol, "malformed message")
		case proto.CodeVersion:
			c.close(proto.CloseVersion, "unsupported version")
		}
		return nil, false
	}
	return msg, err == nil
}

// hello authenticates the first message of a connection. It runs in the
// connection's goroutine so that a slow Authenticator delays only its own
// player.
func (s *Server) hello(ctx context.Context, c *conn, side proto.Side, trusted bool) bool {
	late := time.AfterFunc(s.cfg.HelloTimeout, func() {
		c.sendError("", proto.CodeUnauthorized, "no hello within "+s.cfg.HelloTimeout.String())
		c.close(proto.CloseUnauthorized, "hello timeout")
	})
	b, err := c.t.Read(ctx)
	if !late.Stop() {
		return false
	}
	if err != nil {
		s.readFailed(c, err)
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HelloTimeout)
	defer cancel()
	msg, ok := s.decode(c, side, b)
	if !ok {
		// decode has sent the error, and closed with its own code if it has one.
		c.close(proto.CloseUnauthorized, "no valid hello")
		return false
	}
	fail := func(id, code, text string, closeWith int) bool {
		c.sendError(id, code, text)
		c.close(closeWith, code)
		return false
	}
	switch m := msg.(type) {
	case *proto.Hello:
		id, err := s.cfg.Auth.Authenticate(ctx, m.Token)
		if err != nil {
			code := proto.CodeUnauthorized
			var le *Error
			if errors.As(err, &le) {
				code = le.Code
			}
			return fail(m.ID, code, err.Error(), proto.CloseUnauthorized)
		}
		if id.Player == "" || len(id.Player) > proto.MaxIDLen || len(id.Name) > proto.MaxNameLen {
			return fail(m.ID, proto.CodeInternal, "authenticator returned an identity out of limits", proto.CloseUnauthorized)
		}
		ev := event{c: c, ident: &id, helloID: m.ID}
		if iss, ok := s.cfg.Auth.(TokenIssuer); ok {
			// Tokens are single use: hand over the next one now.
			if tok, exp, err := iss.IssueToken(id); err == nil {
				ev.token, ev.expires = tok, exp
			}
		}
		return s.h.post(ev)
	case *proto.Register:
		key := s.cfg.GameServerKey
		if !trusted && (key == "" || subtle.ConstantTimeCompare([]byte(m.Key), []byte(key)) != 1) {
			return fail(m.ID, proto.CodeForbidden, "wrong game server key", proto.CloseUnauthorized)
		}
		return s.h.post(event{c: c, reg: m})
	}
	first := proto.TypeHello
	if side == proto.FromServer {
		first = proto.TypeRegister
	}
	return fail(proto.Env(msg).ID, proto.CodeUnauthorized, "the first message must be "+first, proto.CloseUnauthorized)
}

// Stats is a snapshot of what a lobby holds.
type Stats struct {
	Players     int // known players, connected or holding a seat
	Connected   int // player connections
	Queued      int // tickets in matchmaking
	Parties     int
	Rooms       int
	Seats       int // seats held in rooms
	GameServers int
}

// Stats reports what the lobby holds now.
func (s *Server) Stats() Stats {
	var st Stats
	s.h.do(func() {
		h := s.h
		st.Players, st.Queued, st.Parties, st.Rooms, st.GameServers = len(h.players), len(h.tickets), len(h.parties), len(h.rooms), len(h.servers)
		for _, p := range h.players {
			if p.c != nil {
				st.Connected++
			}
		}
		for _, r := range h.rooms {
			st.Seats += len(r.seats)
		}
	})
	return st
}

// Shutdown closes every connection with 1001 (going away) and waits for
// their goroutines, or for ctx. New connections are refused from the start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop.Do(func() { close(s.h.quit) })
	<-s.h.done
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown with a 5 s bound.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}
