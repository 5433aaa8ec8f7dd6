package netcode

import (
	"context"
	"fmt"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// sendUnreliable sends a snapshot (server) or an input (client). It never
// blocks: a congested transport refuses the message, and so does one that
// is being replaced. It does not wait for the run loop, nor for events
// being sent or resent.
func (p *peer) sendUnreliable(payload []byte) error {
	if len(payload) > p.cfg.MaxUnreliableSize && !p.isClosing() {
		return fmt.Errorf("%w: %v payload of %d bytes, limit %d", ErrTooLarge, p.outKind, len(payload), p.cfg.MaxUnreliableSize)
	}
	var ack uint64
	return p.writeUnreliable(func() wire.Message {
		if p.role == roleClient {
			ack = p.ackTick.Load() // riding on the input (ack.go)
		}
		return wire.Message{Kind: p.outKind, Seq: p.unrelSeq + 1, Ack: ack, Payload: payload}
	}, func() {
		p.unrelSeq++
		p.stats.unrelSent.Add(1)
		if p.role == roleClient {
			p.inputSent(ack)
		}
	})
}

// canSendState reports whether a state sent now has a connection to go
// on, so that a World does not spend a tick's place in its history on one
// that cannot.
func (p *peer) canSendState() bool {
	l := p.link.Load()
	return !p.isClosing() && l != nil && l.open.Load()
}

// sendState sends a replicated state (REPLICATION.md). Like a snapshot it
// never blocks, and a congested or reconnecting transport refuses it.
func (p *peer) sendState(tick, base uint64, payload []byte) error {
	return p.writeUnreliable(func() wire.Message {
		// Before the write: the client's ack may come back before it returns.
		p.stateSent.Store(tick)
		return wire.Message{Kind: wire.KindState, Seq: tick, Base: base, Time: p.now(), Payload: payload}
	}, func() { p.stats.statesSent.Add(1) })
}

// writeUnreliable encodes the message msg makes and writes it on the
// current link's snapshot channel, under unrelMu; sent runs, still under
// it, once the write went out. The encoded message must fit
// Config.MaxUnreliableSize.
func (p *peer) writeUnreliable(msg func() wire.Message, sent func()) error {
	if p.isClosing() {
		return p.Err()
	}
	p.unrelMu.Lock()
	defer p.unrelMu.Unlock()
	l := p.link.Load()
	if l == nil || !l.open.Load() {
		p.stats.congested.Add(1)
		return errResuming
	}
	m := msg()
	b, err := p.unrelEnc.Encode(&m)
	if err != nil {
		return err
	}
	if len(b) > p.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: %v of %d bytes encoded, limit %d", ErrTooLarge, m.Kind, len(b), p.cfg.MaxUnreliableSize)
	}
	if l.u.bufferedAmount()+uint64(len(b)) > uint64(p.cfg.UnreliableBuffer) {
		p.stats.congested.Add(1)
		return ErrCongested
	}
	if err := l.u.send(b); err != nil {
		// The link failed under us; its channel's close tells the run
		// loop. Like congestion, this costs only this message.
		p.stats.congested.Add(1)
		return fmt.Errorf("%w: %v", ErrCongested, err)
	}
	sent()
	p.stir()
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
	p.evMu.Lock()
	seq := p.eventSeq.Load() + 1
	ack := p.recvAck.Load()
	b, err := p.evEnc.Encode(&wire.Message{Kind: wire.KindEvent, Seq: seq, Ack: ack, Payload: payload})
	if err != nil {
		p.evMu.Unlock()
		return err
	}
	p.resend.trim(p.peerAck.Load())
	if p.resend.size()+len(b) > p.cfg.EventBuffer {
		held, n := p.resend.size(), p.resend.len()
		p.evMu.Unlock()
		if st := State(p.state.Load()); st == StateReconnecting || st == StateResuming {
			p.closeWith(&CloseError{Code: CloseBufferOverflow,
				Reason: fmt.Sprintf("%d events (%d bytes) unacknowledged while %v, EventBuffer %d", n, held, st, p.cfg.EventBuffer),
				Err:    ErrEventBufferFull}, false)
			return p.Err()
		}
		return ErrEventBufferFull
	}
	// Counted before the write: on loopback the peer can receive the event
	// and ack it before the write returns, and checkAck must not take that
	// ack for one of an event never sent.
	p.eventSeq.Store(seq)
	p.resend.add(seq, b)
	if l := p.link.Load(); l != nil && l.open.Load() {
		if err := l.r.send(b); err != nil {
			// Kept for the next connection; the channel's close reports
			// this one.
			p.log.Debug("event write failed, kept for resend", "seq", seq, "err", err)
		} else {
			p.stats.bytesOut.Add(uint64(len(b)))
			// The event carried the ack: no ack message needed for it.
			if ack >= p.recvAck.Load() {
				p.ackDue.Store(false)
			}
		}
	}
	p.evMu.Unlock()
	p.stats.eventsSent.Add(1)
	p.stir()
	return nil
}

// readDatagram waits for the next datagram. Queued data is returned before
// the close error, as a socket returns data before EOF.
func (p *peer) readDatagram(ctx context.Context) (datagram, error) {
	for {
		d, ok, more := p.inbox.pop()
		if ok {
			if more {
				notify(p.inbox.ready)
			}
			return d, nil
		}
		if err := p.Err(); err != nil {
			return datagram{}, err
		}
		select {
		case <-p.inbox.ready:
		case <-p.closing:
		case <-ctx.Done():
			return datagram{}, ctx.Err()
		}
	}
}

func (p *peer) tryReadDatagram() (datagram, bool) {
	d, ok, _ := p.inbox.pop()
	return d, ok
}

// readEvent waits for the next event, in order.
func (p *peer) readEvent(ctx context.Context) ([]byte, error) {
	for {
		e, ok, more := p.events.pop()
		if ok {
			if more {
				notify(p.events.ready)
			}
			return e, nil
		}
		if err := p.Err(); err != nil {
			return nil, err
		}
		select {
		case <-p.events.ready:
		case <-p.closing:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// readEvents appends every queued event to dst, without blocking.
func (p *peer) readEvents(dst [][]byte) [][]byte { return p.events.popAll(dst) }
