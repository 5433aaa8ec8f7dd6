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

// Supervision timing.
const (
	// superviseInterval is how often the supervisor looks at the clock:
	// for silence, backoff and timeouts.
	superviseInterval = 100 * time.Millisecond
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

// supervise watches the current link once the session is up, and is the
// only goroutine that decides about reconnection:
//
//   - trouble is ICE disconnected or failed, nothing on the snapshot channel
//     for Config.SilenceTimeout (pings keep it busy both ways), a failed
//     channel or PeerConnection, or a CheckPath probe left unanswered;
//   - the client then restarts ICE on the same PeerConnection, again after
//     each RestartInterval (doubling, with jitter), and the server waits;
//   - after Config.RestartTimeout, or at once when the PeerConnection or
//     its events channel failed, the client resumes the session on a new
//     PeerConnection with its resume token; the server keeps the session
//     for the client to do so;
//   - after Config.ReconnectTimeout without a connection, either side
//     closes the session with CloseConnectionLost.
//
// Only the client offers, so the two never offer at once (no glare).
func (p *peer) supervise() {
	defer p.wg.Done()
	tick := time.NewTicker(superviseInterval)
	defer tick.Stop()
	var (
		lostAt     time.Time // zero while connected
		lostWhy    string
		resuming   bool          // the client moved on to new PeerConnections
		attempting bool          // a resume attempt is under way (client)
		attemptAt  time.Time     // when it started
		nextTry    time.Time     // the next restart offer or resume attempt (client)
		backoff    time.Duration // the wait after the next restart or failed attempt
		probeAt    int64         // p.now() when a CheckPath probe started, or 0
	)
	client := p.role == roleClient
	lose := func(why string) {
		if lostAt.IsZero() {
			lostAt, lostWhy = time.Now(), why
			backoff = p.cfg.RestartInterval
			p.log.Info("connection lost", "reason", why)
		}
	}
	for {
		l := p.link.Load()
		var opened chan detachedChannel
		var failed chan error
		if !l.open.Load() && !l.isDown() {
			opened, failed = l.detached, l.failed
		}
		select {
		case <-p.closing:
			return
		case <-p.wakeC:
		case <-tick.C:
		case why := <-p.probeReq:
			switch {
			case lostAt.IsZero():
				probeAt = p.now()
				p.log.Debug("checking the path", "reason", why)
			case client && !resuming:
				resuming, nextTry, backoff = true, time.Time{}, p.cfg.RestartInterval
				p.log.Info("resuming at once", "reason", why)
			case client:
				// Resuming: try again now, without waiting out the backoff
				// (the last offer may have gone while the signaling was down).
				attempting, nextTry = false, time.Time{}
			}
		case <-p.restartReq:
			if lostAt.IsZero() {
				lose("the server asked for an ICE restart")
			}
			if !resuming {
				nextTry = time.Time{}
			}
		case d := <-opened:
			if !l.collect(d) || !p.adopt(l, l.gen > 0) {
				continue
			}
			p.stats.resumes.Add(1)
			p.log.Info("session resumed", "after", time.Since(lostAt), "gen", l.gen, "resent", p.stats.eventsResent.Load())
			lostAt, resuming, attempting, probeAt = time.Time{}, false, false, 0
			p.setState(StateConnected, "resumed on a new connection")
			continue
		case err := <-failed:
			p.log.Info("resume attempt failed", "gen", l.gen, "err", err)
			l.broken.Store(true)
		}

		now := time.Now()
		if !l.open.Load() {
			// A link being resumed (the server learns of it from the
			// client's offer) or a failed attempt (client).
			lose("client resuming")
		} else {
			ice := iceState(l.iceState.Load())
			iceLost := ice == iceDisconnected || ice == iceFailed
			since := time.Duration(p.now() - p.lastRecv.Load())
			switch {
			case l.broken.Load():
				lose("connection failed")
				if !resuming {
					resuming, nextTry, backoff = true, time.Time{}, p.cfg.RestartInterval
				}
			case iceLost:
				lose("ICE " + ice.String())
			case since > p.cfg.SilenceTimeout:
				lose(fmt.Sprintf("nothing received for %v", since.Round(time.Millisecond)))
			case probeAt != 0 && p.lastRecv.Load() <= probeAt && time.Duration(p.now()-probeAt) > p.probeTimeout():
				lose("no answer to a path check")
			case !lostAt.IsZero() && (ice == iceConnected || ice == iceCompleted) &&
				!l.isOffering() && p.lastRecv.Load() > int64(lostAt.Sub(p.epoch)):
				// The same PeerConnection carries traffic again, and no
				// restart is half done.
				p.log.Info("path back", "after", now.Sub(lostAt))
				lostAt, resuming, probeAt = time.Time{}, false, 0
				p.setState(StateConnected, "path back")
				continue
			}
			if probeAt != 0 && p.lastRecv.Load() > probeAt {
				probeAt = 0
			}
		}
		if lostAt.IsZero() {
			continue
		}

		if now.Sub(lostAt) >= p.cfg.ReconnectTimeout {
			reason := fmt.Sprintf("no connection for %v (%s)", p.cfg.ReconnectTimeout.Round(time.Millisecond), lostWhy)
			if !client {
				reason = fmt.Sprintf("client did not come back within %v (%s)", p.cfg.ReconnectTimeout.Round(time.Millisecond), lostWhy)
			}
			p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: reason, Err: ErrConnectionLost}, false)
			return
		}
		if !client {
			if !l.open.Load() || l.broken.Load() {
				p.setState(StateResuming, "waiting for the client to resume")
			} else {
				p.setState(StateReconnecting, lostWhy)
			}
			continue
		}
		if p.sigEnd.Load() {
			p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: lostWhy + ", and the signaling to recover over is gone", Err: ErrConnectionLost}, false)
			return
		}
		if !resuming && now.Sub(lostAt) >= p.cfg.RestartTimeout {
			resuming, nextTry, backoff = true, time.Time{}, p.cfg.RestartInterval
			p.log.Info("ICE restarts did not recover; resuming", "after", now.Sub(lostAt))
		}
		if !resuming {
			p.setState(StateReconnecting, lostWhy)
			if now.Before(nextTry) {
				continue
			}
			if err := p.restartICE(l); err != nil {
				p.log.Warn("ICE restart failed", "err", err)
			} else {
				p.stats.restarts.Add(1)
			}
			nextTry = now.Add(jitter(backoff))
			backoff = min(backoff*2, maxRestartInterval)
			continue
		}
		p.setState(StateResuming, lostWhy)
		if attempting && (l.broken.Load() || now.Sub(attemptAt) >= resumeAttemptTimeout) {
			attempting = false
			nextTry = now.Add(jitter(backoff))
			backoff = min(backoff*2, maxRestartInterval)
		}
		if attempting || now.Before(nextTry) {
			continue
		}
		if err := p.resumeAttempt(l.gen + 1); err != nil {
			p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "cannot resume: " + err.Error(), Err: err}, false)
			return
		}
		attempting, attemptAt = true, now
	}
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
	// The client lost its path, even if this side has not noticed yet: say
	// so, and let the supervisor bound the outage here too.
	l.iceState.Store(int32(iceDisconnected))
	p.wake()
	if p.screen != nil {
		var err error
		if offer, err = p.screen.offer(offer); err != nil {
			p.overLimit(l, err)
			return err
		}
	}
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
		return nil // counted as a failed attempt
	}
	p.log.Info("resuming on a new connection", "gen", gen)
	p.queueSDP(l, Signal{Type: SignalOffer, SDP: offer, Gen: gen, Resume: *tok})
	return nil
}

// resumeOffer handles a client's offer to resume this session on a new
// PeerConnection (server, from the signal reader): the token must be the
// session's current one. The answer carries the next token.
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
