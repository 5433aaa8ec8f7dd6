package netcode

import (
	"errors"
	"fmt"
	"time"

	"github.com/tickwire/tickwire/netcode/internal/repl"
	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// The channels' message handlers. They run on the WebRTC stack's goroutine
// for each channel, one message at a time: they decode, queue what the
// application reads, answer pings, and never wait.

// onUnreliable takes a message of l's snapshot channel: a snapshot or
// input, a ping (answered at once) or a pong.
func (p *peer) onUnreliable(l *link, ch *rtcChannel, b []byte) {
	if !p.current(l) || p.isClosing() {
		return
	}
	p.received(len(b))
	// The receive limit is the protocol's, not our own send budget, so that
	// two ends configured differently still talk.
	if len(b) > maxUnreliableSize {
		p.tooLarge(labelSnapshots, len(b))
		return
	}
	var m wire.Message
	if err := l.decU.Decode(b, &m); err != nil {
		p.badMessage(labelSnapshots, err)
		return
	}
	switch m.Kind {
	case p.inKind:
		if m.Ack != 0 {
			if !p.stateAcked(m.Ack) {
				return
			}
			p.stats.stateAcksRiding.Add(1)
		}
		res := p.inbox.push(datagram{seq: m.Seq, payload: m.Payload, received: time.Now()})
		switch {
		case res.stale:
			p.stats.unrelStale.Add(1)
			return
		case res.evicted && p.role == roleServer:
			p.stats.inputsOverflow.Add(1)
		}
		p.stats.lost.Add(res.gap)
		p.stats.unrelRecv.Add(1)
		p.stir()
	case wire.KindPing:
		if b, err := l.encU.Encode(&wire.Message{Kind: wire.KindPong, Seq: m.Seq, Time: m.Time}); err == nil {
			p.writeControl(ch, b)
		}
		if p.replica != nil {
			// The server's pings carry its clock (REPLICATION.md, "Playout").
			srtt, _ := p.rtt.get()
			p.replica.observePing(time.Duration(m.Time), time.Now(), srtt)
		}
	case wire.KindState:
		if p.replica == nil {
			p.badMessage(labelSnapshots, fmt.Errorf("%w: state sent to a server", wire.ErrMalformed))
			return
		}
		ack, err := p.replica.receive(&m, time.Now())
		switch {
		case errors.Is(err, repl.ErrStale):
			p.stats.statesStale.Add(1)
		case errors.Is(err, repl.ErrNoBase):
			p.stats.statesNoBase.Add(1)
		case err != nil:
			p.badMessage(labelSnapshots, fmt.Errorf("%w: %v", wire.ErrMalformed, err))
			return
		default:
			p.stats.statesRecv.Add(1)
			p.ackState(l, ch, ack)
		}
		p.stir()
	case wire.KindStateAck:
		if p.role != roleServer {
			p.badMessage(labelSnapshots, fmt.Errorf("%w: state ack sent to a client", wire.ErrMalformed))
			return
		}
		if p.stateAcked(m.Seq) {
			p.stats.stateAcksAlone.Add(1)
			p.stir()
		}
	case wire.KindPong:
		rtt := time.Since(p.epoch) - time.Duration(m.Time)
		if m.Time <= 0 || rtt < 0 || rtt > time.Minute {
			p.countBad(labelSnapshots, fmt.Errorf("pong with a time we never sent: %d", m.Time))
			return
		}
		p.rtt.add(rtt)
	default:
		p.badMessage(labelSnapshots, fmt.Errorf("%w: %v not allowed here", wire.ErrMalformed, m.Kind))
	}
}

// onReliable takes a message of l's event channel: an event, an ack, or
// the close.
func (p *peer) onReliable(l *link, b []byte) {
	if !p.current(l) || p.isClosing() {
		return
	}
	p.received(len(b))
	if len(b) > p.cfg.MaxEventSize+eventOverhead {
		p.tooLarge(labelEvents, len(b))
		return
	}
	var m wire.Message
	if err := l.decR.Decode(b, &m); err != nil {
		p.badMessage(labelEvents, err)
		return
	}
	switch m.Kind {
	case wire.KindEvent:
		if err := p.checkAck(m.Ack); err != nil {
			p.badMessage(labelEvents, err)
			return
		}
		// One link at a time: a replaced link's handler may still be
		// finishing a message as the next link's starts.
		p.recvMu.Lock()
		defer p.recvMu.Unlock()
		last := p.recvAck.Load()
		switch {
		case m.Seq <= last:
			// A duplicate: a resend after a resume (the peer resends all it
			// has not seen acknowledged). Its sender did not see our ack,
			// so it gets one again.
			p.wantAck()
			return
		case m.Seq != last+1:
			p.badMessage(labelEvents, fmt.Errorf("%w: event seq %d after %d", wire.ErrMalformed, m.Seq, last))
			return
		case len(m.Payload) > p.cfg.MaxEventSize:
			p.tooLarge(labelEvents, len(m.Payload))
			return
		}
		if !p.events.push(clone(m.Payload)) {
			p.closeWith(&CloseError{Code: CloseSlowReader, Reason: fmt.Sprintf("%d received events left unread", p.cfg.EventQueue), Err: ErrSlowReader}, true)
			return
		}
		p.recvAck.Store(m.Seq)
		p.stats.eventsRecv.Add(1)
		p.stir()
		p.wantAck()
	case wire.KindAck:
		if err := p.checkAck(m.Ack); err != nil {
			p.badMessage(labelEvents, err)
		}
	case wire.KindClose:
		p.closeWith(&CloseError{Code: CloseCode(m.Code), Reason: m.Reason, Remote: true}, false)
	default:
		p.badMessage(labelEvents, fmt.Errorf("%w: %v not allowed here", wire.ErrMalformed, m.Kind))
	}
}

// stateAcked takes the client's ack of tick, alone or riding on an input
// (REPLICATION.md, "Acks"); an ack of a tick never sent closes the session.
func (p *peer) stateAcked(tick uint64) bool {
	if tick == 0 || tick > p.stateSent.Load() {
		p.badMessage(labelSnapshots, fmt.Errorf("%w: state ack of tick %d, newest sent %d", wire.ErrMalformed, tick, p.stateSent.Load()))
		return false
	}
	for {
		old := p.stateAck.Load()
		if tick <= old || p.stateAck.CompareAndSwap(old, tick) {
			return true
		}
	}
}

// received notes traffic from the peer: for silence detection, and for the
// run loop when it waits for the path to come back.
func (p *peer) received(n int) {
	p.lastRecv.Store(p.now())
	p.stats.bytesIn.Add(uint64(n))
	if p.watching.Load() {
		p.wake()
	}
}

// stir ends a quiet spell (run.go) at the first snapshot, input or event
// either way: one atomic load while the session is busy.
func (p *peer) stir() {
	if p.quiet.Load() && p.quiet.CompareAndSwap(true, false) {
		// Silence counts from now: the peer was quiet too.
		p.lastRecv.Store(p.now())
		p.wake()
	}
}

// wantAck asks the run loop for an ack, waking it the first time.
func (p *peer) wantAck() {
	if !p.ackDue.Swap(true) {
		p.wake()
	}
}

// channelClosed: one of l's channels closed or failed. Before the session
// is up that fails the handshake; after, the link is broken, and recovery
// resumes the session on a new one. A message over the stack's size limit
// is the peer's doing, and closes the session.
func (p *peer) channelClosed(l *link, ch *rtcChannel, err error) {
	l.chClosedAt.CompareAndSwap(0, p.now())
	if ch.label() == labelEvents {
		l.rEnded.Store(true)
	}
	if p.isClosing() || l.isDown() {
		return
	}
	if errors.Is(err, errTooBig) {
		p.tooLarge(ch.label(), -1)
		return
	}
	if err == nil {
		err = errClosedChannel
	}
	p.log.Debug("channel closed", "channel", ch.label(), "err", err, "gen", l.gen)
	l.fail(fmt.Errorf("%w: %s channel: %v", ErrConnectionLost, ch.label(), err))
	l.broken.Store(true)
	p.wake()
}

// tooLarge closes for a message over the receive limit (n < 0: unknown).
func (p *peer) tooLarge(channel string, n int) {
	p.stats.malformed.Add(1)
	reason := channel + " message over the size limit"
	if n >= 0 {
		reason = fmt.Sprintf("%s message of %d bytes, over the size limit", channel, n)
	}
	p.log.Warn(reason)
	p.closeWith(&CloseError{Code: CloseTooLarge, Reason: reason, Err: ErrProtocol}, true)
}

// countBad counts and logs, rate-limited, a message the peer should not have
// sent.
func (p *peer) countBad(channel string, err error) {
	p.stats.malformed.Add(1)
	p.logRate.Do(func() { p.log.Warn("bad message from peer", "channel", channel, "err", err) })
}

// badMessage counts a bad message and closes the session with the code
// WIRE.md gives it, unless it is merely of an unknown kind.
func (p *peer) badMessage(channel string, err error) {
	p.countBad(channel, err)
	switch {
	case errors.Is(err, wire.ErrUnknownKind):
	case errors.Is(err, wire.ErrVersion):
		p.closeWith(&CloseError{Code: CloseVersionMismatch, Reason: err.Error(), Err: ErrProtocol}, true)
	default:
		p.closeWith(&CloseError{Code: CloseProtocolError, Reason: err.Error(), Err: ErrProtocol}, true)
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
