//go:build !js

package lobby

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
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
// to (PROTOCOL.md). It owns no listener; mount it on any http.Server, and
// wrap the listener with Server.Listener for per-address connection caps:
//
//	/healthz     GET: 200 while the lobby runs (liveness)
//	/readyz      GET: 200 while a game server can take rooms (readiness)
//	/v1/guest    POST: a guest token, when the Authenticator can issue them
//	/v1/play     WebSocket for players
//	/v1/server   WebSocket for game servers in other processes
type Server struct {
	cfg *Config
	eng engine
	h   *hub // the engine, for a MemoryStore
	m   *counters
	mux *http.ServeMux

	mu      sync.Mutex
	closed  bool
	ipConns map[string]int
	tcp     map[string]int // per IP, through Listener
	ipLims  *lru.Cache[string, *rate.Limiter]
	keyLims *lru.Cache[string, *keyBudget] // wrong game-server keys per IP
	wg      sync.WaitGroup                 // connection goroutines
	stop    sync.Once
}

// NewServer returns a running lobby; nil cfg means defaults.
func NewServer(cfg *Config) (*Server, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	lims, err := lru.New[string, *rate.Limiter](1 << 16)
	if err != nil {
		return nil, err
	}
	keyLims, err := lru.New[string, *keyBudget](1 << 16)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: c, m: newCounters(), mux: http.NewServeMux(), ipConns: map[string]int{}, tcp: map[string]int{}, ipLims: lims, keyLims: keyLims}
	if s.eng, err = c.Store.engine(s); err != nil {
		return nil, err
	}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("POST /v1/guest", s.guest)
	s.mux.HandleFunc("OPTIONS /v1/guest", s.guestPreflight)
	s.mux.HandleFunc("GET /v1/play", func(w http.ResponseWriter, r *http.Request) { s.accept(w, r, proto.FromPlayer) })
	s.mux.HandleFunc("GET /v1/server", func(w http.ResponseWriter, r *http.Request) { s.accept(w, r, proto.FromServer) })
	go s.eng.run()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	select {
	case <-s.eng.finished():
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"stopped"}`+"\n")
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	}
}

// readyz answers whether the lobby can place a room now: some game server
// is linked and has the seats for the smallest room a mode allows. Load
// balancers should send players only to a ready lobby; /healthz only says
// whether the process is alive.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	r := s.Readiness()
	var body struct {
		Status string `json:"status"`
		Readiness
	}
	body.Readiness = r
	select {
	case <-s.eng.finished():
		body.Status = "stopped"
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		switch {
		case r.Ready:
			body.Status = "ready"
		case r.StoreDown:
			body.Status = "unavailable"
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			body.Status = "no_game_server"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Readiness is whether a lobby can place a room now, as /readyz answers:
// Ready when some linked game server, not draining, has the free seats for
// the smallest room a mode allows.
type Readiness struct {
	Ready       bool `json:"-"`
	GameServers int  `json:"game_servers"` // linked now (not in their grace), not draining
	FreeSeats   int  `json:"free_seats"`   // on those, not held by rooms
	// StoreDown is set while the shared store (Redis) cannot be reached.
	StoreDown bool `json:"store_down,omitempty"`
}

// Readiness reports, without waiting on the lobby, whether it can place a
// room now (what /readyz answers).
func (s *Server) Readiness() Readiness {
	select {
	case <-s.eng.finished():
		return Readiness{}
	default:
		return s.eng.readiness()
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
		s.m.limit(LimitGuestRate)
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
		s.m.limit(LimitConnsPerIP)
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

// keyLimiter is ip's budget of wrong game-server keys.
func (s *Server) keyLimiter(ip string) *keyBudget {
	lim, ok := s.keyLims.Get(ip)
	if !ok {
		lim = &keyBudget{tokens: float64(s.cfg.KeyFailureBurst), last: time.Now(),
			burst: float64(s.cfg.KeyFailureBurst), every: s.cfg.KeyFailureInterval}
		if prev, found, _ := s.keyLims.PeekOrAdd(ip, lim); found {
			lim = prev
		}
	}
	return lim
}

// keyBudget is a token bucket that a try takes from before its key is
// checked, and a right key gives back: so that tries sent at once cannot
// all pass a check made before any has failed, and so that a game server
// with the right key never spends its address's budget.
type keyBudget struct {
	mu     sync.Mutex
	tokens float64
	last   time.Time
	burst  float64
	every  time.Duration
}

func (b *keyBudget) refill() {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+float64(now.Sub(b.last))/float64(b.every))
	b.last = now
}

// take takes a token; false when there is none.
func (b *keyBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// give gives back a token take took.
func (b *keyBudget) give() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	b.tokens = min(b.burst, b.tokens+1)
}

// spent says there is no token to take now.
func (b *keyBudget) spent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	return b.tokens < 1
}

// refuseHTTP answers an upgrade with an HTTP error and closes the connection
// after it, so that a refused client does not hold a keep-alive
// connection.
func refuseHTTP(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Connection", "close")
	http.Error(w, text, status)
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request, side proto.Side) {
	ip := remoteIP(r)
	if side == proto.FromServer {
		if lim, ok := s.keyLims.Peek(ip); ok && lim.spent() {
			s.m.limit(LimitKeyFailures)
			refuseHTTP(w, http.StatusTooManyRequests, "too many wrong game server keys from this address")
			return
		}
	}
	if ok, status := s.admit(ip, true); !ok {
		refuseHTTP(w, status, http.StatusText(status))
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
	var c *conn
	if side == proto.FromPlayer {
		c = newConn(wsTransport{ws}, ip, s.cfg.SendQueue)
		c.full = func() { s.m.limit(LimitSendQueue) }
		c.lim = rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)
		c.ipLim = s.ipLimiter(ip)
	} else {
		c = newLink(wsTransport{ws}, ip, s.cfg.SendQueue)
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
	stop := context.AfterFunc(s.eng.context(), func() { c.close(proto.CloseGoingAway, "lobby shutting down") })
	defer func() {
		stop()
		c.close(proto.CloseNormal, "")
		<-writerDone
	}()

	if !s.hello(ctx, c, side, trusted) {
		return
	}
	peerCode := -1
	defer func() { s.eng.gone(c, peerCode) }()
	// Everything a message leads to goes through the hub, in order: the
	// replies to the requests before a message that closes the connection
	// (one over the rate limit, say) are sent before the close, since those
	// requests were carried out.
	for {
		b, err := c.t.Read(ctx)
		if err != nil {
			ev := readFailure(err)
			if ev.closeCode == 0 {
				peerCode = closeCode(err)
				return
			}
			ev.c = c
			s.eng.closeAfter(ev)
			return
		}
		ev := s.decode(c, side, b)
		ev.c = c
		if ev.closeCode != 0 {
			s.eng.closeAfter(ev)
			return
		}
		if !s.eng.message(ev) {
			return
		}
	}
}

// readFailure is what a read error calls for: an error and a close code,
// or closeCode 0 when the peer went away.
func readFailure(err error) event {
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		return event{closeCode: proto.CloseTooBig, closeReason: "message too big"}
	case errors.Is(err, ErrProtocol):
		return event{reply: &proto.Error{Code: proto.CodeMalformed, Message: err.Error()}, closeCode: proto.CloseProtocol, closeReason: "binary message"}
	}
	return event{}
}

// readFailed closes c with the code its read error calls for, at once.
func (s *Server) readFailed(c *conn, err error) {
	ev := readFailure(err)
	if ev.reply != nil {
		c.send(proto.TypeError, ev.reply)
	}
	if ev.closeCode == 0 {
		ev.closeCode = proto.CloseNormal
	}
	c.close(ev.closeCode, ev.closeReason)
}

// decode applies the limits and decoding rules of PROTOCOL.md to one
// message: the event holds the message, or the error to answer and, where
// the protocol says so, the close code.
func (s *Server) decode(c *conn, side proto.Side, b []byte) event {
	if c.lim != nil && (!c.lim.Allow() || !c.ipLim.Allow()) {
		s.m.limit(LimitMessageRate)
		return event{reply: &proto.Error{Code: proto.CodeRateLimited, Message: "too many messages"},
			closeCode: proto.CloseRateLimited, closeReason: "rate limited"}
	}
	msg, err := proto.Decode(side, b)
	var de *proto.DecodeError
	if errors.As(err, &de) {
		ev := event{reply: &proto.Error{Envelope: proto.Envelope{ID: de.ID}, Code: de.Code, Message: de.Msg}}
		switch de.Code {
		case proto.CodeMalformed:
			ev.closeCode, ev.closeReason = proto.CloseProtocol, "malformed message"
		case proto.CodeVersion:
			ev.closeCode, ev.closeReason = proto.CloseVersion, "unsupported version"
		}
		return ev
	}
	if err != nil {
		return event{reply: &proto.Error{Code: proto.CodeInternal, Message: err.Error()}}
	}
	return event{msg: msg}
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
	ev := s.decode(c, side, b)
	if ev.msg == nil {
		// Nothing else is queued: the error goes out directly, then the
		// close, with the decoder's code if it has one.
		c.send(proto.TypeError, ev.reply)
		if ev.closeCode != 0 {
			c.close(ev.closeCode, ev.closeReason)
		}
		c.close(proto.CloseUnauthorized, "no valid hello")
		return false
	}
	msg := ev.msg
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
			if code == proto.CodeUnavailable {
				// Not the token's fault: it is not spent, and may try again.
				// Why is for the operator: it may name where Redis is.
				s.m.unavail.Add(1)
				s.cfg.Logger.Debug("lobby: cannot authenticate now", "ip", c.ip, "err", err)
				return fail(m.ID, code, "the lobby cannot check tokens now: try again later", proto.CloseTryLater)
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
		return s.eng.attach(ev)
	case *proto.Register:
		if !trusted {
			budget := s.keyLimiter(c.ip)
			if !budget.take() {
				s.m.limit(LimitKeyFailures)
				return fail(m.ID, proto.CodeRateLimited, "too many wrong game server keys from this address", proto.CloseRateLimited)
			}
			key := s.cfg.GameServerKey
			if key == "" || subtle.ConstantTimeCompare([]byte(m.Key), []byte(key)) != 1 {
				s.cfg.Logger.Info("lobby: wrong game server key", "ip", c.ip)
				s.m.limit(LimitKeyFailures)
				return fail(m.ID, proto.CodeForbidden, "wrong game server key", proto.CloseUnauthorized)
			}
			budget.give()
		}
		return s.eng.attach(event{c: c, reg: m, trusted: trusted})
	}
	first := proto.TypeHello
	if side == proto.FromServer {
		first = proto.TypeRegister
	}
	return fail(proto.Env(msg).ID, proto.CodeUnauthorized, "the first message must be "+first, proto.CloseUnauthorized)
}

// Stats is a snapshot of what a lobby holds. With a shared store it counts
// the whole lobby, every node, but for Connected and TCPConns, which are
// this node's.
type Stats struct {
	Players     int // known players, connected or holding a seat
	Connected   int // player connections
	Queued      int // tickets in matchmaking
	Parties     int
	Rooms       int
	Seats       int // seats held in rooms
	GameServers int // game servers linked now
	// GameServersDown are game servers whose link dropped, whose rooms
	// wait for them to register again (Config.GameServerGrace).
	GameServersDown int
	// TCPConns counts the connections open through Server.Listener.
	TCPConns int
}

// Stats reports what the lobby holds now.
func (s *Server) Stats() Stats {
	st := s.eng.stats()
	st.TCPConns = s.tcpConns()
	return st
}

func (s *Server) tcpConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range s.tcp {
		n += k
	}
	return n
}

// Metrics reports what the lobby holds and what this node has done since
// it started (see Metrics).
func (s *Server) Metrics() Metrics {
	var m Metrics
	select {
	case <-s.eng.finished():
	default:
		s.eng.gauges(&m)
	}
	m.TCPConns = s.tcpConns()
	s.m.fill(&m)
	return m
}

// Shutdown closes every connection with 1001 (going away) and waits for
// their goroutines, or for ctx. New connections are refused from the start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop.Do(s.eng.stop)
	<-s.eng.finished()
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
