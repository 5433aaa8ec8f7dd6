//go:build !js

package netcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// SignalHandler serves WebSocket signaling (SIGNALING.md) for a Server: a
// game serves its players without a lobby by mounting it on its own HTTP
// server, and players reach it with DialSignaler.
//
//	h, err := netcode.NewSignalHandler(srv, func(sess *netcode.Session, r *http.Request) {
//		game.Join(sess)
//	}, nil)
//	http.Handle("/play", h)
//
// Each WebSocket's first signal is an offer, and the handler accepts the
// client on the Server; the WebSocket then carries the session's ICE
// restarts and resumes. A client whose WebSocket is lost takes its
// session's signaling over on a new one with its resume token (a resume
// offer, or a reconnect message): the session never learns of it. The
// handler owns the WebSockets and nothing else: the Server listens, and
// owns the sessions. Authentication is the game's: wrap the handler in
// whatever checks the request before the upgrade, and read what it found
// in accept's request.
type SignalHandler struct {
	srv    *Server
	accept func(*Session, *http.Request)
	cfg    SignalHandlerConfig
	log    *slog.Logger
	opts   *websocket.AcceptOptions
	ctx    context.Context // ends with Close: ends the handshakes under way
	cancel context.CancelFunc
	slots  chan struct{} // one per handshake under way (MaxHandshakes)

	mu      sync.Mutex
	closing bool
	conns   map[*handlerConn]struct{}
	routes  map[string]*handlerSignaler // a session's current resume token to its signaling
	// wg counts what the handler runs: ServeHTTP past the upgrade (each
	// WebSocket's reader), handshakes with their accept callbacks, and
	// closing handshakes. Everything is added while a WebSocket's reader
	// is running, so never after Wait has begun for good.
	wg sync.WaitGroup
}

// SignalHandlerConfig tunes a SignalHandler. The zero value of every field
// means the default documented on it; a nil *SignalHandlerConfig means all
// defaults.
type SignalHandlerConfig struct {
	// OriginPatterns lists the browser origins whose pages may open the
	// WebSocket, as host patterns ("game.example.com", "*.example.com") or
	// scheme://host patterns ("https://*.example.com"). Empty means the
	// page's origin must be the handler's own host; clients that send no
	// Origin header (native ones) are always allowed. "*" allows every
	// origin: only for a server whose players authenticate otherwise than
	// by cookies, since any page could open it with the player's.
	OriginPatterns []string
	// HandshakeTimeout bounds the wait for a WebSocket's first message,
	// and then a new client's handshake, from its offer to both channels
	// open (15 s by default).
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the WebSockets in their handshake at once, new
	// clients and reconnecting ones (128 by default): each new one costs
	// the server a PeerConnection. More are refused with HTTP 503 and
	// Retry-After, before the upgrade.
	MaxHandshakes int
	// PingInterval is how often the handler pings each WebSocket (30 s by
	// default): it keeps proxies that close idle connections (often after
	// 60 s) from cutting the session's signaling, and drops a WebSocket
	// whose client is gone without a word after a second interval without
	// the pong. The client then reconnects, if it is there.
	PingInterval time.Duration
}

const (
	defaultSignalHandshakeTimeout = 15 * time.Second
	defaultMaxHandshakes          = 128
	defaultSignalPingInterval     = 30 * time.Second
	// signalCloseGrace is how long Close lets closing handshakes run before
	// it drops what is left, as a session's close gives its close message.
	signalCloseGrace = closeFlushTimeout
	// signalCloseWait bounds a closing handshake: the client's close frame
	// in answer to the server's comes within a round trip, unless the
	// client is gone.
	signalCloseWait = 2 * time.Second
	// signalInbox is how many signals wait for the session to read them;
	// past it the WebSocket is not read, and TCP slows the client down.
	signalInbox = 16
)

// NewSignalHandler serves WebSocket signaling for srv. accept gets each
// new Session, once both channels are open, with the request that opened
// its WebSocket (whose context ends with that WebSocket, not with the
// session: use Session.Done). It runs on a goroutine of its own and should
// return soon: Close waits for it. A nil accept leaves the sessions to
// Server.Sessions.
func NewSignalHandler(srv *Server, accept func(*Session, *http.Request), cfg *SignalHandlerConfig) (*SignalHandler, error) {
	if srv == nil {
		return nil, fmt.Errorf("%w: NewSignalHandler needs a Server", ErrInvalidConfig)
	}
	var c SignalHandlerConfig
	if cfg != nil {
		c = *cfg
		c.OriginPatterns = append([]string(nil), cfg.OriginPatterns...)
	}
	if c.HandshakeTimeout < 0 || c.MaxHandshakes < 0 || c.PingInterval < 0 {
		return nil, fmt.Errorf("%w: negative HandshakeTimeout, MaxHandshakes or PingInterval", ErrInvalidConfig)
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = defaultSignalHandshakeTimeout
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = defaultMaxHandshakes
	}
	if c.PingInterval == 0 {
		c.PingInterval = defaultSignalPingInterval
	}
	opts := &websocket.AcceptOptions{Subprotocols: []string{signalSubprotocol}, OriginPatterns: c.OriginPatterns}
	if len(c.OriginPatterns) == 1 && c.OriginPatterns[0] == "*" {
		// Every origin, "null" (sandboxed pages, file://) included, which no
		// host pattern matches.
		opts = &websocket.AcceptOptions{Subprotocols: opts.Subprotocols, InsecureSkipVerify: true}
	}
	h := &SignalHandler{
		srv: srv, accept: accept, cfg: c, log: srv.cfg.Logger, opts: opts,
		slots: make(chan struct{}, c.MaxHandshakes),
		conns: make(map[*handlerConn]struct{}), routes: make(map[string]*handlerSignaler),
	}
	h.ctx, h.cancel = context.WithCancel(srv.ctx)
	return h, nil
}

// ServeHTTP upgrades the request to a signaling WebSocket and serves it
// until it closes.
func (h *SignalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.slots <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "netcode: too many handshakes under way, try again", http.StatusServiceUnavailable)
		return
	}
	slot := &handshakeSlot{slots: h.slots}
	defer slot.releaseMine()
	if h.ctx.Err() != nil {
		http.Error(w, "netcode: server shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, h.opts)
	if err != nil {
		h.log.Debug("netcode: signaling WebSocket refused", "remote", r.RemoteAddr, "err", err)
		return // Accept has answered with the HTTP error
	}
	c := h.register(ws)
	if c == nil {
		_ = ws.CloseNow()
		return
	}
	defer h.wg.Done()
	defer c.end()
	if ws.Subprotocol() != signalSubprotocol {
		c.closeWith(wsPolicy, "subprotocol "+signalSubprotocol+" required")
		c.drain()
		return
	}
	c.schedulePing()

	late := time.AfterFunc(h.cfg.HandshakeTimeout, func() {
		c.closeWith(wsPolicy, fmt.Sprintf("no signal within %v", h.cfg.HandshakeTimeout))
	})
	first, err := c.next()
	late.Stop()
	if err != nil {
		c.fail(err)
		return
	}
	sig, fresh := h.route(c, first, r)
	if sig == nil {
		c.drain()
		return
	}
	if fresh {
		// The handshake holds the slot until Accept returns.
		h.wg.Add(1)
		slot.handOff()
		go h.handshake(sig, r, slot)
	} else {
		slot.release()
	}
	c.pump(sig)
}

// handshakeSlot is one of SignalHandler.slots, released once.
type handshakeSlot struct {
	once   sync.Once
	slots  chan struct{}
	handed bool // ServeHTTP gave it to a handshake goroutine
}

func (s *handshakeSlot) release() { s.once.Do(func() { <-s.slots }) }

func (s *handshakeSlot) handOff() { s.handed = true }

// releaseMine releases the slot unless it was handed off.
func (s *handshakeSlot) releaseMine() {
	if !s.handed {
		s.release()
	}
}

// register adds a WebSocket's reader to what the handler runs, or returns
// nil once the handler is closing.
func (h *SignalHandler) register(ws *websocket.Conn) *handlerConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return nil
	}
	c := &handlerConn{h: h, ws: ws, stop: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	ws.SetReadLimit(maxSignalMessage)
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	return c
}

// route hands a WebSocket's first signal to the session it is for: the
// one holding the token of a reconnect or a resume offer, or a new one
// for an offer (fresh). It returns the signaling the WebSocket serves from
// then on, or nil when it has closed the WebSocket.
func (h *SignalHandler) route(c *handlerConn, first Signal, r *http.Request) (sig *handlerSignaler, fresh bool) {
	if first.Resume != "" {
		if sig := h.lookup(first.Resume); sig != nil && sig.attach(c) {
			h.log.Debug("netcode: signaling taken over by a new WebSocket", "remote", r.RemoteAddr, "type", first.Type)
			if first.Type == SignalOffer && !sig.deliver(c, first) {
				return nil, false
			}
			return sig, false
		}
		if first.Type == signalReconnect {
			c.closeWith(wsUnknownSession, "no session holds this resume token")
			return nil, false
		}
		// A resume offer for no session here: the Server refuses it as it
		// refuses any resume given to Accept, saying why.
	}
	if first.Type != SignalOffer {
		c.closeWith(wsPolicy, fmt.Sprintf("the first signal must be an offer or a reconnect, not %q", first.Type))
		return nil, false
	}
	sig = &handlerSignaler{h: h, conn: c, handshake: true, in: make(chan Signal, signalInbox), done: make(chan struct{}), broken: make(chan struct{})}
	sig.in <- first
	return sig, true
}

// handshake accepts a new client on the Server and hands its Session to
// accept. Until Accept returns, it, not the session, closes the WebSocket,
// so that the close says why the handshake failed.
func (h *SignalHandler) handshake(sig *handlerSignaler, r *http.Request, slot *handshakeSlot) {
	defer h.wg.Done()
	defer slot.release()
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.HandshakeTimeout)
	sess, err := h.srv.Accept(ctx, sig)
	cancel()

	sig.mu.Lock()
	sig.handshake, sig.sess = false, sess
	c := sig.conn
	closed := sig.isClosed()
	if closed {
		sig.conn = nil
	}
	sig.mu.Unlock()
	switch {
	case err != nil:
		h.log.Debug("netcode: handshake over WebSocket failed", "remote", r.RemoteAddr, "err", err)
		if c != nil {
			code, reason := handshakeStatus(err)
			c.closeWith(code, reason)
		}
	case closed:
		// The session ended at once; nothing for the game.
		if c != nil {
			code, reason := sessionStatus(sess)
			c.closeWith(code, reason)
		}
	case h.accept != nil:
		h.accept(sess, r)
	}
}

// handshakeStatus is the close status for a handshake that failed with err.
func handshakeStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrServerClosed):
		return wsGoingAway, "server shutting down"
	case errors.Is(err, ErrResumeRejected):
		return wsNormal, "resume refused"
	case errors.Is(err, ErrLimit), errors.Is(err, ErrSignaling), errors.Is(err, ErrProtocol):
		return wsPolicy, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return wsPolicy, "handshake not done in time"
	}
	return wsInternal, "handshake failed: " + err.Error()
}

// sessionStatus is the close status for the WebSocket of a session that
// ended.
func sessionStatus(sess *Session) (int, string) {
	var ce *CloseError
	if sess == nil || !errors.As(sess.Err(), &ce) {
		return wsNormal, "session closed"
	}
	reason := "session closed: " + ce.Code.String()
	if ce.Reason != "" {
		reason += ": " + ce.Reason
	}
	switch ce.Code {
	case CloseShutdown:
		return wsGoingAway, reason
	case CloseProtocolError, CloseVersionMismatch, CloseTooLarge:
		return wsPolicy, reason
	}
	return wsNormal, reason
}

// setRoute makes tok the token that routes a reconnecting client to sig.
func (h *SignalHandler) setRoute(sig *handlerSignaler, tok string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sig.isClosed() {
		return
	}
	if sig.token != "" && h.routes[sig.token] == sig {
		delete(h.routes, sig.token)
	}
	sig.token = tok
	h.routes[tok] = sig
}

func (h *SignalHandler) dropRoute(sig *handlerSignaler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sig.token != "" && h.routes[sig.token] == sig {
		delete(h.routes, sig.token)
	}
}

func (h *SignalHandler) lookup(tok string) *handlerSignaler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.routes[tok]
}

// resumable says whether sig's client can come back on a new WebSocket: it
// has been given a token.
func (h *SignalHandler) resumable(sig *handlerSignaler) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sig.token != ""
}

// Close closes every WebSocket the handler holds, saying the server is
// shutting down, ends the handshakes under way, and waits for its
// goroutines and for accept callbacks that are running; later requests get
// HTTP 503. Sessions already accepted are the Server's and stay, without
// signaling: close the Server first (Shutdown tells each client why). It is
// idempotent, and waits at most a moment for closing handshakes.
func (h *SignalHandler) Close() error {
	h.mu.Lock()
	h.closing = true
	conns := make([]*handlerConn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	h.cancel()
	for _, c := range conns {
		c.closeWith(wsGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(signalCloseGrace):
	}
	for _, c := range conns {
		c.cancel() // drops the connection under a read
		_ = c.ws.CloseNow()
	}
	<-done
	return nil
}

// handlerConn is one signaling WebSocket on the server.
type handlerConn struct {
	h      *SignalHandler
	ws     *websocket.Conn
	ctx    context.Context // the reads'; cancelling it drops the connection at once
	cancel context.CancelFunc

	mu      sync.Mutex
	stop    chan struct{} // closed once closing starts: nothing more is delivered
	closing bool
	ended   bool // the reader returned
	pinger  *time.Timer
	pings   sync.WaitGroup
}

// next reads and decodes the next signal.
func (c *handlerConn) next() (Signal, error) {
	typ, b, err := c.ws.Read(c.ctx)
	if err != nil {
		return Signal{}, err
	}
	if typ != websocket.MessageText {
		return Signal{}, errBinarySignal
	}
	return decodeSignal(b, true)
}

var errBinarySignal = fmt.Errorf("%w: binary message; signals are JSON text", ErrProtocol)

// fail closes the WebSocket for what next returned: a bad message, or
// nothing to close (the connection ended; coder/websocket has closed it,
// with StatusMessageTooBig for a message over the limit).
func (c *handlerConn) fail(err error) {
	switch {
	case errors.Is(err, errBinarySignal):
		c.closeWith(wsUnsupported, err.Error())
	case errors.Is(err, ErrProtocol):
		c.closeWith(wsPolicy, err.Error())
	default:
		c.h.log.Debug("netcode: signaling WebSocket ended", "err", err)
	}
}

// pump hands every signal read to sig until the WebSocket ends, or a bad
// one closes it.
func (c *handlerConn) pump(sig *handlerSignaler) {
	for {
		s, err := c.next()
		if err == nil && s.Type == signalReconnect {
			err = fmt.Errorf("%w: reconnect after the first signal", ErrProtocol)
		}
		if err != nil {
			c.fail(err)
			sig.lost(c, err, errors.Is(err, ErrProtocol))
			c.drain()
			return
		}
		if !sig.deliver(c, s) {
			c.drain()
			return
		}
	}
}

// drain reads until the WebSocket ends: a reader must run for a closing
// handshake to complete.
func (c *handlerConn) drain() {
	for {
		if _, _, err := c.ws.Read(c.ctx); err != nil {
			return
		}
	}
}

// closeWith starts the closing handshake with code and reason, once, on a
// goroutine of its own: it waits for the client, up to signalCloseWait.
func (c *handlerConn) closeWith(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.ended {
		return
	}
	c.closing = true
	close(c.stop)
	c.h.wg.Add(1) // the reader runs: the count is above zero
	go func() {
		defer c.h.wg.Done()
		// coder/websocket waits up to 10 s for a client that does not
		// answer; the reader's context cuts that short.
		t := time.AfterFunc(signalCloseWait, c.cancel)
		defer t.Stop()
		_ = c.ws.Close(websocket.StatusCode(code), truncate(reason, maxCloseReason))
	}()
}

// end is the reader's last act: nothing more is started for c.
func (c *handlerConn) end() {
	c.mu.Lock()
	c.ended = true
	if !c.closing {
		close(c.stop)
	}
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	c.pings.Wait()
	c.h.mu.Lock()
	delete(c.h.conns, c)
	c.h.mu.Unlock()
}

func (c *handlerConn) schedulePing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pinger = time.AfterFunc(c.h.cfg.PingInterval, c.ping)
}

// ping runs on the timer's goroutine; a WebSocket that does not answer
// within an interval is dropped.
func (c *handlerConn) ping() {
	c.mu.Lock()
	if c.ended || c.closing {
		c.mu.Unlock()
		return
	}
	c.pings.Add(1)
	c.mu.Unlock()
	defer c.pings.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.h.cfg.PingInterval)
	err := c.ws.Ping(ctx)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ended || c.closing:
	case err != nil:
		c.h.log.Debug("netcode: signaling WebSocket did not answer a ping", "err", err)
		// Closing, without a handshake the client would not answer.
		c.closing = true
		close(c.stop)
		c.cancel()
		_ = c.ws.CloseNow()
	default:
		c.pinger.Reset(c.h.cfg.PingInterval)
	}
}

// handlerSignaler is a session's signaling on the server: the Signaler
// the Server holds, over whichever WebSocket the client uses now.
type handlerSignaler struct {
	h         *SignalHandler
	in        chan Signal
	done      chan struct{}
	closeOnce sync.Once
	broken    chan struct{} // the WebSocket was lost with no way back
	brokenErr error         // set before broken closes
	token     string        // under h.mu: the resume token that routes to it

	mu        sync.Mutex
	conn      *handlerConn // nil while the client is away
	handshake bool         // Accept runs: its goroutine closes the WebSocket
	sess      *Session
	// restart is an ICE restart the server asked for while the client was
	// away, for the WebSocket it comes back on: the path may need it more
	// than ever, and the client has no other way to learn of it.
	restart *Signal
}

func (s *handlerSignaler) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// attach makes c the WebSocket of s, closing the one it replaces, and
// sends on it the ICE restart asked for while the client was away.
func (s *handlerSignaler) attach(c *handlerConn) bool {
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		return false
	}
	old := s.conn
	s.conn = c
	restart := s.restart
	s.restart = nil
	s.mu.Unlock()
	if old != nil {
		old.closeWith(wsReplaced, "replaced by a newer WebSocket")
	}
	if restart != nil {
		if b, err := json.Marshal(restart); err == nil {
			if err := c.write(c.ctx, b); err != nil {
				s.h.log.Debug("netcode: an ICE restart held for a returning client was not sent", "err", err)
			}
		}
	}
	return true
}

// deliver queues a signal read from c for the session; false when c is
// no longer the session's, or the session is gone.
func (s *handlerSignaler) deliver(c *handlerConn, sg Signal) bool {
	select {
	case s.in <- sg:
		return true
	case <-s.done:
	case <-c.stop:
	}
	return false
}

// lost: c, the WebSocket of s or one it replaced, ended. The session waits
// for its client to come back on a new one, once it has a token to come
// back with; before that the handshake fails. A client that broke the
// protocol (violation) does not come back: the session's signaling ends,
// and with it the handshake, or the session's way to recover.
func (s *handlerSignaler) lost(c *handlerConn, err error, violation bool) {
	if violation {
		s.h.dropRoute(s)
	}
	resumable := !violation && s.h.resumable(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return
	}
	if !resumable {
		select {
		case <-s.broken:
		default:
			s.brokenErr = fmt.Errorf("%w: %v", ErrSignalingClosed, err)
			close(s.broken)
		}
		return // the handshake's goroutine, or the session's Close, closes c
	}
	s.conn = nil
}

func (s *handlerSignaler) current() *handlerConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// ReadSignal returns the client's next signal, whichever WebSocket it came
// on. While the client is away it waits: its session may still resume.
func (s *handlerSignaler) ReadSignal(ctx context.Context) (Signal, error) {
	select {
	case sg := <-s.in:
		return sg, nil
	case <-s.done:
		return Signal{}, fmt.Errorf("websocket signaling: %w", ErrClosed)
	case <-s.broken:
		return Signal{}, s.brokenErr
	case <-ctx.Done():
		return Signal{}, ctx.Err()
	}
}

// WriteSignal sends sg on the client's WebSocket. An answer's resume token
// becomes the one a reconnecting client is routed by.
func (s *handlerSignaler) WriteSignal(ctx context.Context, sg Signal) error {
	b, err := json.Marshal(sg)
	if err != nil {
		return fmt.Errorf("websocket signaling: %w", err)
	}
	if sg.Type == SignalAnswer && sg.Resume != "" {
		// Before the write: the client may need it as soon as it has it.
		s.h.setRoute(s, sg.Resume)
	}
	s.mu.Lock()
	c := s.conn
	if c == nil && sg.Type == SignalRestart && !s.isClosed() {
		s.restart = &sg
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: the client is away", ErrSignalingClosed)
	}
	return c.write(ctx, b)
}

// write sends one signal on c.
func (c *handlerConn) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := writeContext(ctx)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("%w: %v", ErrSignalingClosed, err)
	}
	return nil
}

// Close ends the session's signaling: it closes the WebSocket, saying how
// the session ended (during the handshake, its goroutine does, saying why
// the handshake failed). It never waits on the network.
func (s *handlerSignaler) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		c, hs, sess := s.conn, s.handshake, s.sess
		if !hs {
			s.conn = nil
		}
		s.mu.Unlock()
		s.h.dropRoute(s)
		if !hs && c != nil {
			code, reason := sessionStatus(sess)
			c.closeWith(code, reason)
		}
	})
	return nil
}
