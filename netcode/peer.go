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

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
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

// peer is one end of a client-server connection: the PeerConnection, its two
// detached channels, their read loops, and the queues the application reads
// from. Client and Session are thin wrappers around it.
//
// Goroutines: the signal reader and writer, the closer, and once the channels
// are open a read loop per channel and the ping loop. Receive state belongs to
// the read loop of its channel; send state is guarded by sendMu; what the
// application reads is handed over under mu; teardown belongs to the closer.
type peer struct {
	cfg     *Config
	role    role
	inKind  wire.Kind // the unreliable kind this side receives
	outKind wire.Kind // and the one it sends
	log     *slog.Logger
	logRate rate.Sometimes

	pc    *webrtc.PeerConnection
	sig   Signaler
	epoch time.Time

	ctx    context.Context // cancelled when closing starts
	cancel context.CancelFunc

	// Handshake. opened and failed are written by pion callbacks and read by
	// waitOpen; the channel fields are set by waitOpen before started is set.
	detached chan detachedChannel
	failed   chan error
	started  atomic.Bool
	udc, rdc *webrtc.DataChannel
	urw, rrw datachannel.ReadWriteCloser

	sigOut chan Signal // to the signal writer

	// Gathering starts inside SetLocalDescription, before the offer or
	// answer is queued; candidates wait in early until it is.
	sdpMu    sync.Mutex
	sdpSent  bool
	early    []Signal
	offering bool // an ICE restart offer waits for its answer (client)

	// Connection state (restart.go). state is written under stateMu.
	stateMu  sync.Mutex
	state    atomic.Int32
	states   chan StateChange
	iceState atomic.Int32  // pion's latest webrtc.ICEConnectionState
	iceKick  chan struct{} // tells the restarter it changed

	sendMu   sync.Mutex
	enc      *wire.Encoder
	msg      wire.Message
	unrelSeq uint64
	eventSeq atomic.Uint64 // written under sendMu
	recvAck  atomic.Uint64 // highest event seq received in order
	peerAck  atomic.Uint64 // highest of ours the peer confirmed

	stats counters
	rtt   rttEstimator

	mu       sync.Mutex
	dq       []datagram // ring of received snapshots or inputs
	dqHead   int
	dqLen    int
	events   [][]byte
	dgReady  chan struct{}
	evReady  chan struct{}
	closeErr *CloseError // set before closing is closed

	closeOnce    sync.Once
	closing      chan struct{}
	sendCloseMsg bool
	onClosed     func()
	wg           sync.WaitGroup
}

type detachedChannel struct {
	dc *webrtc.DataChannel
	rw datachannel.ReadWriteCloser
}

// onClosed, if not nil, runs once the peer has closed.
func newPeer(cfg *Config, r role, pc *webrtc.PeerConnection, sig Signaler, onClosed func()) *peer {
	p := &peer{
		cfg:      cfg,
		role:     r,
		log:      cfg.Logger,
		logRate:  rate.Sometimes{Interval: time.Second},
		pc:       pc,
		sig:      sig,
		epoch:    time.Now(),
		detached: make(chan detachedChannel, 2),
		failed:   make(chan error, 1),
		sigOut:   make(chan Signal, maxPendingCandidates),
		enc:      wire.NewEncoder(),
		dgReady:  make(chan struct{}, 1),
		evReady:  make(chan struct{}, 1),
		closing:  make(chan struct{}),
		onClosed: onClosed,

		states:  make(chan StateChange, stateBuffer),
		iceKick: make(chan struct{}, 1),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if r == roleClient {
		p.inKind, p.outKind = wire.KindSnapshot, wire.KindInput
		p.dq = make([]datagram, 1) // newest wins
	} else {
		p.inKind, p.outKind = wire.KindInput, wire.KindSnapshot
		p.dq = make([]datagram, cfg.InputQueue)
	}

	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		s := Signal{Type: SignalCandidate}
		if c != nil {
			init := c.ToJSON()
			s.Candidate = &init
		}
		p.sdpMu.Lock()
		defer p.sdpMu.Unlock()
		if !p.sdpSent {
			p.early = append(p.early, s)
			return
		}
		p.queueSignal(s)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("peer connection state", "state", s.String())
		// Once the channels are open, the restarter owns ICE trouble.
		if s == webrtc.PeerConnectionStateFailed && !p.started.Load() {
			p.fail(fmt.Errorf("%w: ICE failed", ErrConnectionLost))
			p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "ICE failed", Err: ErrConnectionLost}, false)
		}
	})
	pc.OnICEConnectionStateChange(p.onICEState)

	p.wg.Add(3)
	go p.closer()
	go p.signalWriter()
	go p.signalReader()
	return p
}

// fail reports a handshake error to waitOpen, once.
func (p *peer) fail(err error) {
	select {
	case p.failed <- err:
	default:
	}
}

// watchChannel takes dc over when it opens (channel.go). The read loops start only after
// both channels are open.
func (p *peer) watchChannel(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		rw, err := openChannel(dc)
		if err != nil {
			p.fail(fmt.Errorf("netcode: open %s: %w", dc.Label(), err))
			return
		}
		p.detached <- detachedChannel{dc, rw}
	})
}

// waitOpen waits for both channels, then starts the loops.
func (p *peer) waitOpen(ctx context.Context) error {
	var u, r detachedChannel
	for u.rw == nil || r.rw == nil {
		select {
		case d := <-p.detached:
			if d.dc.Label() == labelSnapshots {
				u = d
			} else {
				r = d
			}
		case err := <-p.failed:
			return err
		case <-p.closing:
			return p.Err()
		case <-ctx.Done():
			return fmt.Errorf("netcode: waiting for data channels: %w", ctx.Err())
		}
	}
	p.udc, p.urw, p.rdc, p.rrw = u.dc, u.rw, r.dc, r.rw
	p.wg.Add(4)
	p.started.Store(true)
	p.setState(StateConnected, "channels open")
	go p.readUnreliable()
	go p.readReliable()
	go p.pingLoop()
	go p.restarter()
	return nil
}

// queueSDP queues our offer or answer, then the candidates gathered so far:
// the other side must see the description first.
func (p *peer) queueSDP(s Signal) {
	p.sdpMu.Lock()
	defer p.sdpMu.Unlock()
	if s.Type != "" {
		p.queueSignal(s)
	}
	for _, c := range p.early {
		p.queueSignal(c)
	}
	p.early, p.sdpSent = nil, true
}

// queueSignal hands s to the signal writer without blocking a pion callback.
func (p *peer) queueSignal(s Signal) {
	select {
	case p.sigOut <- s:
	default:
		p.logRate.Do(func() { p.log.Warn("signaling backlog full, dropping", "type", s.Type) })
	}
}

func (p *peer) signalWriter() {
	defer p.wg.Done()
	for {
		select {
		case <-p.closing:
			return
		case s := <-p.sigOut:
			if err := p.sig.WriteSignal(p.ctx, s); err != nil {
				if !p.started.Load() {
					p.fail(fmt.Errorf("%w: write %s: %v", ErrSignaling, s.Type, err))
				}
				p.log.Debug("signaling write failed", "err", err)
				return
			}
		}
	}
}

// signalReader applies remote signals. It owns the remote description state.
func (p *peer) signalReader() {
	defer p.wg.Done()
	remoteSet := p.pc.RemoteDescription() != nil
	var pending []webrtc.ICECandidateInit
	for {
		s, err := p.sig.ReadSignal(p.ctx)
		if err != nil {
			if !p.started.Load() {
				p.fail(fmt.Errorf("%w: read: %v", ErrSignaling, err))
			}
			p.log.Debug("signaling ended", "err", err)
			return
		}
		p.sdpMu.Lock()
		restarting := p.offering
		p.sdpMu.Unlock()
		switch {
		case s.Type == SignalAnswer && p.role == roleClient && !remoteSet:
			if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP}); err != nil {
				p.fail(fmt.Errorf("%w: answer: %v", ErrSignaling, err))
				return
			}
			remoteSet = true
			for _, c := range pending {
				p.addCandidate(c)
			}
			pending = nil
		case s.Type == SignalAnswer && p.role == roleClient && restarting:
			// The answer to an ICE restart (restart.go).
			err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
			p.sdpMu.Lock()
			p.offering = false
			p.sdpMu.Unlock()
			if err != nil {
				p.logRate.Do(func() { p.log.Warn("ICE restart answer refused", "err", err) })
				continue
			}
			for _, c := range pending {
				p.addCandidate(c)
			}
			pending = nil
		case s.Type == SignalOffer && p.role == roleServer && remoteSet && p.started.Load():
			if err := p.answerRestart(s.SDP); err != nil {
				p.logRate.Do(func() { p.log.Warn("ICE restart offer refused", "err", err) })
			}
		case s.Type == SignalCandidate:
			switch {
			case s.Candidate == nil:
				// End of candidates: pion needs nothing.
			case remoteSet && !restarting:
				p.addCandidate(*s.Candidate)
			case len(pending) < maxPendingCandidates:
				pending = append(pending, *s.Candidate)
			}
		default:
			p.logRate.Do(func() { p.log.Warn("unexpected signal ignored", "type", s.Type) })
		}
	}
}

func (p *peer) addCandidate(c webrtc.ICECandidateInit) {
	if err := p.pc.AddICECandidate(c); err != nil {
		p.logRate.Do(func() { p.log.Warn("bad remote candidate ignored", "err", err) })
	}
}

// closeWith starts closing, once. notify sends ce to the peer first.
func (p *peer) closeWith(ce *CloseError, notify bool) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closeErr = ce
		p.mu.Unlock()
		p.sendCloseMsg = notify && !ce.Remote && ce.Code != CloseConnectionLost
		p.setState(StateClosed, ce.Error())
		close(p.closing)
		p.log.Debug("closing", "reason", ce.Error())
	})
}

// closer tears everything down once closing starts, so that no read loop or
// pion callback ever waits on its own teardown.
func (p *peer) closer() {
	defer p.wg.Done()
	<-p.closing
	if p.sendCloseMsg && p.started.Load() {
		p.flushClose()
	}
	p.cancel()
	if err := p.pc.Close(); err != nil {
		p.log.Debug("close peer connection", "err", err)
	}
	_ = p.sig.Close()
	if p.onClosed != nil {
		p.onClosed()
	}
}

// flushClose sends the close message and gives it a bounded moment to leave
// before the association goes down.
func (p *peer) flushClose() {
	ce := p.Err().(*CloseError)
	reason := ce.Reason
	if len(reason) > wire.MaxReasonLen {
		reason = reason[:wire.MaxReasonLen]
	}
	p.sendMu.Lock()
	b, err := p.enc.Encode(&wire.Message{Kind: wire.KindClose, Code: uint16(ce.Code), Reason: reason})
	if err == nil {
		_, err = p.rrw.Write(b)
	}
	p.sendMu.Unlock()
	if err != nil {
		return
	}
	deadline := time.Now().Add(closeFlushTimeout)
	for p.rdc.BufferedAmount() > 0 && time.Now().Before(deadline) {
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

// readFailed handles a read error on a channel.
func (p *peer) readFailed(channel string, err error) {
	if p.isClosing() {
		return
	}
	if errors.Is(err, io.ErrShortBuffer) {
		p.stats.malformed.Add(1)
		p.log.Warn("message over the size budget", "channel", channel)
		p.closeWith(&CloseError{Code: CloseTooLarge, Reason: channel + " message over the size budget", Err: ErrProtocol}, true)
		return
	}
	p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: channel + " channel: " + err.Error(), Err: ErrConnectionLost}, false)
}

func (p *peer) readUnreliable() {
	defer p.wg.Done()
	// The receive limit is the protocol's, not our own send budget, so that
	// two ends configured differently still talk.
	buf := make([]byte, maxUnreliableSize)
	dec := wire.NewDecoder()
	enc := wire.NewEncoder()
	var m wire.Message
	var highest uint64
	for {
		n, err := p.urw.Read(buf)
		if err != nil {
			if !errors.Is(err, io.ErrShortBuffer) {
				// The close message, if any, comes on the events channel;
				// let its read loop report why before we call it lost.
				select {
				case <-p.closing:
					return
				case <-time.After(time.Second):
				}
			}
			p.readFailed(labelSnapshots, err)
			return
		}
		p.stats.bytesIn.Add(uint64(n))
		if err := dec.Decode(buf[:n], &m); err != nil {
			if p.badMessage(labelSnapshots, err) {
				return
			}
			continue
		}
		switch m.Kind {
		case p.inKind:
			if m.Seq <= highest {
				p.stats.unrelStale.Add(1)
				continue
			}
			if gap := m.Seq - highest - 1; gap > 0 {
				p.stats.lost.Add(gap)
			}
			highest = m.Seq
			p.stats.unrelRecv.Add(1)
			p.pushDatagram(datagram{seq: m.Seq, payload: clone(m.Payload), received: time.Now()})
		case wire.KindPing:
			b, err := enc.Encode(&wire.Message{Kind: wire.KindPong, Seq: m.Seq, Time: m.Time})
			if err == nil {
				p.writeRaw(p.urw, b)
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

func (p *peer) readReliable() {
	defer p.wg.Done()
	buf := make([]byte, p.cfg.MaxEventSize+eventOverhead)
	dec := wire.NewDecoder()
	var m wire.Message
	for {
		n, err := p.rrw.Read(buf)
		if err != nil {
			p.readFailed(labelEvents, err)
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
				// A duplicate, as a resend after reconnection can produce.
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
	t := time.NewTicker(p.cfg.PingInterval)
	defer t.Stop()
	var id, ackSent uint64
	for {
		id++
		if b, err := enc.Encode(&wire.Message{Kind: wire.KindPing, Seq: id, Time: int64(time.Since(p.epoch))}); err == nil {
			p.writeRaw(p.urw, b)
		}
		// Confirm received events even when traffic is one-way (WIRE.md).
		if a := p.recvAck.Load(); a != ackSent {
			ackSent = a
			if b, err := enc.Encode(&wire.Message{Kind: wire.KindAck, Ack: a}); err == nil {
				p.writeRaw(p.rrw, b)
			}
		}
		select {
		case <-p.closing:
			return
		case <-t.C:
		}
		p.stats.updateLoss()
	}
}

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
// blocks: a congested transport refuses the message.
func (p *peer) sendUnreliable(payload []byte) error {
	if p.isClosing() {
		return p.Err()
	}
	if len(payload) > p.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: %v payload of %d bytes, limit %d", ErrTooLarge, p.outKind, len(payload), p.cfg.MaxUnreliableSize)
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.msg = wire.Message{Kind: p.outKind, Seq: p.unrelSeq + 1, Payload: payload}
	b, err := p.enc.Encode(&p.msg)
	p.msg.Payload = nil
	if err != nil {
		return err
	}
	if len(b) > p.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: %v of %d bytes encoded, limit %d", ErrTooLarge, p.outKind, len(b), p.cfg.MaxUnreliableSize)
	}
	if p.udc.BufferedAmount()+uint64(len(b)) > uint64(p.cfg.UnreliableBuffer) {
		p.stats.congested.Add(1)
		return ErrCongested
	}
	if _, err := p.urw.Write(b); err != nil {
		return p.sendFailed(err)
	}
	p.unrelSeq++
	p.stats.unrelSent.Add(1)
	p.stats.bytesOut.Add(uint64(len(b)))
	return nil
}

// sendEvent queues a reliable event. It never blocks either: past
// Config.EventBuffer bytes in flight it refuses.
func (p *peer) sendEvent(payload []byte) error {
	if p.isClosing() {
		return p.Err()
	}
	if len(payload) > p.cfg.MaxEventSize {
		return fmt.Errorf("%w: event of %d bytes, limit %d", ErrTooLarge, len(payload), p.cfg.MaxEventSize)
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	seq := p.eventSeq.Load() + 1
	p.msg = wire.Message{Kind: wire.KindEvent, Seq: seq, Ack: p.recvAck.Load(), Payload: payload}
	b, err := p.enc.Encode(&p.msg)
	p.msg.Payload = nil
	if err != nil {
		return err
	}
	if p.rdc.BufferedAmount()+uint64(len(b)) > uint64(p.cfg.EventBuffer) {
		return ErrEventBufferFull
	}
	// Counted before the write: on loopback the peer can receive the event
	// and ack it before Write returns, and checkAck must not take that ack
	// for one of an event never sent.
	p.eventSeq.Store(seq)
	if _, err := p.rrw.Write(b); err != nil {
		p.eventSeq.Store(seq - 1) // never sent: the next event takes seq
		return p.sendFailed(err)
	}
	p.stats.eventsSent.Add(1)
	p.stats.bytesOut.Add(uint64(len(b)))
	return nil
}

func (p *peer) sendFailed(err error) error {
	if cerr := p.Err(); cerr != nil {
		return cerr
	}
	return fmt.Errorf("%w: %v", ErrClosed, err)
}

// pushDatagram stores a received snapshot or input; when the ring is full the
// oldest goes (for a client, whose ring holds one, that is "newest wins").
func (p *peer) pushDatagram(d datagram) {
	p.mu.Lock()
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
		Lost:           c.lost.Load(),
		Loss:           c.loss(),
		BytesIn:        c.bytesIn.Load(),
		BytesOut:       c.bytesOut.Load(),
		Malformed:      c.malformed.Load(),
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
