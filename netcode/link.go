package netcode

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
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
	rc  *rtcConn

	detached chan detachedChannel // from OnOpen, both channels
	failed   chan error           // a handshake failure, once
	u, r     detachedChannel      // collected by whoever waits for the opening

	open     atomic.Bool  // adopted: sends go here, read loops run
	broken   atomic.Bool  // the transport failed for good (PC failed, events channel gone)
	iceState atomic.Int32 // the latest iceState

	// Gathering starts inside SetLocalDescription, before the offer or
	// answer is queued; candidates wait in early until it is.
	sdpMu    sync.Mutex
	sdpSent  bool
	early    []Signal
	offering bool // an ICE restart offer waits for its answer (client)

	// Owned by the signal reader.
	remoteSet bool
	pending   []ICECandidate

	downOnce sync.Once
	down     chan struct{} // closed when dropped
	wg       sync.WaitGroup
}

type detachedChannel struct {
	ch *rtcChannel
	rw io.ReadWriteCloser
}

// rtcHandlers receive a PeerConnection's events. They run on the stack's
// callback goroutine (the browser's event loop in the browser), so they
// must not block.
type rtcHandlers struct {
	// candidate is called for each local candidate gathered, then with nil
	// when gathering completes.
	candidate func(*ICECandidate)
	// ice is called on each ICE connection state change.
	ice func(iceState)
	// state is called on each PeerConnection state change, named as pion
	// and the browser both name them ("failed": for good).
	state func(string)
}

// iceState is an ICE connection state, as pion and the browser both name
// them.
type iceState int32

const (
	iceNew iceState = iota
	iceChecking
	iceConnected
	iceCompleted
	iceDisconnected
	iceFailed
	iceClosed
)

var iceStateNames = [...]string{"new", "checking", "connected", "completed", "disconnected", "failed", "closed"}

func (s iceState) String() string {
	if s < 0 || int(s) >= len(iceStateNames) {
		return "unknown"
	}
	return iceStateNames[s]
}

// parseICEState reads a state name; anything unknown counts as new.
func parseICEState(name string) iceState {
	for i, n := range iceStateNames {
		if n == name {
			return iceState(i)
		}
	}
	return iceNew
}

// newLink wraps rc, whose callbacks report to p through the link.
func (p *peer) newLink(rc *rtcConn, gen uint32) *link {
	l := &link{
		gen:      gen,
		rc:       rc,
		detached: make(chan detachedChannel, 2),
		failed:   make(chan error, 1),
		down:     make(chan struct{}),
	}
	rc.handle(rtcHandlers{
		candidate: func(c *ICECandidate) {
			s := Signal{Type: SignalCandidate, Gen: gen, Candidate: c}
			l.sdpMu.Lock()
			defer l.sdpMu.Unlock()
			if !l.sdpSent {
				l.early = append(l.early, s)
				return
			}
			p.queueSignal(s)
		},
		state: func(s string) {
			p.log.Debug("peer connection state", "state", s, "gen", gen)
			if s == "failed" {
				l.fail(fmt.Errorf("%w: ICE failed", ErrConnectionLost))
				l.broken.Store(true)
				p.wake()
			}
		},
		ice: func(s iceState) {
			// A callback of the stack: record and wake the supervisor, which
			// acts on the latest state, so a burst of transitions never
			// loses the last.
			l.iceState.Store(int32(s))
			p.wake()
		},
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

// watchChannel takes ch over when it opens (channel.go).
func (l *link) watchChannel(ch *rtcChannel) {
	ch.onOpen(func(rw io.ReadWriteCloser, err error) {
		if err != nil {
			l.fail(fmt.Errorf("netcode: open %s: %w", ch.label(), err))
			return
		}
		l.detached <- detachedChannel{ch, rw}
	})
}

// collect records an opened channel; true once both are.
func (l *link) collect(d detachedChannel) bool {
	if d.ch.label() == labelSnapshots {
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
	_ = l.rc.close()
	l.wg.Wait()
}

// dropLink releases l without waiting for it: closing a PeerConnection can take a
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
