package netcode

import (
	"time"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// State acks ride on inputs (REPLICATION.md, "Acks"). A client acks every
// state it keeps, 30 or 60 times a second, and each ack alone is a packet
// the server must read through pion's whole receive path and SCTP must
// acknowledge. A game that sends inputs sends as many packets anyway, so
// the client holds each ack for the next input to carry, for no longer
// than the game's own interval between inputs, and sends it alone only
// when no input comes (measured: go run ./bench replication -input-hz 60,
// against the library before this, with bench compare).
const (
	// inputRecent: a client that has sent no input for this long is not
	// sending any, and acks at once.
	inputRecent = 100 * time.Millisecond
	// maxAckHold bounds the hold: an ack held longer makes the server's
	// next states deltas against an older base, which costs bytes.
	maxAckHold = 20 * time.Millisecond
)

// ackHold is how long an ack of a state received at now may wait for an
// input: the game's last interval between inputs, while it sends them.
func (p *peer) ackHold(now int64) time.Duration {
	last := p.lastInput.Load()
	if last == 0 || time.Duration(now-last) > inputRecent {
		return 0
	}
	return min(time.Duration(p.inputGap.Load()), maxAckHold)
}

// ackState acknowledges a state the client keeps: held for the next input,
// or alone at once on ch. A newer ack replaces one still held, and keeps
// its deadline. Snapshot channel's handler.
func (p *peer) ackState(l *link, ch *rtcChannel, tick uint64) {
	now := p.now()
	if hold := p.ackHold(now); hold > 0 {
		if p.ackTick.Load() == 0 {
			p.ackBy.Store(now + int64(hold))
		}
		if p.ackTick.Swap(tick) == 0 {
			p.wake() // for the deadline
		}
		return
	}
	p.ackTick.Store(0) // this ack covers any held
	if b, err := l.encU.Encode(&wire.Message{Kind: wire.KindStateAck, Seq: tick}); err == nil {
		p.writeControl(ch, b)
		p.stats.stateAcksAlone.Add(1)
	}
}

// inputSent notes an input that went out carrying ack (0: none): the ack
// is no longer held, unless a newer one came meanwhile. Under unrelMu.
func (p *peer) inputSent(ack uint64) {
	if ack != 0 {
		p.ackTick.CompareAndSwap(ack, 0)
	}
	now := p.now()
	if prev := p.lastInput.Swap(now); prev != 0 {
		p.inputGap.Store(now - prev)
	}
}

// ackDeadline is when a held ack goes alone; zero when none is held. Run
// loop.
func (p *peer) ackDeadline() time.Time {
	if p.ackTick.Load() == 0 {
		return time.Time{}
	}
	return p.epoch.Add(time.Duration(p.ackBy.Load()))
}

// flushAck sends a held ack alone once its hold is over, with the run
// loop's encoder. With no connection to send it on it is dropped, as a lost
// ack is: the next state's ack covers it. Kept, its deadline would stay in
// the past and spin the run loop (in the browser, the page's one thread)
// until a resume opened a new link. Run loop.
func (p *peer) flushAck(l *link, enc *wire.Encoder) {
	if p.ackTick.Load() == 0 || p.now() < p.ackBy.Load() {
		return
	}
	t := p.ackTick.Swap(0)
	if t == 0 || !l.open.Load() {
		return
	}
	if b, err := enc.Encode(&wire.Message{Kind: wire.KindStateAck, Seq: t}); err == nil {
		p.writeControl(l.u, b)
		p.stats.stateAcksAlone.Add(1)
	}
}
