package netcode

import (
	"fmt"
	"unicode/utf8"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// readSignals is the signal reader: ReadSignal blocks, so it has a
// goroutine of its own, which hands every signal to the run loop.
func (p *peer) readSignals() {
	defer p.aux.Done()
	for {
		s, err := p.sig.ReadSignal(p.ctx)
		if err != nil {
			p.sigEnded <- err // buffered: the run loop takes it when it can
			return
		}
		select {
		case p.sigIn <- s:
		case <-p.ctx.Done():
			return
		}
	}
}

// queueSignal queues s for the signal writer without blocking, for the run
// loop and the stack's callbacks (candidates), and starts a writer if none
// is running: a session that is not signaling has no writer goroutine.
func (p *peer) queueSignal(s Signal) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if len(p.out) >= maxPendingCandidates {
		p.logRate.Do(func() { p.log.Warn("signaling backlog full, dropping", "type", s.Type) })
		return
	}
	p.out = append(p.out, s)
	if p.writing || p.outShut {
		return
	}
	p.writing = true
	p.aux.Add(1)
	go p.writeSignals()
}

// writeSignals writes the queued signals in order, then ends. Once the
// session is up a failed write is only logged: the restart or resume that
// needed it tries again, and a signaler that is gone for good shows in its
// reads.
func (p *peer) writeSignals() {
	defer p.aux.Done()
	for {
		p.outMu.Lock()
		if len(p.out) == 0 || p.outShut {
			p.out, p.writing = nil, false
			p.outMu.Unlock()
			return
		}
		s := p.out[0]
		p.out = p.out[1:]
		p.outMu.Unlock()
		if err := p.sig.WriteSignal(p.ctx, s); err != nil {
			if !p.started.Load() {
				if l := p.link.Load(); l != nil {
					l.fail(fmt.Errorf("%w: write %s: %v", ErrSignaling, s.Type, err))
				}
				continue
			}
			p.logRate.Do(func() { p.log.Debug("signaling write failed", "type", s.Type, "err", err) })
		}
	}
}

// onSignalingEnded: the signaler is gone. Before the session is up that
// ends the handshake; after, no restart or resume can reach the peer any
// more, and the session lives on until its connection fails.
func (p *peer) onSignalingEnded(err error) {
	if p.isClosing() {
		return
	}
	if !p.started.Load() {
		if l := p.link.Load(); l != nil {
			l.fail(fmt.Errorf("%w: read: %v", ErrSignaling, err))
		}
	}
	p.log.Debug("signaling ended", "err", err)
	p.sigEnd.Store(true)
}

// onSignal applies a remote signal to the link it belongs to (by
// generation); on the server it creates the links that resume offers ask
// for. Run loop.
func (p *peer) onSignal(s Signal) {
	l := p.link.Load()
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
		// For a link already replaced (or, from a confused peer, one that
		// never was): nothing to apply it to.
		p.log.Debug("signal for another connection dropped", "type", s.Type, "gen", s.Gen, "current", l.gen)
	case s.Type == SignalAnswer && p.role == roleClient && !l.remoteSet:
		if err := l.rc.setAnswer(s.SDP); err != nil {
			l.fail(fmt.Errorf("%w: answer: %v", ErrSignaling, err))
			return
		}
		l.remoteSet = true
		if s.Resume != "" {
			p.token.Store(&s.Resume)
		}
		p.addPending(l)
	case s.Type == SignalAnswer && p.role == roleClient && l.isOffering():
		// The answer to an ICE restart (recovery.go).
		err := l.rc.setAnswer(s.SDP)
		l.sdpMu.Lock()
		l.offering = false
		l.sdpMu.Unlock()
		if err != nil {
			p.logRate.Do(func() { p.log.Warn("ICE restart answer refused", "err", err) })
			return
		}
		p.addPending(l)
	case s.Type == SignalOffer && p.role == roleServer && l.open.Load():
		if err := p.answerRestart(l, s.SDP); err != nil {
			p.logRate.Do(func() { p.log.Warn("ICE restart offer refused", "err", err) })
		}
	case s.Type == SignalRefused && p.role == roleClient && s.Gen == 0:
		// The server will not take this session at all (a resume is
		// never of generation 0). It may come just after our channels
		// opened: they open on our side before the server has seen them.
		reason := truncate(s.Error, wire.MaxReasonLen)
		p.closeWith(&CloseError{Code: CloseCode(s.Code), Reason: reason, Remote: true, Err: fmt.Errorf("%w: %s", ErrRefused, reason)}, false)
	case s.Type == SignalRefused && p.role == roleClient:
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "resume refused: " + truncate(s.Error, wire.MaxReasonLen),
			Err: fmt.Errorf("%w: %s", ErrResumeRejected, truncate(s.Error, wire.MaxReasonLen))}, false)
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
