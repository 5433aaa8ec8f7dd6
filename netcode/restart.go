package netcode

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// State is where a Client or Session stands.
type State int32

const (
	// StateConnecting: the handshake is under way.
	StateConnecting State = iota
	// StateConnected: both channels are open and ICE has a working path.
	StateConnected
	// StateReconnecting: ICE lost its path. The client restarts ICE over the
	// signaling; channels, session and queued events stay, and events sent
	// meanwhile are delivered once the path is back.
	StateReconnecting
	// StateClosed: for good; Err says why.
	StateClosed
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

// onICEState hands pion's ICE connection state to the restarter. It runs
// in a pion callback, so it only records the state and wakes the
// restarter, which acts on the latest one: a burst of transitions can never
// fill a queue and lose the last, which is the one that matters.
func (p *peer) onICEState(s webrtc.ICEConnectionState) {
	p.iceState.Store(int32(s))
	select {
	case p.iceKick <- struct{}{}:
	default:
	}
}

// restarter watches ICE once the channels are open. On the client it
// restarts ICE when the path is lost, again after each RestartInterval
// while it stays lost, and gives up after Config.ReconnectTimeout. The
// server only reports the states: the client always makes the offer, so
// the two never offer at once (no glare).
func (p *peer) restarter() {
	defer p.wg.Done()
	var (
		lostAt time.Time
		retry  = time.NewTimer(time.Hour)
		wait   time.Duration
	)
	retry.Stop()
	defer retry.Stop()
	restart := func(why string) {
		if err := p.restartICE(); err != nil {
			p.log.Warn("ICE restart failed", "err", err)
		} else {
			p.log.Info("ICE restart", "reason", why)
		}
		retry.Reset(wait)
		wait = min(wait*2, maxRestartInterval)
	}
	for {
		select {
		case <-p.closing:
			return
		case <-p.iceKick:
			switch s := webrtc.ICEConnectionState(p.iceState.Load()); s {
			case webrtc.ICEConnectionStateDisconnected, webrtc.ICEConnectionStateFailed:
				if !lostAt.IsZero() {
					continue
				}
				lostAt = time.Now()
				p.setState(StateReconnecting, "ICE "+s.String())
				if p.role == roleClient {
					wait = p.cfg.RestartInterval
					restart("ICE " + s.String())
				} else {
					retry.Reset(p.cfg.ReconnectTimeout)
				}
			case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
				if lostAt.IsZero() {
					continue
				}
				p.log.Info("ICE path back", "after", time.Since(lostAt))
				lostAt = time.Time{}
				retry.Stop()
				p.setState(StateConnected, "ICE path back")
			}
		case <-retry.C:
			if lostAt.IsZero() {
				continue
			}
			if time.Since(lostAt) >= p.cfg.ReconnectTimeout {
				p.closeWith(&CloseError{Code: CloseConnectionLost,
					Reason: fmt.Sprintf("no path for %v despite ICE restarts", p.cfg.ReconnectTimeout.Round(time.Millisecond)),
					Err:    ErrConnectionLost}, false)
				return
			}
			if p.role == roleClient {
				restart("still no path")
			} else {
				retry.Reset(p.cfg.ReconnectTimeout - time.Since(lostAt))
			}
		}
	}
}

// maxSDPSize bounds an offer from a client; real ones are a few KiB.
const maxSDPSize = 64 << 10

// maxRestartInterval caps the backoff between ICE restart offers.
const maxRestartInterval = 4 * time.Second

// restartICE sends an offer with new ICE credentials over the signaling.
// One offer is outstanding at a time; a later call while waiting for the
// answer does nothing.
func (p *peer) restartICE() error {
	p.sdpMu.Lock()
	if p.offering {
		p.sdpMu.Unlock()
		return nil
	}
	p.offering, p.sdpSent = true, false
	p.sdpMu.Unlock()
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.sdpMu.Lock()
		p.offering = false
		p.sdpMu.Unlock()
		p.queueSDP(Signal{}) // release the candidates held back
		return fmt.Errorf("netcode: restart offer: %w", err)
	}
	p.queueSDP(Signal{Type: SignalOffer, SDP: offer.SDP})
	return nil
}

// answerRestart answers a client's ICE restart offer on an open session.
func (p *peer) answerRestart(offer string) error {
	if len(offer) > maxSDPSize {
		return fmt.Errorf("%w: restart offer of %d bytes, limit %d", ErrSignaling, len(offer), maxSDPSize)
	}
	// The client lost its path, even if this side has not noticed yet: say
	// so, and let the restarter bound the outage here too.
	p.onICEState(webrtc.ICEConnectionStateDisconnected)
	p.sdpMu.Lock()
	p.sdpSent = false
	p.sdpMu.Unlock()
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	var ans webrtc.SessionDescription
	if err == nil {
		ans, err = p.pc.CreateAnswer(nil)
	}
	if err == nil {
		err = p.pc.SetLocalDescription(ans)
	}
	if err != nil {
		p.queueSDP(Signal{})
		return fmt.Errorf("%w: restart answer: %v", ErrSignaling, err)
	}
	p.queueSDP(Signal{Type: SignalAnswer, SDP: ans.SDP})
	return nil
}
