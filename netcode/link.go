package netcode

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

// link is one PeerConnection with its two channels: the part of a session
// that a resume replaces. The session (peer) outlives its links; everything
// the game sees (queues, sequence numbers, the resend buffer, the state)
// belongs to the session.
//
// A link is created by Dial or Accept (generation 0), by the client's
// supervisor for each resume attempt, or by the server's signal reader when
// a resume offer arrives; it becomes current at once, so that its signals
// find it. It is adopted (open set, read loops started) once both channels
// are open, and dropped when it is replaced, fails for good or the session
// closes.
type link struct {
	gen uint32 // 0 for the first, then the client's count of resume attempts
	pc  *webrtc.PeerConnection

	detached chan detachedChannel // from OnOpen, both channels
	failed   chan error           // a handshake failure, once
	u, r     detachedChannel      // collected by whoever waits for the opening

	open     atomic.Bool  // adopted: sends go here, read loops run
	broken   atomic.Bool  // the transport failed for good (PC failed, events channel gone)
	iceState atomic.Int32 // pion's latest webrtc.ICEConnectionState

	// Gathering starts inside SetLocalDescription, before the offer or
	// answer is queued; candidates wait in early until it is.
	sdpMu    sync.Mutex
	sdpSent  bool
	early    []Signal
	offering bool // an ICE restart offer waits for its answer (client)

	// Owned by the signal reader.
	remoteSet bool
	pending   []webrtc.ICECandidateInit

	downOnce sync.Once
	down     chan struct{} // closed when dropped
	wg       sync.WaitGroup
}

type detachedChannel struct {
	dc *webrtc.DataChannel
	rw datachannel.ReadWriteCloser
}

// newLink wraps pc, whose pion callbacks report to p through the link.
func (p *peer) newLink(pc *webrtc.PeerConnection, gen uint32) *link {
	l := &link{
		gen:      gen,
		pc:       pc,
		detached: make(chan detachedChannel, 2),
		failed:   make(chan error, 1),
		down:     make(chan struct{}),
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		s := Signal{Type: SignalCandidate, Gen: gen}
		if c != nil {
			init := c.ToJSON()
			s.Candidate = &init
		}
		l.sdpMu.Lock()
		defer l.sdpMu.Unlock()
		if !l.sdpSent {
			l.early = append(l.early, s)
			return
		}
		p.queueSignal(s)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("peer connection state", "state", s.String(), "gen", gen)
		if s == webrtc.PeerConnectionStateFailed {
			l.fail(fmt.Errorf("%w: ICE failed", ErrConnectionLost))
			l.broken.Store(true)
			p.wake()
		}
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		// A pion callback: record and wake the supervisor, which acts on
		// the latest state, so a burst of transitions never loses the last.
		l.iceState.Store(int32(s))
		p.wake()
	})
	return l
}

// fail reports a handshake error to whoever waits for the opening, once.
func (l *link) fail(err error) {
	select {
	case l.failed <- err:
	default:
	}
}

// watchChannel takes dc over when it opens (channel.go).
func (l *link) watchChannel(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		rw, err := openChannel(dc)
		if err != nil {
			l.fail(fmt.Errorf("netcode: open %s: %w", dc.Label(), err))
			return
		}
		l.detached <- detachedChannel{dc, rw}
	})
}

// collect records an opened channel; true once both are.
func (l *link) collect(d detachedChannel) bool {
	if d.dc.Label() == labelSnapshots {
		l.u = d
	} else {
		l.r = d
	}
	return l.u.rw != nil && l.r.rw != nil
}

// waitOpen waits for both channels of the first link, for Dial and Accept.
func (l *link) waitOpen(ctx context.Context, closing <-chan struct{}, closeErr func() error) error {
	for {
		select {
		case d := <-l.detached:
			if l.collect(d) {
				return nil
			}
		case err := <-l.failed:
			return err
		case <-closing:
			return closeErr()
		case <-ctx.Done():
			return fmt.Errorf("netcode: waiting for data channels: %w", ctx.Err())
		}
	}
}

// queueSDP queues our offer or answer, then the candidates gathered so far:
// the other side must see the description first.
func (p *peer) queueSDP(l *link, s Signal) {
	l.sdpMu.Lock()
	defer l.sdpMu.Unlock()
	if s.Type != "" {
		p.queueSignal(s)
	}
	for _, c := range l.early {
		p.queueSignal(c)
	}
	l.early, l.sdpSent = nil, true
}

func (l *link) isDown() bool {
	select {
	case <-l.down:
		return true
	default:
		return false
	}
}

// close releases the link and waits for its read loops. Idempotent.
func (l *link) close() {
	l.downOnce.Do(func() { close(l.down) })
	_ = l.pc.Close()
	l.wg.Wait()
}

// dropLink releases l without waiting for it: pion's Close can take a
// moment, and neither the signal reader nor the supervisor may stall on it.
// The session's Close waits for it.
func (p *peer) dropLink(l *link) {
	if l == nil {
		return
	}
	l.downOnce.Do(func() { close(l.down) })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		l.close()
	}()
}

// setLink makes l current and drops the link it replaces.
func (p *peer) setLink(l *link) {
	p.sendMu.Lock()
	old := p.link.Swap(l)
	p.sendMu.Unlock()
	if old != l {
		p.dropLink(old)
	}
	p.wake()
}

// adopt starts using l, whose channels are open: it resends the events the
// peer has not acknowledged (the peer drops those it already has) before
// any new one, and starts the read loops. False if l is no longer current.
func (p *peer) adopt(l *link, resumed bool) bool {
	p.sendMu.Lock()
	if p.link.Load() != l || l.isDown() || p.isClosing() {
		p.sendMu.Unlock()
		return false
	}
	p.trimResendLocked()
	for _, e := range p.resend {
		if _, err := l.r.rw.Write(e.b); err != nil {
			break // the read loop will report the link
		}
		p.stats.bytesOut.Add(uint64(len(e.b)))
		if resumed {
			p.stats.eventsResent.Add(1)
		}
	}
	l.open.Store(true)
	p.sendMu.Unlock()
	if resumed && p.role == roleClient {
		// Fresh state at once: the snapshot held from before the outage is
		// stale, and the next one the server sends is newer.
		p.mu.Lock()
		for p.dqLen > 0 {
			p.popDatagramLocked()
		}
		p.mu.Unlock()
	}
	p.lastRecv.Store(p.now())
	l.wg.Add(2)
	go p.readUnreliable(l)
	go p.readReliable(l)
	return true
}
