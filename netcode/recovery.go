package netcode

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// State is where a Client or Session stands.
type State int32

const (
	// StateConnecting: the handshake is under way.
	StateConnecting State = iota
	// StateConnected: both channels are open and ICE has a working path.
	StateConnected
	// StateReconnecting: the path is lost (ICE disconnected, or nothing
	// received for Config.SilenceTimeout). The client restarts ICE over the
	// signaling; channels, session and queued events stay, and events sent
	// meanwhile are delivered once the path is back.
	StateReconnecting
	// StateClosed: for good; Err says why.
	StateClosed
	// StateResuming: the PeerConnection failed or ICE restarts did not
	// recover in time. The client resumes the same session on a new
	// PeerConnection with its resume token; the server holds the session
	// (and the player's seat) meanwhile. Events are resent, none lost or
	// doubled, and the game gets fresh snapshots, not old ones.
	StateResuming
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	case StateResuming:
		return "resuming"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// StateChange is one transition, with why it happened.
type StateChange struct {
	State  State
	Reason string
	At     time.Time
}

// stateBuffer is how many transitions wait for a reader of StateChanges;
// beyond it the oldest is dropped, so the newest is always there.
const stateBuffer = 16

// setState records a transition and offers it to StateChanges without
// blocking: a game that does not read them loses old ones, never new ones.
func (p *peer) setState(s State, reason string) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if State(p.state.Load()) == s || State(p.state.Load()) == StateClosed {
		return
	}
	p.state.Store(int32(s))
	ch := StateChange{State: s, Reason: reason, At: time.Now()}
	for range 2 {
		select {
		case p.states <- ch:
			return
		default:
		}
		select {
		case <-p.states:
		default:
		}
	}
}

// Recovery timing.
const (
	// maxRestartInterval caps the backoff between ICE restart offers and
	// between resume attempts.
	maxRestartInterval = 4 * time.Second
	// resumeAttemptTimeout bounds one resume attempt: ICE gives up on a
	// candidate pair after about 1.4 s of failed checks (7 at 200 ms), so
	// an attempt that has not connected by then is tried again afresh.
	resumeAttemptTimeout = 3 * time.Second
	// maxSDPSize bounds an offer from a client; real ones are a few KiB.
	maxSDPSize = 64 << 10
)

// jitter spreads d over [d/2, 3d/2), so that the clients of a server that
// restarts do not all come back in the same millisecond.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d) }

// recovery is the run loop's view of the session's path, and the only
// place that decides about reconnection:
//
//   - trouble is ICE disconnected or failed, nothing received for
//     Config.SilenceTimeout (pings keep it busy both ways), a failed
//     channel or PeerConnection, or a CheckPath probe left unanswered;
//   - the client then restarts ICE on the same PeerConnection, again after
//     each RestartInterval (doubling, with jitter), and the server waits;
//   - after ClientConfig.RestartTimeout, or at once when the PeerConnection or a
//     channel failed, the client resumes the session on a new
//     PeerConnection with its resume token; the server keeps the session
//     for the client to do so;
//   - after Config.ReconnectTimeout without a connection, either side
//     closes the session with CloseConnectionLost.
//
// Only the client offers, so the two never offer at once (no glare).
type recovery struct {
	lostAt     time.Time // zero while connected
	lostWhy    string
	resuming   bool          // the client moved on to new PeerConnections
	attempting bool          // a resume attempt is under way (client)
	attemptAt  time.Time     // when it started
	nextTry    time.Time     // the next restart offer or resume attempt (client)
	backoff    time.Duration // the wait after the next restart or failed attempt
	probeAt    int64         // p.now() when a CheckPath probe started, or 0
}

func (r *recovery) lose(p *peer, why string) {
	if r.lostAt.IsZero() {
		r.lostAt, r.lostWhy = time.Now(), why
		r.backoff = p.cfg.RestartInterval
		p.log.Info("connection lost", "reason", why)
	}
}

// resumeNow moves a client from ICE restarts to resuming.
func (r *recovery) resumeNow(p *peer) {
	r.resuming, r.nextTry, r.backoff = true, time.Time{}, p.cfg.RestartInterval
}

// probe is CheckPath.
func (r *recovery) probe(p *peer, why string) {
	client := p.role == roleClient
	switch {
	case r.lostAt.IsZero():
		r.probeAt = p.now()
		p.log.Debug("checking the path", "reason", why)
	case client && !r.resuming:
		r.resumeNow(p)
		p.log.Info("resuming at once", "reason", why)
	case client:
		// Resuming: try again now, without waiting out the backoff (the last
		// offer may have gone while the signaling was down).
		r.attempting, r.nextTry = false, time.Time{}
	}
}

// restartAsked: the server asked for an ICE restart.
func (r *recovery) restartAsked(p *peer) {
	if r.lostAt.IsZero() {
		r.lose(p, "the server asked for an ICE restart")
	}
	if !r.resuming {
		r.nextTry = time.Time{}
	}
}

// resumed: a resume link opened and was adopted.
func (r *recovery) resumed(p *peer, l *link) {
	p.stats.resumes.Add(1)
	p.log.Info("session resumed", "after", time.Since(r.lostAt), "gen", l.gen, "resent", p.stats.eventsResent.Load())
	*r = recovery{}
	p.setState(StateConnected, "resumed on a new connection")
}

// step looks at the path now and acts: it declares it lost or back,
// restarts ICE, makes a resume attempt, or gives up. It returns when it
// wants to look again (the zero Time: only when something happens).
func (r *recovery) step(p *peer, now time.Time) time.Time {
	l := p.link.Load()
	client := p.role == roleClient
	var next time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if !l.open.Load() {
		// A link being resumed (the server learns of it from the client's
		// offer) or a failed attempt (client).
		r.lose(p, "client resuming")
	} else {
		ice := iceState(l.iceState.Load())
		iceLost := ice == iceDisconnected || ice == iceFailed
		last := p.lastRecv.Load()
		since := time.Duration(p.now() - last)
		switch {
		case l.broken.Load() && l.draining(p.now()):
			// Perhaps the peer hung up: its close message first.
			soonest(p.epoch.Add(time.Duration(l.chClosedAt.Load()) + closeFlushTimeout + time.Millisecond))
		case l.broken.Load():
			r.lose(p, "connection failed")
			if !r.resuming {
				r.resumeNow(p)
			}
		case iceLost:
			r.lose(p, "ICE "+ice.String())
		case since > p.cfg.SilenceTimeout && !p.quiet.Load():
			r.lose(p, fmt.Sprintf("nothing received for %v", since.Round(time.Millisecond)))
		case r.probeAt != 0 && last <= r.probeAt && time.Duration(p.now()-r.probeAt) > p.probeTimeout():
			r.lose(p, "no answer to a path check")
		case !r.lostAt.IsZero() && (ice == iceConnected || ice == iceCompleted) &&
			!l.isOffering() && last > int64(r.lostAt.Sub(p.epoch)):
			// The same PeerConnection carries traffic again, and no restart
			// is half done.
			p.log.Info("path back", "after", now.Sub(r.lostAt))
			*r = recovery{}
			p.setState(StateConnected, "path back")
		}
		if r.probeAt != 0 && last > r.probeAt {
			r.probeAt = 0
		}
		if r.lostAt.IsZero() {
			// Watch the clock for silence, and for the probe's answer.
			if !p.quiet.Load() {
				soonest(p.epoch.Add(time.Duration(last) + p.cfg.SilenceTimeout + time.Millisecond))
			}
			if r.probeAt != 0 {
				soonest(p.epoch.Add(time.Duration(r.probeAt) + p.probeTimeout() + time.Millisecond))
			}
			p.watching.Store(r.probeAt != 0)
			return next
		}
	}
	// Lost: hear of every message (the path may be back), and of the clock.
	p.watching.Store(true)
	soonest(r.lostAt.Add(p.cfg.ReconnectTimeout))
	if now.Sub(r.lostAt) >= p.cfg.ReconnectTimeout {
		reason := fmt.Sprintf("no connection for %v (%s)", p.cfg.ReconnectTimeout.Round(time.Millisecond), r.lostWhy)
		if !client {
			reason = fmt.Sprintf("client did not come back within %v (%s)", p.cfg.ReconnectTimeout.Round(time.Millisecond), r.lostWhy)
		}
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: reason, Err: ErrConnectionLost}, false)
		return time.Time{}
	}
	if !client {
		if !l.open.Load() || l.broken.Load() {
			p.setState(StateResuming, "waiting for the client to resume")
		} else {
			p.setState(StateReconnecting, r.lostWhy)
		}
		return next
	}
	if p.sigEnd.Load() {
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: r.lostWhy + ", and the signaling to recover over is gone", Err: ErrConnectionLost}, false)
		return time.Time{}
	}
	if !r.resuming && now.Sub(r.lostAt) >= p.cfg.RestartTimeout {
		r.resumeNow(p)
		p.log.Info("ICE restarts did not recover; resuming", "after", now.Sub(r.lostAt))
	}
	if !r.resuming {
		soonest(r.lostAt.Add(p.cfg.RestartTimeout))
		p.setState(StateReconnecting, r.lostWhy)
		if now.Before(r.nextTry) {
			soonest(r.nextTry)
			return next
		}
		if err := p.restartICE(l); err != nil {
			p.log.Warn("ICE restart failed", "err", err)
		} else {
			p.stats.restarts.Add(1)
		}
		r.nextTry = now.Add(jitter(r.backoff))
		r.backoff = min(r.backoff*2, maxRestartInterval)
		soonest(r.nextTry)
		return next
	}
	p.setState(StateResuming, r.lostWhy)
	if r.attempting && (l.broken.Load() || now.Sub(r.attemptAt) >= resumeAttemptTimeout) {
		r.attempting = false
		r.nextTry = now.Add(jitter(r.backoff))
		r.backoff = min(r.backoff*2, maxRestartInterval)
	}
	if r.attempting {
		soonest(r.attemptAt.Add(resumeAttemptTimeout))
		return next
	}
	if now.Before(r.nextTry) {
		soonest(r.nextTry)
		return next
	}
	if err := p.resumeAttempt(l.gen + 1); err != nil {
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "cannot resume: " + err.Error(), Err: err}, false)
		return time.Time{}
	}
	r.attempting, r.attemptAt = true, now
	soonest(now.Add(resumeAttemptTimeout))
	return next
}

// probeTimeout is how long a CheckPath probe waits for anything from the
// peer: the peer pings every PingInterval, and answers ours within a
// round trip.
func (p *peer) probeTimeout() time.Duration {
	srtt, _ := p.rtt.get()
	return p.cfg.PingInterval + max(4*srtt, 200*time.Millisecond)
}

// restartICE sends an offer with new ICE credentials over the signaling.
// One offer is outstanding at a time; a later call while waiting for the
// answer does nothing.
func (p *peer) restartICE(l *link) error {
	l.sdpMu.Lock()
	if l.offering {
		l.sdpMu.Unlock()
		return nil
	}
	l.offering, l.sdpSent = true, false
	l.sdpMu.Unlock()
	offer, err := l.rc.offer(true)
	if err != nil {
		l.sdpMu.Lock()
		l.offering = false
		l.sdpMu.Unlock()
		p.queueSDP(l, Signal{}) // release the candidates held back
		return fmt.Errorf("netcode: restart offer: %w", err)
	}
	p.queueSDP(l, Signal{Type: SignalOffer, SDP: offer, Gen: l.gen})
	return nil
}

// answerRestart answers a client's ICE restart offer on an open session.
func (p *peer) answerRestart(l *link, offer string) error {
	if len(offer) > maxSDPSize {
		return fmt.Errorf("%w: restart offer of %d bytes, limit %d", ErrSignaling, len(offer), maxSDPSize)
	}
	if p.screen != nil {
		var err error
		if offer, err = p.screen.offer(offer); err != nil {
			p.overLimit(l, err)
			return err
		}
	}
	// The client lost its path, even if this side has not noticed yet: say
	// so, and let recovery bound the outage here too.
	p.rec.lose(p, "the client restarts ICE")
	l.sdpMu.Lock()
	l.sdpSent = false
	l.sdpMu.Unlock()
	ans, err := l.rc.answer(offer)
	if err != nil {
		p.queueSDP(l, Signal{})
		return fmt.Errorf("%w: restart answer: %v", ErrSignaling, err)
	}
	p.queueSDP(l, Signal{Type: SignalAnswer, SDP: ans, Gen: l.gen})
	return nil
}

// resumeAttempt replaces the client's link with a new PeerConnection of
// generation gen and offers it with the resume token.
func (p *peer) resumeAttempt(gen uint32) error {
	tok := p.token.Load()
	if tok == nil || *tok == "" {
		return fmt.Errorf("%w: the server gave no resume token", ErrResumeRejected)
	}
	l, err := p.mkLink(gen)
	if err != nil {
		return err
	}
	p.setLink(l)
	offer, err := l.rc.offer(false)
	if err != nil {
		l.fail(fmt.Errorf("netcode: resume offer: %w", err))
		l.broken.Store(true)
		return nil // counted as a failed attempt
	}
	p.log.Info("resuming on a new connection", "gen", gen)
	p.queueSDP(l, Signal{Type: SignalOffer, SDP: offer, Gen: gen, Resume: *tok})
	return nil
}

// resumeOffer handles a client's offer to resume this session on a new
// PeerConnection (server, from the run loop): the token must be the
// session's current one.
func (p *peer) resumeOffer(s Signal) {
	refuse := func(why string) {
		p.log.Info("resume refused", "reason", why)
		p.queueSignal(Signal{Type: SignalRefused, Gen: s.Gen, Error: truncate(why, wire.MaxReasonLen)})
	}
	cur := p.link.Load()
	switch {
	case p.tokens == nil || p.mkLink == nil:
		refuse("resume not supported")
		return
	case s.Gen <= cur.gen:
		p.log.Debug("stale resume offer dropped", "gen", s.Gen, "current", cur.gen)
		return
	case len(s.SDP) > maxSDPSize:
		refuse(fmt.Sprintf("offer of %d bytes, limit %d", len(s.SDP), maxSDPSize))
		return
	}
	sdp := s.SDP
	if p.screen != nil {
		var err error
		if sdp, err = p.screen.offer(sdp); err != nil {
			refuse(err.Error())
			p.overLimit(cur, err)
			return
		}
	}
	next, err := p.tokens.redeem(s.Resume, p)
	if err != nil {
		p.log.Info("resume refused", "reason", err)
		p.queueSignal(Signal{Type: SignalRefused, Gen: s.Gen, Error: p.tokens.refusal(err)})
		return
	}
	l, err := p.mkLink(s.Gen)
	if err != nil {
		refuse(err.Error())
		return
	}
	ans, err := l.rc.answer(sdp)
	if err != nil {
		l.close()
		refuse("bad offer: " + err.Error())
		return
	}
	l.remoteSet = true
	p.setLink(l)
	p.queueSDP(l, Signal{Type: SignalAnswer, SDP: ans, Gen: s.Gen, Resume: next})
}
