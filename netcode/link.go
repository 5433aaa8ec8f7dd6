package netcode

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// link is one PeerConnection with its two channels: the part of a session
// that a resume replaces. The session (peer) outlives its links;
// everything the game sees (queues, sequence numbers, the resend buffer,
// the state) belongs to the session.
//
// A link is made by Dial or Accept (generation 0), by the client's run
// loop for each resume attempt, or by the server's when a resume offer
// arrives; it becomes current at once, so that its signals find it. It is
// adopted (open set, messages taken) once both channels are open, and
// dropped when it is replaced, fails for good or the session closes.
type link struct {
	gen   uint32 // 0 for the first, then the client's count of resume attempts
	rc    *rtcConn
	since time.Time   // when it became current
	u, r  *rtcChannel // the snapshot and event channels once open (run loop)

	// The message handlers' own codecs: each channel's handler runs on one
	// goroutine at a time.
	decU, decR *wire.Decoder
	encU       *wire.Encoder

	opened chan *rtcChannel // a channel's open event, for the run loop
	failed chan error       // a handshake failure, once
	open   atomic.Bool      // adopted: sends go here, messages are taken
	broken atomic.Bool      // the transport failed for good (PC failed, a channel closed)
	// A channel's end, for the run loop to tell a peer that hung up from a
	// failure: when a channel closed first (p.now(), 0 if none has), and
	// whether the events channel has delivered everything up to its end.
	chClosedAt atomic.Int64
	rEnded     atomic.Bool
	iceState   atomic.Int32 // the latest iceState

	// Gathering starts inside SetLocalDescription, before the offer or
	// answer is queued; candidates wait in early until it is.
	sdpMu    sync.Mutex
	sdpSent  bool
	early    []Signal
	offering bool // an ICE restart offer waits for its answer (client)

	// Owned by the run loop.
	remoteSet bool
	pending   []ICECandidate

	downOnce sync.Once
	down     chan struct{} // closed when dropped
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
		gen:    gen,
		rc:     rc,
		opened: make(chan *rtcChannel, 2),
		failed: make(chan error, 1),
		down:   make(chan struct{}),
		since:  time.Now(),
		decU:   wire.NewDecoder(),
		decR:   wire.NewDecoder(),
		encU:   wire.NewEncoder(),
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
			// Recorded for the run loop, which acts on the latest state, so
			// that a burst of transitions never loses the last.
			l.iceState.Store(int32(s))
			p.wake()
		},
	})
	return l
}

// draining says whether a channel has closed but the events channel has
// not yet delivered what it holds. A peer that closes on purpose sends its
// close message and then takes the association down; each channel's
// messages are delivered in order before its end is reported, but the
// other channel may report its end first. The close message then is still
// on its way, and the connection is not lost: the peer hung up.
func (l *link) draining(now int64) bool {
	at := l.chClosedAt.Load()
	return at != 0 && !l.rEnded.Load() && time.Duration(now-at) < closeFlushTimeout
}

// fail reports a handshake error to whoever waits for the opening, once.
func (l *link) fail(err error) {
	select {
	case l.failed <- err:
	default:
	}
}

// watch takes a channel of l over: it opens for the run loop (which sets
// l.u or l.r then), and from then its messages go to the session.
func (p *peer) watch(l *link, ch *rtcChannel) {
	unreliable := ch.label() == labelSnapshots
	ch.handle(channelHandlers{
		open: func() {
			select {
			case l.opened <- ch:
			case <-l.down:
			}
			p.wake()
		},
		message: func(b []byte) {
			if unreliable {
				p.onUnreliable(l, ch, b)
			} else {
				p.onReliable(l, b)
			}
		},
		closed: func(err error) { p.channelClosed(l, ch, err) },
	})
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

func (l *link) isOffering() bool {
	l.sdpMu.Lock()
	defer l.sdpMu.Unlock()
	return l.offering
}

func (l *link) isDown() bool {
	select {
	case <-l.down:
		return true
	default:
		return false
	}
}

// current says whether l is the session's link: messages from any other
// are late ones of a replaced connection, and are dropped. A current link
// is read before it is adopted: the peer may send as soon as it has
// adopted its own end.
func (p *peer) current(l *link) bool { return p.link.Load() == l && !l.isDown() }

// close releases the link. Idempotent; pion's close can take a moment.
func (l *link) close() {
	l.downOnce.Do(func() { close(l.down) })
	_ = l.rc.close()
}

// dropLink releases l without waiting for it, so that the run loop never
// stalls on pion; the session's teardown waits for it.
func (p *peer) dropLink(l *link) {
	if l == nil {
		return
	}
	l.downOnce.Do(func() { close(l.down) })
	p.aux.Add(1)
	go func() {
		defer p.aux.Done()
		l.close()
	}()
}

// setLink makes l current and drops the link it replaces. Run loop (or the
// handshake before it starts).
func (p *peer) setLink(l *link) {
	if old := p.link.Swap(l); old != nil && old != l {
		p.dropLink(old)
	}
}

// adopt starts using l, whose channels are open: it resends the events the
// peer has not acknowledged (the peer drops those it already has) before
// any new one, and starts taking its messages. False if l is no longer
// current. Run loop.
func (p *peer) adopt(l *link, resumed bool) bool {
	if p.link.Load() != l || l.isDown() || p.isClosing() {
		return false
	}
	if resumed && p.role == roleClient {
		// Fresh state at once: the snapshot held from before the outage is
		// stale, and the next one the server sends is newer.
		p.inbox.drainBefore(l.since)
	}
	p.lastRecv.Store(p.now())
	// Under the event lock, so that no new event goes out before the old
	// ones are resent. Snapshots do not wait for this.
	p.evMu.Lock()
	p.resend.trim(p.peerAck.Load())
	for _, e := range p.resend.events {
		if err := l.r.send(e.b); err != nil {
			break // the channel's close reports the link
		}
		p.stats.bytesOut.Add(uint64(len(e.b)))
		if resumed {
			p.stats.eventsResent.Add(1)
		}
	}
	l.open.Store(true)
	p.evMu.Unlock()
	return true
}
