package netcode

import (
	"context"
	"fmt"
	"sync"
)

// Signal is one signaling message: an SDP offer or answer, or a trickled ICE
// candidate. It marshals to JSON as the lobby protocol carries it.
type Signal struct {
	// Type is "offer", "answer" or "candidate".
	Type string `json:"type"`
	// SDP is set for offers and answers.
	SDP string `json:"sdp,omitempty"`
	// Candidate is set for type "candidate"; nil there means the sender has
	// gathered all its candidates.
	Candidate *ICECandidate `json:"candidate,omitempty"`
	// Gen is the PeerConnection the signal is about: 0 for the first, then
	// one more for each resume attempt. A side drops signals for any other
	// than its current one, such as the answer to an ICE restart of a
	// PeerConnection already replaced.
	Gen uint32 `json:"gen,omitempty"`
	// Resume is, on an offer, the resume token the client presents to
	// resume its session on a new PeerConnection; on the server's answer to
	// the first offer or to a resume, the token for the next resume.
	Resume string `json:"resume,omitempty"`
	// Error says, on type "refused", why the server refused the session
	// or its resume.
	Error string `json:"error,omitempty"`
	// Code is, on type "refused" for a session that never opened (gen 0),
	// the close code the server ended it with (WIRE.md, "Close").
	Code uint16 `json:"code,omitempty"`
}

// ICECandidate is a trickled ICE candidate in the shape of the browser's
// RTCIceCandidateInit (and of RTCIceCandidate.toJSON), which is also pion's
// ICECandidateInit.
type ICECandidate struct {
	// Candidate is the SDP candidate attribute, "candidate:...".
	Candidate string `json:"candidate"`
	// SDPMid and SDPMLineIndex name the media section it belongs to; at
	// least one is set.
	SDPMid        *string `json:"sdpMid"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex"`
	// UsernameFragment is the ICE ufrag of the generation it belongs to.
	UsernameFragment *string `json:"usernameFragment"`
}

// Signal types.
const (
	SignalOffer     = "offer"
	SignalAnswer    = "answer"
	SignalCandidate = "candidate"
	// SignalRefused ends a session the server will not take: a resume
	// offer it cannot take (the client's session then ends with
	// ErrResumeRejected), or, before the session first opened, a client
	// refused for its channels or past a limit (Dial fails with ErrRefused).
	// Signal.Error says why.
	SignalRefused = "refused"
	// SignalRestart asks the client to restart ICE now (Session.RestartICE):
	// the server never offers itself, so that offers never cross.
	SignalRestart = "restart"
)

// Signaler carries the signaling messages of one client-server pair: the
// lobby provides one per player, tests use SignalPipe. Dial and Accept take
// ownership of it and close it when the Client or Session closes. It carries
// ICE restarts and resumes too, so it should last as long as the session:
// once it is gone, a connection that fails cannot be recovered.
type Signaler interface {
	// WriteSignal sends s to the other side.
	WriteSignal(ctx context.Context, s Signal) error
	// ReadSignal returns the next signal from the other side. After Close it
	// returns an error.
	ReadSignal(ctx context.Context) (Signal, error)
	// Close unblocks pending calls and releases the signaler.
	Close() error
}

// SignalPipe returns two connected in-memory Signalers, like net.Pipe, for
// tests and single-process programs: what one writes the other reads.
// Closing either end closes both.
func SignalPipe() (client, server Signaler) {
	p := &signalPipe{done: make(chan struct{})}
	a := make(chan Signal, signalPipeBuffer)
	b := make(chan Signal, signalPipeBuffer)
	return &pipeEnd{p: p, in: a, out: b}, &pipeEnd{p: p, in: b, out: a}
}

// signalPipeBuffer lets a whole offer plus its candidates be written before
// the other side reads, so neither side needs a goroutine to avoid deadlock.
const signalPipeBuffer = 64

type signalPipe struct {
	once sync.Once
	done chan struct{}
}

type pipeEnd struct {
	p       *signalPipe
	in, out chan Signal
}

func (e *pipeEnd) WriteSignal(ctx context.Context, s Signal) error {
	select {
	case <-e.p.done:
		return fmt.Errorf("signal pipe: %w", ErrClosed)
	default:
	}
	select {
	case e.out <- s:
		return nil
	case <-e.p.done:
		return fmt.Errorf("signal pipe: %w", ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReadSignal returns what was written before the pipe closed first, as a
// socket returns data before EOF.
func (e *pipeEnd) ReadSignal(ctx context.Context) (Signal, error) {
	select {
	case s := <-e.in:
		return s, nil
	default:
	}
	select {
	case s := <-e.in:
		return s, nil
	case <-e.p.done:
		// What was written before the close is read first: a select picks
		// at random among ready cases.
		select {
		case s := <-e.in:
			return s, nil
		default:
		}
		return Signal{}, fmt.Errorf("signal pipe: %w", ErrClosed)
	case <-ctx.Done():
		return Signal{}, ctx.Err()
	}
}

func (e *pipeEnd) Close() error {
	e.p.once.Do(func() { close(e.p.done) })
	return nil
}
