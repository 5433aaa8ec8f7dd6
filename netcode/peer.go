package netcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// The two data channels. Both are opened in-band by the client (DCEP, never
// pre-negotiated: pion does not apply partial reliability to negotiated
// channels, see ../shared/FIELD-NOTES.md) and carry protocolName so that a
// server can refuse a client that speaks something else.
const (
	labelSnapshots = "snapshots"
	labelEvents    = "events"
	protocolName   = "tickwire.v1"
)

// eventOverhead bounds the header of an event message (see wire.Overhead).
const eventOverhead = wire.Overhead + 9

// maxPendingCandidates bounds remote candidates held until the remote
// description is known.
const maxPendingCandidates = 64

// closeFlushTimeout bounds how long Close waits for the close message to leave.
const closeFlushTimeout = 250 * time.Millisecond

type role uint8

const (
	roleClient role = iota
	roleServer
)

// datagram is a received snapshot or input.
type datagram struct {
	seq      uint64
	payload  []byte
	received time.Time
}

// peer is one end of a client-server session: the queues the application
// reads from, the sequence numbers, the resend buffer and the state, and
// the current link (link.go) that carries them. A resume replaces the link;
// the peer, and with it the Client or Session, stays.
//
// Goroutines: the signal reader and writer, the closer, and once the first
// link is open the ping loop and the supervisor (restart.go), plus a read
// loop per channel of the current link. Receive state belongs to the read
// loops; send state and link swaps are guarded by sendMu; what the
// application reads is handed over under mu; teardown belongs to the closer.
type peer struct {
	cfg     *Config
	role    role
	inKind  wire.Kind // the unreliable kind this side receives
	outKind wire.Kind // and the one it sends
	log     *slog.Logger
	logRate rate.Sometimes

	sig   Signaler
	epoch time.Time

	ctx    context.Context // cancelled when closing starts
	cancel context.CancelFunc

	link    atomic.Pointer[link] // the current one; written under sendMu
	started atomic.Bool          // the first link opened: the session exists
	// mkLink builds a link of generation gen: the client's with its two
	// channels, the server's ready to take them.
	mkLink func(gen uint32) (*link, error)
	// tokens issues and redeems resume tokens (server only).
	tokens tokenAuthority
	// screen holds the client's signaling to the server's limits (server
	// only, candidates.go). Used by the signal reader, and by Accept
	// before the reader starts.
	screen signalScreen
	token  atomic.Pointer[string] // the token to resume with (client only)
	sigEnd atomic.Bool            // the signaler is gone: no restart, no resume

	sigOut chan Signal // to the signal writer

	// Connection state (restart.go). state is written under stateMu.
	stateMu    sync.Mutex
	state      atomic.Int32
	states     chan StateChange
	wakeC      chan struct{} // wakes the supervisor
	probeReq   chan string   // CheckPath, to the supervisor
	restartReq chan struct{} // the server asks for an ICE restart
	lastRecv   atomic.Int64  // p.now() of the last snapshot-channel message

	sendMu      sync.Mutex
	enc         *wire.Encoder
	msg         wire.Message
	unrelSeq    uint64
	eventSeq    atomic.Uint64 // written under sendMu
	resend      []sentEvent   // events the peer has not acknowledged, oldest first
	resendBytes int
	recvAck     atomic.Uint64 // highest event seq received in order
	peerAck     atomic.Uint64 // highest of ours the peer confirmed

	stats counters
	rtt   rttEstimator

	mu           sync.Mutex
	dq           []datagram // ring of received snapshots or inputs
	dqHead       int
	dqLen        int
	unrelHighest uint64 // highest unreliable seq accepted, across links
	events       [][]byte
	dgReady      chan struct{}
	evReady      chan struct{}
	closeErr     *CloseError // set before closing is closed

	closeOnce    sync.Once
	closing      chan struct{}
	sendCloseMsg bool
	onClosed     func()
	wg           sync.WaitGroup
}

// sentEvent is an encoded event kept until the peer acknowledges it.
type sentEvent struct {
	seq uint64
	b   []byte
}

// tokenAuthority is the server's side of resume tokens (tokens.go).
type tokenAuthority interface {
	// issue makes a fresh token for p, replacing the one it had.
	issue(p *peer) string
	// redeem checks a token presented to resume p and, if it is p's current
	// one, spends it and returns the next.
	redeem(token string, p *peer) (next string, err error)
	// retire forgets p's token as p closes with ce.
	retire(p *peer, ce *CloseError)
	// refusal is what a client is told of a redeem's error.
	refusal(err error) string
}

// signalScreen is the server's check of what a client's signaling asks of
// it (candidates.go).
type signalScreen interface {
	// signal counts one signal against the client's rate.
	signal() error
	// offer removes the candidates of an offer the server may not use,
	// and starts counting a new connection attempt's candidates.
	offer(sdp string) (string, error)
	// candidate says whether to use a trickled candidate; an error means
	// the client went past a limit.
	candidate(c ICECandidate) (bool, error)
}

// onClosed, if not nil, runs once the peer has closed.
func newPeer(cfg *Config, r role, sig Signaler, onClosed func()) *peer {
	p := &peer{
		cfg:      cfg,
		role:     r,
		log:      cfg.Logger,
		logRate:  rate.Sometimes{Interval: time.Second},
		sig:      sig,
		epoch:    time.Now(),
		sigOut:   make(chan Signal, maxPendingCandidates),
		enc:      wire.NewEncoder(),
		dgReady:  make(chan struct{}, 1),
		evReady:  make(chan struct{}, 1),
		closing:  make(chan struct{}),
		onClosed: onClosed,

		states:     make(chan StateChange, stateBuffer),
		wakeC:      make(chan struct{}, 1),
		probeReq:   make(chan string, 1),
		restartReq: make(chan struct{}, 1),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if r == roleClient {
		p.inKind, p.outKind = wire.KindSnapshot, wire.KindInput
		p.dq = make([]datagram, 1) // newest wins
	} else {
		p.inKind, p.outKind = wire.KindInput, wire.KindSnapshot
		p.dq = make([]datagram, cfg.InputQueue)
	}
	p.wg.Add(2)
	go p.closer()
	go p.signalWriter()
	return p
}

// startReading starts the signal reader, once the first link is current
// for the signals to find.
func (p *peer) startReading() {
	p.wg.Add(1)
	go p.signalReader()
}

// now is the peer's clock: time since it started, monotonic.
func (p *peer) now() int64 { return int64(time.Since(p.epoch)) }

// wake tells the supervisor something changed, without blocking.
func (p *peer) wake() { notify(p.wakeC) }

// open waits for the first link's channels and starts the session on it.
func (p *peer) open(ctx context.Context, l *link) error {
	if err := l.waitOpen(ctx, p.closing, p.Err); err != nil {
		return err
	}
	if !p.adopt(l, false) {
		return p.Err()
	}
	p.started.Store(true)
	p.setState(StateConnected, "channels open")
	p.wg.Add(2)
	go p.pingLoop()
	go p.supervise()
	return nil
}

// queueSignal hands s to the signal writer without blocking a pion callback.
func (p *peer) queueSignal(s Signal) {
	select {
	case p.sigOut <- s:
	default:
		p.logRate.Do(func() { p.log.Warn("signaling backlog full, dropping", "type", s.Type) })
	}
}

// signalWriter sends what the links queue. Once the session is up, a
// failed write is only logged: the restart or resume that needed it tries
// again, and a signaler that is gone for good shows in its reads.
func (p *peer) signalWriter() {
	defer p.wg.Done()
	for {
		select {
		case <-p.closing:
			return
		case s := <-p.sigOut:
			if err := p.sig.WriteSignal(p.ctx, s); err != nil {
				if !p.started.Load() {
					if l := p.link.Load(); l != nil {
						l.fail(fmt.Errorf("%w: write %s: %v", ErrSignaling, s.Type, err))
					}
					return
				}
				p.logRate.Do(func() { p.log.Debug("signaling write failed", "type", s.Type, "err", err) })
			}
		}
	}
}

// signalReader applies remote signals to the link they belong to (by
// generation). It owns the links' remote description state, and on the
// server it creates the links that resume offers ask for.
func (p *peer) signalReader() {
	defer p.wg.Done()
	for {
		s, err := p.sig.ReadSignal(p.ctx)
		if err != nil {
			if p.isClosing() {
				return
			}
			if !p.started.Load() {
				if l := p.link.Load(); l != nil {
					l.fail(fmt.Errorf("%w: read: %v", ErrSignaling, err))
				}
			}
			// No restart or resume can reach the peer any more; the session
			// lives on until its connection fails.
			p.log.Debug("signaling ended", "err", err)
			p.sigEnd.Store(true)
			p.wake()
			return
		}
		l := p.link.Load() // set before the reader starts
		if p.screen != nil {
			if err := p.screen.signal(); err != nil {
				p.overLimit(l, err)
				return
			}
		}
		switch {
		case s.Type == SignalOffer && p.role == roleServer && s.Resume != "":
			p.resumeOffer(s)
		case s.Gen != l.gen:
			// For a link already replaced (or, from a confused peer, one
			// that never was): nothing to apply it to.
			p.log.Debug("signal for another connection dropped", "type", s.Type, "gen", s.Gen, "current", l.gen)
		case s.Type == SignalAnswer && p.role == roleClient && !l.remoteSet:
			if err := l.rc.setAnswer(s.SDP); err != nil {
				l.fail(fmt.Errorf("%w: answer: %v", ErrSignaling, err))
				continue
			}
			l.remoteSet = true
			if s.Resume != "" {
				p.token.Store(&s.Resume)
			}
			p.addPending(l)
		case s.Type == SignalAnswer && p.role == roleClient && l.isOffering():
			// The answer to an ICE restart (restart.go).
			err := l.rc.setAnswer(s.SDP)
			l.sdpMu.Lock()
			l.offering = false
			l.sdpMu.Unlock()
			if err != nil {
				p.logRate.Do(func() { p.log.Warn("ICE restart answer refused", "err", err) })
				continue
			}
			p.addPending(l)
		case s.Type == SignalOffer && p.role == roleServer && l.open.Load():
			if err := p.answerRestart(l, s.SDP); err != nil {
				p.logRate.Do(func() { p.log.Warn("ICE restart offer refused", "err", err) })
			}
		case s.Type == SignalRefused && p.role == roleClient:
			p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "resume refused: " + truncate(s.Error, wire.MaxReasonLen),
				Err: fmt.Errorf("%w: %s", ErrResumeRejected, truncate(s.Error, wire.MaxReasonLen))}, false)
			return
		case s.Type == SignalRestart && p.role == roleClient:
			notify(p.restartReq)
		case s.Type == SignalCandidate:
			switch {
			case s.Candidate == nil:
				// End of candidates: neither stack needs it.
			case p.screen != nil && !p.useCandidate(l, *s.Candidate):
			case l.remoteSet && !l.isOffering():
				p.addCandidate(l, *s.Candidate)
			case len(l.pending) < maxPendingCandidates:
				l.pending = append(l.pending, *s.Candidate)
			}
		default:
			p.logRate.Do(func() { p.log.Warn("unexpected signal ignored", "type", s.Type) })
		}
	}
}

func (l *link) isOffering() bool {
	l.sdpMu.Lock()
	defer l.sdpMu.Unlock()
	return l.offering
}

// useCandidate applies the server's limits to a trickled candidate: false
// when it is not to be used, and when the client went past a limit, which
// ends its handshake or session.
func (p *peer) useCandidate(l *link, c ICECandidate) bool {
	use, err := p.screen.candidate(c)
	if err != nil {
		p.overLimit(l, err)
	}
	return use && err == nil
}

// overLimit ends the handshake of l, or the session, for a client that
// went past one of the server's limits.
func (p *peer) overLimit(l *link, err error) {
	p.logRate.Do(func() { p.log.Info("client over a limit", "err", err) })
	if !p.started.Load() {
		l.fail(err)
		return
	}
	p.closeWith(&CloseError{Code: CloseProtocolError, Reason: truncate(err.Error(), wire.MaxReasonLen), Err: err}, true)
}

// addPending applies the candidates that arrived before the description.
func (p *peer) addPending(l *link) {
	for _, c := range l.pending {
		p.addCandidate(l, c)
	}
	l.pending = nil
}

func (p *peer) addCandidate(l *link, c ICECandidate) {
	if err := l.rc.addCandidate(c); err != nil {
		p.logRate.Do(func() { p.log.Warn("bad remote candidate ignored", "err", err) })
	}
}

// truncate cuts s to at most n bytes, at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// closeWith starts closing, once. notify sends ce to the peer first.
func (p *peer) closeWith(ce *CloseError, notify bool) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closeErr = ce
		p.mu.Unlock()
		p.sendCloseMsg = notify && !ce.Remote && ce.Code != CloseConnectionLost
		// closing first: whoever sees the Closed state (or Err) finds
		// every call failing, not a SendEvent still accepted.
		close(p.closing)
		p.setState(StateClosed, ce.Error())
		p.log.Debug("closing", "reason", ce.Error())
	})
}

// closer tears everything down once closing starts, so that no read loop or
// pion callback ever waits on its own teardown.
func (p *peer) closer() {
	defer p.wg.Done()
	<-p.closing
	l := p.link.Load()
	if p.sendCloseMsg && l != nil && l.open.Load() {
		p.flushClose(l)
	}
	p.cancel()
	if l != nil {
		l.close()
	}
	_ = p.sig.Close()
	if p.tokens != nil {
		p.tokens.retire(p, p.Err().(*CloseError))
	}
	if p.onClosed != nil {
		p.onClosed()
	}
}

// flushClose sends the close message and gives it a bounded moment to leave
// before the association goes down.
func (p *peer) flushClose(l *link) {
	ce := p.Err().(*CloseError)
	p.sendMu.Lock()
	b, err := p.enc.Encode(&wire.Message{Kind: wire.KindClose, Code: uint16(ce.Code), Reason: truncate(ce.Reason, wire.MaxReasonLen)})
	if err == nil {
		_, err = l.r.rw.Write(b)
	}
	p.sendMu.Unlock()
	if err != nil {
		return
	}
	deadline := time.Now().Add(closeFlushTimeout)
	for l.r.ch.bufferedAmount() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// close closes with a local reason and waits for every goroutine.
func (p *peer) close(code CloseCode, reason string) error {
	p.closeWith(&CloseError{Code: code, Reason: reason}, true)
	p.wg.Wait()
	return nil
}

// Err returns nil while open, then the *CloseError that ended the peer.
func (p *peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closeErr == nil {
		return nil
	}
	return p.closeErr
}

func (p *peer) isClosing() bool {
	select {
	case <-p.closing:
		return true
	default:
		return false
	}
}

// countBad counts and logs, rate-limited, a message the peer should not have
// sent.
func (p *peer) countBad(channel string, err error) {
	p.stats.malformed.Add(1)
	p.logRate.Do(func() { p.log.Warn("bad message from peer", "channel", channel, "err", err) })
}

// badMessage counts a bad message and closes the session with the code
// WIRE.md gives it, unless it is merely of an unknown kind.
func (p *peer) badMessage(channel string, err error) (closed bool) {
	p.countBad(channel, err)
	switch {
	case errors.Is(err, wire.ErrUnknownKind):
		return false
	case errors.Is(err, wire.ErrVersion):
		p.closeWith(&CloseError{Code: CloseVersionMismatch, Reason: err.Error(), Err: ErrProtocol}, true)
	default:
		p.closeWith(&CloseError{Code: CloseProtocolError, Reason: err.Error(), Err: ErrProtocol}, true)
	}
	return true
}

// readFailed handles a read error on a channel of l.
func (p *peer) readFailed(l *link, channel string, err error) {
	if p.isClosing() || l.isDown() {
		return
	}
	if errors.Is(err, io.ErrShortBuffer) {
		p.stats.malformed.Add(1)
		p.log.Warn("message over the size budget", "channel", channel)
		p.closeWith(&CloseError{Code: CloseTooLarge, Reason: channel + " message over the size budget", Err: ErrProtocol}, true)
		return
	}
	// The connection under the session failed; the supervisor resumes it
	// on a new one or gives up.
	p.log.Debug("channel failed", "channel", channel, "err", err, "gen", l.gen)
	l.broken.Store(true)
	p.wake()
}

func (p *peer) readUnreliable(l *link) {
	defer l.wg.Done()
	// The receive limit is the protocol's, not our own send budget, so that
	// two ends configured differently still talk.
	buf := make([]byte, maxUnreliableSize)
	dec := wire.NewDecoder()
	enc := wire.NewEncoder()
	var m wire.Message
	for {
		n, err := l.u.rw.Read(buf)
		if err != nil {
			if !errors.Is(err, io.ErrShortBuffer) {
				// The close message, if any, comes on the events channel;
				// let its read loop report why before we call it failed.
				select {
				case <-p.closing:
					return
				case <-l.down:
					return
				case <-time.After(time.Second):
				}
			}
			p.readFailed(l, labelSnapshots, err)
			return
		}
		p.lastRecv.Store(p.now())
		p.stats.bytesIn.Add(uint64(n))
		if err := dec.Decode(buf[:n], &m); err != nil {
			if p.badMessage(labelSnapshots, err) {
				return
			}
			continue
		}
		switch m.Kind {
		case p.inKind:
			p.pushDatagram(datagram{seq: m.Seq, payload: m.Payload, received: time.Now()})
		case wire.KindPing:
			b, err := enc.Encode(&wire.Message{Kind: wire.KindPong, Seq: m.Seq, Time: m.Time})
			if err == nil {
				p.writeRaw(l.u.rw, b)
			}
		case wire.KindPong:
			rtt := time.Since(p.epoch) - time.Duration(m.Time)
			if m.Time <= 0 || rtt < 0 || rtt > time.Minute {
				p.countBad(labelSnapshots, fmt.Errorf("pong with a time we never sent: %d", m.Time))
				continue
			}
			p.rtt.add(rtt)
		default:
			if p.badMessage(labelSnapshots, fmt.Errorf("%w: %v not allowed here", wire.ErrMalformed, m.Kind)) {
				return
			}
		}
	}
}

func (p *peer) readReliable(l *link) {
	defer l.wg.Done()
	buf := make([]byte, p.cfg.MaxEventSize+eventOverhead)
	dec := wire.NewDecoder()
	var m wire.Message
	for {
		n, err := l.r.rw.Read(buf)
		if err != nil {
			p.readFailed(l, labelEvents, err)
			return
		}
		p.stats.bytesIn.Add(uint64(n))
		if err := dec.Decode(buf[:n], &m); err != nil {
			if p.badMessage(labelEvents, err) {
				return
			}
			continue
		}
		switch m.Kind {
		case wire.KindEvent:
			if err := p.checkAck(m.Ack); err != nil {
				p.badMessage(labelEvents, err)
				return
			}
			last := p.recvAck.Load()
			switch {
			case m.Seq <= last:
				// A duplicate: a resend after a resume (the peer resends
				// all it has not seen acknowledged).
				continue
			case m.Seq != last+1:
				p.badMessage(labelEvents, fmt.Errorf("%w: event seq %d after %d", wire.ErrMalformed, m.Seq, last))
				return
			case len(m.Payload) > p.cfg.MaxEventSize:
				p.stats.malformed.Add(1)
				p.closeWith(&CloseError{Code: CloseTooLarge, Reason: fmt.Sprintf("event of %d bytes, limit %d", len(m.Payload), p.cfg.MaxEventSize), Err: ErrProtocol}, true)
				return
			}
			if !p.pushEvent(clone(m.Payload)) {
				return
			}
			p.recvAck.Store(m.Seq)
			p.stats.eventsRecv.Add(1)
		case wire.KindAck:
			if err := p.checkAck(m.Ack); err != nil {
				p.badMessage(labelEvents, err)
				return
			}
		case wire.KindClose:
			p.closeWith(&CloseError{Code: CloseCode(m.Code), Reason: m.Reason, Remote: true}, false)
			return
		default:
			if p.badMessage(labelEvents, fmt.Errorf("%w: %v not allowed here", wire.ErrMalformed, m.Kind)) {
				return
			}
		}
	}
}

// checkAck records the peer's ack of our events; it may not ack what we never sent.
func (p *peer) checkAck(ack uint64) error {
	if ack > p.eventSeq.Load() {
		return fmt.Errorf("%w: ack %d of %d events sent", wire.ErrMalformed, ack, p.eventSeq.Load())
	}
	for {
		old := p.peerAck.Load()
		if ack <= old || p.peerAck.CompareAndSwap(old, ack) {
			return nil
		}
	}
}

func (p *peer) pingLoop() {
	defer p.wg.Done()
	enc := wire.NewEncoder()
	ping := time.NewTicker(p.cfg.PingInterval)
	defer ping.Stop()
	// Acks go out more often than pings: until the peer hears of them, the
	// events it sent fill its resend buffer (Config.EventBuffer).
	ack := time.NewTicker(min(ackInterval, p.cfg.PingInterval))
	defer ack.Stop()
	var id, ackSent uint64
	sendPing := true
	for {
		l := p.link.Load()
		if l != nil && l.open.Load() {
			if sendPing {
				id++
				if b, err := enc.Encode(&wire.Message{Kind: wire.KindPing, Seq: id, Time: p.now()}); err == nil {
					p.writeRaw(l.u.rw, b)
				}
			}
			// Confirm received events even when traffic is one-way (WIRE.md).
			if a := p.recvAck.Load(); a != ackSent {
				if b, err := enc.Encode(&wire.Message{Kind: wire.KindAck, Ack: a}); err == nil {
					p.writeRaw(l.r.rw, b)
					ackSent = a
				}
			}
		}
		select {
		case <-p.closing:
			return
		case <-ping.C:
			sendPing = true
			p.stats.updateLoss()
		case <-ack.C:
			sendPing = false
		}
		p.sendMu.Lock()
		p.trimResendLocked()
		p.sendMu.Unlock()
	}
}

// ackInterval is how often a side confirms the events it received when it
// has none of its own to carry the ack.
const ackInterval = 100 * time.Millisecond

// writeRaw writes a control message; failures surface through the read loops.
func (p *peer) writeRaw(w io.Writer, b []byte) {
	if n, err := w.Write(b); err == nil {
		p.stats.bytesOut.Add(uint64(n))
	}
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// sendUnreliable sends a snapshot (server) or an input (client). It never
// blocks: a congested transport refuses the message, and so does one that
// is being replaced.
func (p *peer) sendUnreliable(payload []byte) error {
	if p.isClosing() {
		return p.Err()
	}
	if len(payload) > p.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: %v payload of %d bytes, limit %d", ErrTooLarge, p.outKind, len(payload), p.cfg.MaxUnreliableSize)
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	l := p.link.Load()
	if l == nil || !l.open.Load() {
		p.stats.congested.Add(1)
		return errResuming
	}
	p.msg = wire.Message{Kind: p.outKind, Seq: p.unrelSeq + 1, Payload: payload}
	b, err := p.enc.Encode(&p.msg)
	p.msg.Payload = nil
	if err != nil {
		return err
	}
	if len(b) > p.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: %v of %d bytes encoded, limit %d", ErrTooLarge, p.outKind, len(b), p.cfg.MaxUnreliableSize)
	}
	if l.u.ch.bufferedAmount()+uint64(len(b)) > uint64(p.cfg.UnreliableBuffer) {
		p.stats.congested.Add(1)
		return ErrCongested
	}
	if _, err := l.u.rw.Write(b); err != nil {
		// The link failed under us; the supervisor hears of it from the
		// read loops. Like congestion, this costs only this message.
		p.stats.congested.Add(1)
		return fmt.Errorf("%w: %v", ErrCongested, err)
	}
	p.unrelSeq++
	p.stats.unrelSent.Add(1)
	p.stats.bytesOut.Add(uint64(len(b)))
	return nil
}

// errResuming refuses unreliable sends while no connection carries them.
var errResuming = fmt.Errorf("%w: reconnecting", ErrCongested)

// sendEvent queues a reliable event. It never blocks: the event goes into
// the resend buffer, and onto the current link if it is open. Past
// Config.EventBuffer unacknowledged bytes it refuses while connected, and
// ends the session while reconnecting (the peer is not draining the
// buffer, and a refused event would be lost to a game that does not check).
func (p *peer) sendEvent(payload []byte) error {
	if p.isClosing() {
		return p.Err()
	}
	if len(payload) > p.cfg.MaxEventSize {
		return fmt.Errorf("%w: event of %d bytes, limit %d", ErrTooLarge, len(payload), p.cfg.MaxEventSize)
	}
	p.sendMu.Lock()
	seq := p.eventSeq.Load() + 1
	p.msg = wire.Message{Kind: wire.KindEvent, Seq: seq, Ack: p.recvAck.Load(), Payload: payload}
	b, err := p.enc.Encode(&p.msg)
	p.msg.Payload = nil
	if err != nil {
		p.sendMu.Unlock()
		return err
	}
	p.trimResendLocked()
	if p.resendBytes+len(b) > p.cfg.EventBuffer {
		held, n := p.resendBytes, len(p.resend)
		p.sendMu.Unlock()
		if st := State(p.state.Load()); st == StateReconnecting || st == StateResuming {
			p.closeWith(&CloseError{Code: CloseBufferOverflow,
				Reason: fmt.Sprintf("%d events (%d bytes) unacknowledged while %v, EventBuffer %d", n, held, st, p.cfg.EventBuffer),
				Err:    ErrEventBufferFull}, false)
			return p.Err()
		}
		return ErrEventBufferFull
	}
	// Counted before the write: on loopback the peer can receive the event
	// and ack it before Write returns, and checkAck must not take that ack
	// for one of an event never sent.
	p.eventSeq.Store(seq)
	e := sentEvent{seq: seq, b: append([]byte(nil), b...)}
	p.resend = append(p.resend, e)
	p.resendBytes += len(e.b)
	if l := p.link.Load(); l != nil && l.open.Load() {
		if _, err := l.r.rw.Write(e.b); err != nil {
			// Kept for the next connection; the read loop reports this one.
			p.log.Debug("event write failed, kept for resend", "seq", seq, "err", err)
		} else {
			p.stats.bytesOut.Add(uint64(len(b)))
		}
	}
	p.sendMu.Unlock()
	p.stats.eventsSent.Add(1)
	return nil
}

// trimResendLocked forgets the events the peer has acknowledged. Under sendMu.
func (p *peer) trimResendLocked() {
	ack := p.peerAck.Load()
	i := 0
	for i < len(p.resend) && p.resend[i].seq <= ack {
		p.resendBytes -= len(p.resend[i].b)
		p.resend[i] = sentEvent{}
		i++
	}
	if i > 0 {
		p.resend = p.resend[i:]
		if len(p.resend) == 0 {
			p.resend = p.resend[:0:0] // let the old array go
		}
	}
}

// pushDatagram stores a received snapshot or input, unless one with a
// higher seq came first (across links too: the peer's numbers go on after a
// resume); when the ring is full the oldest goes (for a client, whose ring
// holds one, that is "newest wins"). It copies the payload.
func (p *peer) pushDatagram(d datagram) {
	p.mu.Lock()
	if d.seq <= p.unrelHighest {
		p.mu.Unlock()
		p.stats.unrelStale.Add(1)
		return
	}
	if gap := d.seq - p.unrelHighest - 1; gap > 0 {
		p.stats.lost.Add(gap)
	}
	p.unrelHighest = d.seq
	d.payload = clone(d.payload)
	if p.dqLen == len(p.dq) {
		p.dqHead = (p.dqHead + 1) % len(p.dq)
		p.dqLen--
		if p.role == roleServer {
			p.stats.inputsOverflow.Add(1)
		}
	}
	p.dq[(p.dqHead+p.dqLen)%len(p.dq)] = d
	p.dqLen++
	p.mu.Unlock()
	p.stats.unrelRecv.Add(1)
	notify(p.dgReady)
}

// pushEvent queues a received event; false means the queue overflowed and
// the session is closing.
func (p *peer) pushEvent(e []byte) bool {
	p.mu.Lock()
	full := len(p.events) >= p.cfg.EventQueue
	if !full {
		p.events = append(p.events, e)
	}
	p.mu.Unlock()
	if full {
		p.closeWith(&CloseError{Code: CloseSlowReader, Reason: fmt.Sprintf("%d received events left unread", p.cfg.EventQueue), Err: ErrSlowReader}, true)
		return false
	}
	notify(p.evReady)
	return true
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// popDatagram takes the oldest queued datagram, under mu.
func (p *peer) popDatagramLocked() (datagram, bool) {
	if p.dqLen == 0 {
		return datagram{}, false
	}
	d := p.dq[p.dqHead]
	p.dq[p.dqHead] = datagram{}
	p.dqHead = (p.dqHead + 1) % len(p.dq)
	p.dqLen--
	return d, true
}

// readDatagram waits for the next datagram. Queued data is returned before
// the close error, as a socket returns data before EOF.
func (p *peer) readDatagram(ctx context.Context) (datagram, error) {
	for {
		p.mu.Lock()
		d, ok := p.popDatagramLocked()
		more := p.dqLen > 0
		closeErr := p.closeErr
		p.mu.Unlock()
		if ok {
			if more {
				notify(p.dgReady)
			}
			return d, nil
		}
		if closeErr != nil {
			return datagram{}, closeErr
		}
		select {
		case <-p.dgReady:
		case <-p.closing:
		case <-ctx.Done():
			return datagram{}, ctx.Err()
		}
	}
}

func (p *peer) tryReadDatagram() (datagram, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.popDatagramLocked()
}

// readEvent waits for the next event, in order.
func (p *peer) readEvent(ctx context.Context) ([]byte, error) {
	for {
		p.mu.Lock()
		var e []byte
		ok := len(p.events) > 0
		if ok {
			e = p.events[0]
			p.events[0] = nil
			p.events = p.events[1:]
		}
		more := len(p.events) > 0
		closeErr := p.closeErr
		p.mu.Unlock()
		if ok {
			if more {
				notify(p.evReady)
			}
			return e, nil
		}
		if closeErr != nil {
			return nil, closeErr
		}
		select {
		case <-p.evReady:
		case <-p.closing:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// readEvents appends every queued event to dst, without blocking.
func (p *peer) readEvents(dst [][]byte) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	dst = append(dst, p.events...)
	clear(p.events)
	p.events = p.events[:0]
	return dst
}

func (p *peer) statsSnapshot() Stats {
	srtt, rttvar := p.rtt.get()
	c := &p.stats
	s := Stats{
		RTT:            srtt,
		RTTVar:         rttvar,
		Congested:      c.congested.Load(),
		EventsSent:     c.eventsSent.Load(),
		EventsReceived: c.eventsRecv.Load(),
		EventsUnacked:  p.eventSeq.Load() - p.peerAck.Load(),
		EventsResent:   c.eventsResent.Load(),
		Restarts:       c.restarts.Load(),
		Resumes:        c.resumes.Load(),
		Lost:           c.lost.Load(),
		Loss:           c.loss(),
		BytesIn:        c.bytesIn.Load(),
		BytesOut:       c.bytesOut.Load(),
		Malformed:      c.malformed.Load(),

		CandidatesRefused: c.candidatesRefused.Load(),
	}
	if p.role == roleClient {
		s.InputsSent = c.unrelSent.Load()
		s.SnapshotsReceived = c.unrelRecv.Load()
		s.SnapshotsStale = c.unrelStale.Load()
	} else {
		s.SnapshotsSent = c.unrelSent.Load()
		s.InputsReceived = c.unrelRecv.Load()
		s.InputsStale = c.unrelStale.Load()
		s.InputsOverflow = c.inputsOverflow.Load()
	}
	return s
}
