package netcode

import (
	"time"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// ackDelay is how long a received event waits for an ack of its own when
// no event of ours carries one: until the peer hears of it, the event
// fills its resend buffer (Config.EventBuffer).
const ackDelay = 100 * time.Millisecond

// settleDelay is how long the run loop waits before it looks again at a
// link whose channels were dialed but do not take sends yet: pion marks a
// channel open just after it reports the dial.
const settleDelay = time.Millisecond

// quietAfter is how long a session goes without a snapshot, input or event
// either way before it goes quiet: it stops pinging and stops counting
// silence, and leaves watching the path to ICE's keepalives, as a bare
// PeerConnection does (WIRE.md, "Quiet sessions"). An idle session then
// costs a server what a bare PeerConnection does, where pings both ways
// every PingInterval, each with its SCTP acknowledgement, cost several
// times that. The first snapshot, input or event either way ends it.
func (p *peer) quietAfter() time.Duration { return p.cfg.SilenceTimeout }

// run is the session's one goroutine: it owns the links (making, adopting
// and dropping them), applies the signaling, runs recovery, sends pings and
// acks on time, and tears everything down once closing starts. It sleeps
// on one timer set to its next deadline: a connected session wakes for its
// pings, and a quiet one for nothing.
func (p *peer) run() {
	defer p.finish()
	defer p.teardown()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	rec := &p.rec
	var (
		ctlEnc   = wire.NewEncoder()
		nextPing time.Time
		nextAck  time.Time
		pingID   uint64
		// The game's traffic as last seen, and when it last changed.
		activity uint64
		activeAt time.Time
		quiet    bool
	)
	for {
		// What to wait for: the current link's opening, while it opens.
		l := p.link.Load()
		var opened <-chan *rtcChannel
		var failed <-chan error
		if !l.open.Load() && !l.isDown() {
			opened, failed = l.opened, l.failed
		}
		// Both channels dialed, one not yet taking sends: a moment more.
		settling := l.u != nil && l.r != nil && !l.open.Load() && !l.isDown()

		// The next deadline.
		now := time.Now()
		next := time.Time{}
		soonest := func(t time.Time) {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if p.started.Load() {
			soonest(rec.step(p, now))
			if p.isClosing() {
				return
			}
			if p.ackDue.Load() && nextAck.IsZero() {
				nextAck = now.Add(min(ackDelay, p.cfg.PingInterval))
			}
			soonest(nextPing)
			soonest(nextAck)
			soonest(p.ackDeadline())
		}
		if settling {
			soonest(now.Add(settleDelay))
		}
		if next.IsZero() {
			next = now.Add(time.Hour)
		}
		timer.Reset(max(time.Until(next), 0))

		select {
		case <-p.closing:
			return
		case s := <-p.sigIn:
			p.onSignal(s)
		case err := <-p.sigEnded:
			p.onSignalingEnded(err)
		case <-p.wakeC:
		case <-timer.C:
		case why := <-p.probeReq:
			if p.started.Load() {
				// A quiet session does not ping: wake it, so that the
				// probe is answered.
				p.stir()
				rec.probe(p, why)
			}
		case <-p.restartReq:
			if p.started.Load() {
				rec.restartAsked(p)
			}
		case ch := <-opened:
			if ch.label() == labelSnapshots {
				l.u = ch
			} else {
				l.r = ch
			}
		case err := <-failed:
			if !p.started.Load() {
				p.reportOpen(err)
				continue
			}
			p.log.Info("resume attempt failed", "gen", l.gen, "err", err)
			l.broken.Store(true)
		}
		if p.isClosing() {
			return
		}
		if l.u != nil && l.r != nil && !l.open.Load() && !l.isDown() && l.u.ready() && l.r.ready() {
			if !p.started.Load() {
				if p.adopt(l, false) {
					p.started.Store(true)
					p.setState(StateConnected, "channels open")
					p.reportOpen(nil)
					nextPing = time.Now()
				}
			} else if p.adopt(l, l.gen > 0) {
				rec.resumed(p, l)
			}
		}

		// A quiet spell ends with the game's first message either way
		// (stir), or when the path is in doubt: recovery needs pings to
		// tell that it is back.
		now = time.Now()
		if quiet && (!p.quiet.Load() || !rec.lostAt.IsZero()) {
			quiet = false
			p.quiet.Store(false)
			activeAt = now
			nextPing = now
		}

		// Pings and acks that are due.
		l = p.link.Load()
		if !nextPing.IsZero() && !now.Before(nextPing) {
			if l.open.Load() {
				pingID++
				if b, err := ctlEnc.Encode(&wire.Message{Kind: wire.KindPing, Seq: pingID, Time: p.now()}); err == nil {
					p.writeControl(l.u, b)
				}
			}
			p.stats.updateLoss()
			p.evMu.Lock()
			p.resend.trim(p.peerAck.Load())
			p.evMu.Unlock()
			nextPing = now.Add(p.cfg.PingInterval)
			if a := p.stats.activity(); a != activity || activeAt.IsZero() {
				activity, activeAt = a, now
			} else if rec.lostAt.IsZero() && l.open.Load() && now.Sub(activeAt) >= p.quietAfter() {
				quiet, nextPing = true, time.Time{}
				p.quiet.Store(true)
				p.log.Debug("quiet: no pings until the game sends again")
			}
		}
		p.flushAck(l, ctlEnc)
		if !nextAck.IsZero() && !now.Before(nextAck) {
			nextAck = time.Time{}
			if p.ackDue.Swap(false) && l.open.Load() {
				// Confirm received events even when traffic is one-way, and
				// again for a duplicate, whose ack the peer may have lost
				// (WIRE.md).
				a := p.recvAck.Load()
				if b, err := ctlEnc.Encode(&wire.Message{Kind: wire.KindAck, Ack: a}); err == nil {
					p.writeControl(l.r, b)
				}
			}
		}
	}
}

// reportOpen tells Dial or Accept how the handshake ended, the first time:
// a handshake that failed is closing, and its later failures (or channels)
// tell no one.
func (p *peer) reportOpen(err error) {
	select {
	case p.opened <- err:
	default:
	}
}

// writeControl sends a message of the session's own (ping, pong, ack,
// close); a failure shows as the channel closing.
func (p *peer) writeControl(ch *rtcChannel, b []byte) {
	if ch == nil {
		return
	}
	if err := ch.send(b); err == nil {
		p.stats.bytesOut.Add(uint64(len(b)))
	}
}

// teardown releases everything once closing starts, in the run loop, so
// that no callback of the stack ever waits on its own teardown: the close
// message, the link, the signaling, the resume token. It then waits for
// the signal reader and writer, and for links still closing.
func (p *peer) teardown() {
	l := p.link.Load()
	switch {
	case p.sendCloseMsg && l != nil && l.open.Load():
		p.flushClose(l)
	case p.sendCloseMsg && p.role == roleServer && !p.started.Load():
		// A session refused before it opened has no channel to say why
		// on: the signaling says it, so that the client learns more
		// than that its channels closed.
		p.refuse()
	}
	p.outMu.Lock()
	p.outShut = true
	p.outMu.Unlock()
	p.cancel()
	if l != nil {
		l.close()
	}
	_ = p.sig.Close()
	p.aux.Wait()
	if p.tokens != nil {
		p.tokens.retire(p, p.Err().(*CloseError))
	}
	if p.onClosed != nil {
		p.onClosed()
	}
}

// flushClose sends the close message and waits, within closeFlushTimeout,
// until the peer has it. That is a round trip on a working path: the peer
// acknowledges it, or hangs up at once, which ends the events channel
// here. Closing sooner would drop it: the association's abort goes ahead of
// whatever waits in its queue, and pion cannot say when a message has left
// for the network.
func (p *peer) flushClose(l *link) {
	ce := p.Err().(*CloseError)
	b, err := wire.NewEncoder().Encode(&wire.Message{Kind: wire.KindClose, Code: uint16(ce.Code), Reason: truncate(ce.Reason, wire.MaxReasonLen)})
	if err != nil || l.r.send(b) != nil {
		return
	}
	deadline := time.Now().Add(closeFlushTimeout)
	for wait := 50 * time.Microsecond; l.r.bufferedAmount() > 0 && !l.rEnded.Load() && time.Now().Before(deadline); wait = min(2*wait, 5*time.Millisecond) {
		time.Sleep(wait)
	}
}

// refuse tells a client whose session never opened why, over the
// signaling, and gives the signal a bounded moment to leave.
func (p *peer) refuse() {
	ce := p.Err().(*CloseError)
	gen := uint32(0)
	if l := p.link.Load(); l != nil {
		gen = l.gen
	}
	p.queueSignal(Signal{Type: SignalRefused, Gen: gen, Code: uint16(ce.Code), Error: truncate(ce.Reason, wire.MaxReasonLen)})
	deadline := time.Now().Add(closeFlushTimeout)
	for time.Now().Before(deadline) {
		p.outMu.Lock()
		busy := p.writing
		p.outMu.Unlock()
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
