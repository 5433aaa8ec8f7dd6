package netcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// WebSocket signaling (SIGNALING.md): a game serves players without a lobby
// by mounting a SignalHandler (native only) and its players dial it with
// DialSignaler (both builds). This file holds what both sides share, and the
// dialing side, which is the same in both builds but for the WebSocket
// under it (wsconn.go on coder/websocket, wsconn_js.go on the browser's).

// signalSubprotocol is the WebSocket subprotocol both sides ask for: the
// version of SIGNALING.md they speak.
const signalSubprotocol = "tickwire.signal.v1"

// signalReconnect is the first message of a WebSocket that takes over the
// signaling of a session whose previous WebSocket was lost, when the client
// has nothing else to say (a resume offer carries its token itself). It
// never reaches the session.
const signalReconnect = "reconnect"

// maxSignalMessage bounds one signaling message, both ways: an offer is a
// few KiB, and the session refuses SDP over maxSDPSize anyway.
const maxSignalMessage = maxSDPSize

// maxResumeTokenLen bounds the token a client presents (43 characters
// today), as the lobby does.
const maxResumeTokenLen = 64

// WebSocket close codes of SIGNALING.md. They are plain ints here, since
// the browser build has no coder/websocket.
const (
	wsNormal         = 1000 // the session ended; the reason says why
	wsGoingAway      = 1001 // the server is shutting down
	wsUnsupported    = 1003 // a binary message
	wsPolicy         = 1008 // not a signal, a limit, or no signal in time
	wsTooBig         = 1009 // a message over maxSignalMessage
	wsInternal       = 1011 // the handshake failed on the server's side
	wsReplaced       = 4000 // a newer WebSocket took over the session's signaling
	wsUnknownSession = 4001 // a reconnect whose token is no session's
)

// maxCloseReason is the longest reason a WebSocket close frame carries.
const maxCloseReason = 123

// Client-side reconnection (SIGNALING.md, "Reconnecting"): the first wait
// is short, since a dropped WebSocket usually comes back at once; the cap
// keeps a client whose server is unreachable to a dial every few seconds.
const (
	reconnectMinWait = 100 * time.Millisecond
	reconnectMaxWait = 4 * time.Second
	// signalDialTimeout bounds one dial of a reconnection or a resume.
	signalDialTimeout = 10 * time.Second
)

// Writes to a WebSocket. coder/websocket drops the connection when a
// write's context ends, and a session ends its signaling calls as it
// closes, when what it wrote last (the answer, a candidate) should still
// go, and the WebSocket close with the session's reason: so a write
// outlives its caller's context by a grace, long enough for one under way.
const (
	// signalWriteTimeout bounds one write: a WebSocket that takes no
	// data for that long is treated as gone.
	signalWriteTimeout = 10 * time.Second
	signalWriteGrace   = 250 * time.Millisecond
)

// writeContext is the context of a write for a caller's ctx: it ends
// signalWriteGrace after ctx does, or after signalWriteTimeout.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalWriteTimeout)
	var mu sync.Mutex
	var grace *time.Timer
	finished := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			grace = time.AfterFunc(signalWriteGrace, cancel)
		}
	})
	return wctx, func() {
		stop()
		mu.Lock()
		finished = true
		if grace != nil {
			grace.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// wsCloseError is a WebSocket closed by the other side with a close frame:
// deliberately, unlike a connection that broke.
type wsCloseError struct {
	code   int
	reason string
}

func (e *wsCloseError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("websocket closed with status %d", e.code)
	}
	return fmt.Sprintf("websocket closed with status %d: %s", e.code, e.reason)
}

// sigConn is one signaling WebSocket as a client sees it.
type sigConn interface {
	// read returns the next text message. A *wsCloseError means the other
	// side closed the WebSocket; any other error, that it broke.
	read(ctx context.Context) ([]byte, error)
	// write sends b as a text message.
	write(ctx context.Context, b []byte) error
	// close drops the WebSocket at once, never waiting on the network.
	close()
}

// decodeSignal reads one signaling message, a JSON object (SIGNALING.md).
// From a client only offers, candidates and reconnects are accepted: a
// server owes a client that sends anything else nothing but a close. From
// the server any type passes, for the session to act on or ignore, so that
// a newer server can add one. Errors wrap ErrProtocol.
func decodeSignal(b []byte, fromClient bool) (Signal, error) {
	var s Signal
	if err := json.Unmarshal(b, &s); err != nil {
		return Signal{}, fmt.Errorf("%w: signal is not a JSON object: %v", ErrProtocol, err)
	}
	switch {
	case s.Type == "":
		return Signal{}, fmt.Errorf("%w: signal without a type", ErrProtocol)
	case len(s.Resume) > maxResumeTokenLen:
		return Signal{}, fmt.Errorf("%w: resume token of %d bytes, limit %d", ErrProtocol, len(s.Resume), maxResumeTokenLen)
	case !fromClient && s.Type == SignalAnswer && s.SDP == "":
		return Signal{}, fmt.Errorf("%w: answer without sdp", ErrProtocol)
	case !fromClient:
		return s, nil
	}
	switch s.Type {
	case SignalOffer:
		if s.SDP == "" {
			return Signal{}, fmt.Errorf("%w: offer without sdp", ErrProtocol)
		}
	case SignalCandidate:
	case signalReconnect:
		if s.Resume == "" {
			return Signal{}, fmt.Errorf("%w: reconnect without a resume token", ErrProtocol)
		}
	default:
		return Signal{}, fmt.Errorf("%w: unexpected signal type %q from a client", ErrProtocol, truncate(s.Type, 32))
	}
	return s, nil
}

// SignalerConfig tunes DialSignaler. A nil *SignalerConfig means defaults.
type SignalerConfig struct {
	// Logger receives what the signaler does on its own: WebSocket
	// reconnections and failed attempts. Nothing is logged by default.
	Logger *slog.Logger
}

// DialSignaler opens WebSocket signaling to a game server's SignalHandler
// at url (ws://, wss://, or http:// and https:// for the same), for Dial:
//
//	sig, err := netcode.DialSignaler(ctx, "wss://game.example.com/play", nil)
//	c, err := netcode.Dial(ctx, sig, nil)
//
// The signaler outlives its WebSocket, as the session needs it to: when
// the WebSocket breaks it dials a new one and takes the session's
// signaling over with its resume token, and a resume always goes on a new
// WebSocket, since the old one may be silently dead after a network change
// (SIGNALING.md). It ends when the server closes the WebSocket (the
// session ended; ReadSignal then returns an error wrapping
// ErrSignalingClosed), or when it is closed: Dial takes it over, and the
// Client closes it when the session ends, as Dial does when it fails. ctx
// bounds the opening of the first WebSocket only; its errors wrap
// ErrSignaling, and ctx's error when that ended it. In the browser it uses
// the browser's WebSocket.
func DialSignaler(ctx context.Context, url string, cfg *SignalerConfig) (Signaler, error) {
	u, err := signalURL(url)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg != nil && cfg.Logger != nil {
		log = cfg.Logger
	}
	c, err := dialSigConn(ctx, u)
	if err != nil {
		return nil, err
	}
	s := &wsSignaler{url: u, log: log, conn: c, gen: 1, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// signalURL checks url's scheme and turns http(s) into ws(s).
func signalURL(url string) (string, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	switch strings.ToLower(scheme) {
	case "ws", "wss":
	case "http":
		url = "ws://" + rest
	case "https":
		url = "wss://" + rest
	default:
		ok = false
	}
	if !ok || rest == "" {
		return "", fmt.Errorf("%w: signaling URL %q is not ws://, wss://, http:// or https://", ErrSignaling, url)
	}
	return url, nil
}

// wsSignaler is the client's end of WebSocket signaling: a Signaler over a
// WebSocket it replaces when that one is lost. ReadSignal reconnects; the
// session's writer waits for nothing but its own write.
type wsSignaler struct {
	url    string
	log    *slog.Logger
	ctx    context.Context // ends with Close: aborts dials
	cancel context.CancelFunc

	// dialMu serialises the dials that replace the WebSocket, so that the
	// server sees takeovers in the order the client makes them: with two at
	// once, the server could end up on the one the client dropped.
	dialMu sync.Mutex

	mu    sync.Mutex
	conn  sigConn // the current WebSocket; nil while lost
	gen   uint64  // one more for each WebSocket installed
	token string  // the last resume token the server gave
	err   error   // the signaling is over: every call returns it

	closeOnce sync.Once
	done      chan struct{}
}

// current returns the WebSocket in use and its generation, or the error
// that ended the signaling.
func (s *wsSignaler) current() (sigConn, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn, s.gen, s.err
}

// install makes c the WebSocket in use, of the generation it returns, and
// drops the one it replaces.
func (s *wsSignaler) install(c sigConn) (uint64, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		c.close()
		return 0, err
	}
	old := s.conn
	s.conn = c
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	if old != nil {
		old.close()
	}
	return gen, nil
}

// lost drops the WebSocket of generation gen if it is still the one in
// use.
func (s *wsSignaler) lost(gen uint64) {
	s.mu.Lock()
	c := s.conn
	if s.gen != gen || c == nil {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	s.mu.Unlock()
	c.close()
}

// end makes err the signaling's end.
func (s *wsSignaler) end(err error) {
	s.mu.Lock()
	c := s.conn
	if s.err == nil {
		s.err = err
		s.conn = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

func (s *wsSignaler) setToken(tok string) {
	s.mu.Lock()
	s.token = tok
	s.mu.Unlock()
}

// bound returns ctx, also ended by Close.
func (s *wsSignaler) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// redial replaces the WebSocket of generation gen (any, if gen is 0) with
// a new one whose first message is first; a later generation in use
// already does instead.
func (s *wsSignaler) redial(ctx context.Context, gen uint64, first []byte) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	s.dialMu.Lock()
	defer s.dialMu.Unlock()
	s.mu.Lock()
	cur, err := s.gen, s.err
	s.mu.Unlock()
	switch {
	case err != nil:
		return err
	case gen != 0 && cur != gen:
		return nil
	}
	dctx, dcancel := context.WithTimeout(ctx, signalDialTimeout)
	defer dcancel()
	c, err := dialSigConn(dctx, s.url)
	if err != nil {
		return err
	}
	// In use before the server can see first: the server then closes the
	// old WebSocket (4000), which must not read as the end of the
	// signaling.
	gen, err = s.install(c)
	if err != nil {
		return err
	}
	if err := c.write(dctx, first); err != nil {
		s.lost(gen)
		return fmt.Errorf("%w: %v", ErrSignalingClosed, err)
	}
	return nil
}

// reconnect takes the session's signaling over on a new WebSocket after
// the one of generation gen was lost, trying until it works, the server
// refuses, or ctx or Close ends it.
func (s *wsSignaler) reconnect(ctx context.Context, gen uint64) error {
	wait := reconnectMinWait
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(jitter(wait))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-s.done:
				t.Stop()
				return fmt.Errorf("websocket signaling: %w", ErrClosed)
			}
			wait = min(2*wait, reconnectMaxWait)
		}
		err := s.reconnectOnce(ctx, gen)
		if err == nil {
			s.log.Info("netcode: signaling WebSocket reconnected", "url", s.url, "attempt", attempt+1)
			return nil
		}
		if _, _, final := s.current(); final != nil {
			return final
		}
		s.log.Debug("netcode: signaling WebSocket reconnect failed", "url", s.url, "attempt", attempt+1, "err", err)
	}
}

// reconnectOnce is one attempt of reconnect.
func (s *wsSignaler) reconnectOnce(ctx context.Context, gen uint64) error {
	s.mu.Lock()
	tok := s.token
	s.mu.Unlock()
	if tok == "" {
		// Before the server's answer there is no session to take over.
		err := fmt.Errorf("%w: the WebSocket was lost before the server answered", ErrSignalingClosed)
		s.end(err)
		return err
	}
	hello, _ := json.Marshal(Signal{Type: signalReconnect, Resume: tok})
	return s.redial(ctx, gen, hello)
}

// WriteSignal sends sg on the WebSocket in use; a resume offer goes on a
// new one.
func (s *wsSignaler) WriteSignal(ctx context.Context, sg Signal) error {
	b, err := json.Marshal(sg)
	if err != nil {
		return fmt.Errorf("websocket signaling: %w", err)
	}
	if sg.Type == SignalOffer && sg.Resume != "" {
		// The PeerConnection failed, most likely with the network under
		// it, and the WebSocket may be dead without knowing it yet: a
		// resume goes on a new one, which the offer's token routes to the
		// session.
		return s.redial(ctx, 0, b)
	}
	c, gen, err := s.current()
	if err == nil && c == nil {
		// Lost: take the signaling over now rather than drop sg (an ICE
		// restart offer, say). If the reader is reconnecting already,
		// this waits for it and uses its WebSocket.
		if err = s.reconnectOnce(ctx, gen); err == nil {
			c, gen, err = s.current()
		}
	}
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("%w: reconnecting", ErrSignalingClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ctx, wcancel := writeContext(ctx)
	defer wcancel()
	if err := c.write(ctx, b); err != nil {
		// The reader reconnects; what was not written is the session's to
		// send again, as after any failed write.
		s.lost(gen)
		return fmt.Errorf("%w: %v", ErrSignalingClosed, err)
	}
	return nil
}

// ReadSignal returns the next signal from the server, reconnecting as
// needed.
func (s *wsSignaler) ReadSignal(ctx context.Context) (Signal, error) {
	for {
		c, gen, err := s.current()
		if err != nil {
			return Signal{}, err
		}
		if c == nil {
			if err := s.reconnect(ctx, gen); err != nil {
				return Signal{}, err
			}
			continue
		}
		b, err := c.read(ctx)
		if err == nil || errors.Is(err, ErrProtocol) {
			var sg Signal
			if err == nil {
				sg, err = decodeSignal(b, false)
			}
			if err != nil {
				err = fmt.Errorf("websocket signaling: %w", err)
				s.end(err)
				return Signal{}, err
			}
			if sg.Type == SignalAnswer && sg.Resume != "" {
				s.setToken(sg.Resume)
			}
			return sg, nil
		}
		var ce *wsCloseError
		switch {
		case ctx.Err() != nil:
			s.lost(gen) // a read cut short leaves the WebSocket unusable
			return Signal{}, ctx.Err()
		case errors.As(err, &ce) && ce.code != wsReplaced:
			s.mu.Lock()
			mine := s.gen == gen && s.conn != nil
			s.mu.Unlock()
			if mine {
				// The server closed it: the session ended, or the server
				// refused the signaling. Nothing to reconnect to.
				err = fmt.Errorf("%w: %v", ErrSignalingClosed, ce)
				s.end(err)
				return Signal{}, err
			}
		default:
			s.log.Debug("netcode: signaling WebSocket lost", "url", s.url, "err", err)
			s.lost(gen)
		}
	}
}

// Close drops the WebSocket and ends pending calls. It never waits on the
// network.
func (s *wsSignaler) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.cancel()
		s.end(fmt.Errorf("websocket signaling: %w", ErrClosed))
	})
	return nil
}
