package netcode

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// The two data channels. Both are opened in-band by the client (DCEP, never
// pre-negotiated: pion does not apply partial reliability to a negotiated
// channel) and carry protocolName so that a server can refuse a client
// that speaks something else.
const (
	labelSnapshots = "snapshots"
	labelEvents    = "events"
	protocolName   = "tickwire.v1"
)

// eventOverhead bounds the header of an event message (see wire.Overhead).
const eventOverhead = wire.Overhead + 9

// maxPendingCandidates bounds remote candidates held until the remote
// description is known, and signals waiting to be written.
const maxPendingCandidates = 64

// closeFlushTimeout bounds how long a closing session gives its close
// message to leave before the association goes down.
const closeFlushTimeout = 250 * time.Millisecond

type role uint8

const (
	roleClient role = iota
	roleServer
)

// peer is one end of a client-server session: the queues the application
// reads from, the sequence numbers, the resend buffer and the state, and
// the current link (link.go) that carries them. A resume replaces the link;
// the peer, and with it the Client or Session, stays.
//
// One goroutine owns the session, its run loop (run.go): the links and
// their signaling, reconnection, pings and acks, teardown. Besides it the
// peer has a goroutine reading the signaling (it blocks) and, while there is
// something to write, one writing it. Messages are taken on the WebRTC
// stack's own goroutine for each channel (receive.go), sends go straight
// from the caller (send.go), and neither waits for the run loop.
type peer struct {
	cfg     *config
	role    role
	inKind  wire.Kind // the unreliable kind this side receives
	outKind wire.Kind // and the one it sends
	log     *slog.Logger
	logRate rate.Sometimes

	sig   Signaler
	epoch time.Time

	ctx    context.Context // cancelled when teardown starts: ends the signaling calls
	cancel context.CancelFunc

	link    atomic.Pointer[link] // the current one; written by the run loop
	started atomic.Bool          // the first link opened: the session exists
	// mkLink builds a link of generation gen: the client's with its two
	// channels, the server's ready to take them.
	mkLink func(gen uint32) (*link, error)
	// tokens issues and redeems resume tokens (server only).
	tokens tokenAuthority
	// screen holds the client's signaling to the server's limits (server
	// only, candidates.go). Used by the run loop.
	screen signalScreen
	token  atomic.Pointer[string] // the token to resume with (client only)

	// The run loop's inbox.
	sigIn      chan Signal   // from the signal reader
	sigEnded   chan error    // the signal reader stopped
	wakeC      chan struct{} // something changed: look again
	probeReq   chan string   // CheckPath
	restartReq chan struct{} // the server asks for an ICE restart
	opened     chan error    // the first link opened (nil) or failed, for Dial and Accept

	// Signals waiting to be written (signaling.go).
	outMu    sync.Mutex
	out      []Signal
	writing  bool
	outShut  bool        // teardown: no writer starts any more
	sigEnd   atomic.Bool // the signaling is gone: no restart, no resume
	watching atomic.Bool // the run loop wants to hear of every message (reconnecting, probing)
	ackDue   atomic.Bool // an event arrived (or a duplicate) and wants an ack
	quiet    atomic.Bool // no snapshot, input or event for a while: no pings (run.go)

	// Connection state (recovery.go). rec is the run loop's; state is
	// written under stateMu.
	rec      recovery
	stateMu  sync.Mutex
	state    atomic.Int32
	states   chan StateChange
	lastRecv atomic.Int64 // p.now() of the last message on the current link

	// Unreliable sends: the sequence number and the encoder.
	unrelMu  sync.Mutex
	unrelEnc *wire.Encoder
	unrelSeq uint64

	// Reliable sends: the event sequence, the encoder and the resend buffer.
	evMu     sync.Mutex
	evEnc    *wire.Encoder
	resend   resendBuffer
	eventSeq atomic.Uint64 // written under evMu
	peerAck  atomic.Uint64 // the highest of our events the peer confirmed
	recvMu   sync.Mutex    // orders event handling across links
	recvAck  atomic.Uint64 // the highest event seq received in order

	// Replication (REPLICATION.md): the newest state tick sent and
	// acknowledged (server), and the client's replica.
	stateSent atomic.Uint64
	stateAck  atomic.Uint64
	replica   *Replica
	// A state ack the client holds for its next input to carry (ack.go):
	// the tick (0: none), when it goes alone at the latest (p.now()), and
	// the game's last input (p.now()) with the gap before it.
	ackTick   atomic.Uint64
	ackBy     atomic.Int64
	lastInput atomic.Int64
	inputGap  atomic.Int64

	inbox  *datagramRing // snapshots (client) or inputs (server)
	events *eventQueue

	stats counters
	rtt   rttEstimator

	closeMu      sync.Mutex
	closeErr     *CloseError // set before closing is closed
	closeOnce    sync.Once
	closing      chan struct{}
	sendCloseMsg bool
	onClosed     func()
	aux          sync.WaitGroup // the signal reader and writer, links closing
	done         chan struct{}  // closed once everything is released
}

// tokenAuthority is the server's side of resume tokens (tokens.go).
type tokenAuthority interface {
	// issue makes a fresh token for p, replacing the one it had.
	issue(p *peer) string
	// redeem checks a token presented to resume p and, if it is p's current
	// one, spends it and returns the next.
	redeem(token string, p *peer) (next string, err error)
	// retire forgets p's token as p closes with ce.
	retire(p *peer, ce *CloseError)
	// refusal is what a client is told of a redeem's error.
	refusal(err error) string
}

// signalScreen is the server's check of what a client's signaling asks of
// it (candidates.go).
type signalScreen interface {
	// signal counts one signal against the client's rate.
	signal() error
	// offer removes the candidates of an offer the server may not use,
	// and starts counting a new connection attempt's candidates.
	offer(sdp string) (string, error)
	// candidate says whether to use a trickled candidate; an error means
	// the client went past a limit.
	candidate(c ICECandidate) (bool, error)
}

// newPeer makes a peer; start runs it. onClosed, if not nil, runs once the
// peer has closed.
func newPeer(cfg *config, r role, sig Signaler, onClosed func()) *peer {
	p := &peer{
		cfg:      cfg,
		role:     r,
		log:      cfg.Logger,
		logRate:  rate.Sometimes{Interval: time.Second},
		sig:      sig,
		epoch:    time.Now(),
		unrelEnc: wire.NewEncoder(),
		evEnc:    wire.NewEncoder(),
		events:   newEventQueue(cfg.EventQueue),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		onClosed: onClosed,

		sigIn:      make(chan Signal),
		sigEnded:   make(chan error, 1),
		states:     make(chan StateChange, stateBuffer),
		wakeC:      make(chan struct{}, 1),
		probeReq:   make(chan string, 1),
		restartReq: make(chan struct{}, 1),
		opened:     make(chan error, 1),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if r == roleClient {
		p.inKind, p.outKind = wire.KindSnapshot, wire.KindInput
		p.inbox = newDatagramRing(1) // newest wins
		p.replica = newReplica(p)
	} else {
		p.inKind, p.outKind = wire.KindInput, wire.KindSnapshot
		p.inbox = newDatagramRing(cfg.InputQueue)
	}
	return p
}

// start runs the peer on l, its first link, already current: the run loop
// and the signal reader.
func (p *peer) start() {
	p.aux.Add(1)
	go p.readSignals()
	go p.run()
}

// release is teardown for a peer whose run loop never started (a handshake
// that failed before it could).
func (p *peer) release() {
	p.teardown()
	p.finish()
}

// finish ends the peer for whoever waits on done. closeWith sets the
// Closed state after it signals closing, so a run loop that tears down
// quickly could close done first, and a caller woken by Done would still
// see the old state: the state is set here too (setState ignores a second
// Closed).
func (p *peer) finish() {
	p.closeMu.Lock()
	ce := p.closeErr
	p.closeMu.Unlock()
	if ce != nil {
		p.setState(StateClosed, ce.Error())
	}
	close(p.done)
}

// awaitOpen waits for the first link's channels, for Dial and Accept. On
// failure the peer is closing, and awaitOpen waits until it is released.
func (p *peer) awaitOpen(ctx context.Context) error {
	select {
	case err := <-p.opened:
		if err == nil {
			return nil
		}
		// A server tells the client why (see teardown); a client has
		// nothing to tell a server that failed it.
		p.closeWith(&CloseError{Code: CloseProtocolError, Reason: truncate("handshake failed: "+err.Error(), wire.MaxReasonLen), Err: err}, p.role == roleServer)
		<-p.done
		return err
	case <-p.closing:
		<-p.done
		return p.Err()
	case <-ctx.Done():
		err := ctx.Err()
		p.closeWith(&CloseError{Code: CloseConnectionLost, Reason: "handshake not done in time", Err: err}, false)
		<-p.done
		return err
	}
}

// now is the peer's clock: time since it started, monotonic.
func (p *peer) now() int64 { return int64(time.Since(p.epoch)) }

// wake tells the run loop something changed, without blocking.
func (p *peer) wake() { notify(p.wakeC) }

// closeWith starts closing, once. notify sends ce to the peer first.
func (p *peer) closeWith(ce *CloseError, notify bool) {
	p.closeOnce.Do(func() {
		p.closeMu.Lock()
		p.closeErr = ce
		p.closeMu.Unlock()
		p.sendCloseMsg = notify && !ce.Remote && ce.Code != CloseConnectionLost
		// closing first: whoever sees the Closed state (or Err) finds
		// every call failing, not a SendEvent still accepted.
		close(p.closing)
		p.setState(StateClosed, ce.Error())
		p.log.Debug("closing", "reason", ce.Error())
	})
}

// close closes with a local reason; wait says to wait until everything is
// released (a Client's Close does; a Session's leaves that to the Server).
func (p *peer) close(code CloseCode, reason string, wait bool) error {
	p.closeWith(&CloseError{Code: code, Reason: reason}, true)
	if wait {
		<-p.done
	}
	return nil
}

// Err returns nil while open, then the *CloseError that ended the peer.
func (p *peer) Err() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closeErr == nil {
		return nil
	}
	return p.closeErr
}

func (p *peer) isClosing() bool {
	select {
	case <-p.closing:
		return true
	default:
		return false
	}
}

func (p *peer) statsSnapshot() Stats {
	srtt, rttvar := p.rtt.get()
	c := &p.stats
	s := Stats{
		RTT:            srtt,
		RTTVar:         rttvar,
		Congested:      c.congested.Load(),
		EventsSent:     c.eventsSent.Load(),
		EventsReceived: c.eventsRecv.Load(),
		EventsUnacked:  p.eventSeq.Load() - p.peerAck.Load(),
		EventsResent:   c.eventsResent.Load(),
		Restarts:       c.restarts.Load(),
		Resumes:        c.resumes.Load(),
		Lost:           c.lost.Load(),
		Loss:           c.loss(),
		BytesIn:        c.bytesIn.Load(),
		BytesOut:       c.bytesOut.Load(),
		Malformed:      c.malformed.Load(),
		StatesSent:     c.statesSent.Load(),
		StatesReceived: c.statesRecv.Load(),
		StatesStale:    c.statesStale.Load(),

		StatesUnknownBase: c.statesNoBase.Load(),

		CandidatesRefused: c.candidatesRefused.Load(),
	}
	if p.role == roleClient {
		s.InputsSent = c.unrelSent.Load()
		s.SnapshotsReceived = c.unrelRecv.Load()
		s.SnapshotsStale = c.unrelStale.Load()
	} else {
		s.SnapshotsSent = c.unrelSent.Load()
		s.InputsReceived = c.unrelRecv.Load()
		s.InputsStale = c.unrelStale.Load()
		s.InputsOverflow = c.inputsOverflow.Load()
	}
	return s
}
