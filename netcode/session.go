//go:build !js

package netcode

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Input is a player's input as the server received it.
type Input struct {
	// Seq increases by one for each input the client sends; gaps are inputs
	// lost on the way.
	Seq uint64
	// Payload is the game's own encoding. It belongs to the caller.
	Payload []byte
	// Received is when the server read it off the network.
	Received time.Time
}

// Session is one client as the game server sees it. Every method is safe to
// call from the game's tick loop: none of them waits on the client's network.
type Session struct {
	p  *peer
	id string

	roomMu sync.Mutex
	rooms  map[*Room]struct{}
	left   bool // closed: in no room any more, and joins none
}

// join records that s is in r; false if it already was or has closed.
func (s *Session) join(r *Room) bool {
	s.roomMu.Lock()
	defer s.roomMu.Unlock()
	if _, in := s.rooms[r]; in || s.left || s.p.isClosing() {
		return false
	}
	if s.rooms == nil {
		s.rooms = map[*Room]struct{}{}
	}
	s.rooms[r] = struct{}{}
	return true
}

func (s *Session) leave(r *Room) {
	s.roomMu.Lock()
	delete(s.rooms, r)
	s.roomMu.Unlock()
}

// leaveRooms takes a closed session out of every room it was in.
func (s *Session) leaveRooms() {
	s.roomMu.Lock()
	rooms := s.rooms
	s.rooms, s.left = nil, true
	s.roomMu.Unlock()
	for r := range rooms {
		r.drop(s)
	}
}

// ID is a random identifier, unique within the server, for logs and maps.
func (s *Session) ID() string { return s.id }

// SendSnapshot sends state to this client on the unreliable channel. It never
// blocks; it fails with ErrTooLarge over Config.MaxUnreliableSize and with
// ErrCongested when the client cannot keep up.
func (s *Session) SendSnapshot(payload []byte) error { return s.p.sendUnreliable(payload) }

// SendEvent sends an event reliably and in order. It never blocks; it fails
// with ErrTooLarge over Config.MaxEventSize and ErrEventBufferFull when
// Config.EventBuffer bytes are still on their way.
func (s *Session) SendEvent(payload []byte) error { return s.p.sendEvent(payload) }

// ReadInputs appends the inputs received since the last call to dst, oldest
// first, without waiting: the tick loop's way in.
func (s *Session) ReadInputs(dst []Input) []Input {
	for {
		d, ok, _ := s.p.inbox.pop()
		if !ok {
			return dst
		}
		dst = append(dst, Input{Seq: d.seq, Payload: d.payload, Received: d.received})
	}
}

// ReadInput waits for the next input, for servers that react to input
// rather than tick.
func (s *Session) ReadInput(ctx context.Context) (Input, error) {
	d, err := s.p.readDatagram(ctx)
	return Input{Seq: d.seq, Payload: d.payload, Received: d.received}, err
}

// ReadEvent waits for the next event from the client.
func (s *Session) ReadEvent(ctx context.Context) ([]byte, error) { return s.p.readEvent(ctx) }

// ReadEvents appends every event received and not yet read to dst, without
// waiting.
func (s *Session) ReadEvents(dst [][]byte) [][]byte { return s.p.readEvents(dst) }

// Stats returns the session's counters.
func (s *Session) Stats() Stats { return s.p.statsSnapshot() }

// Path reports how the connection travels now, from the server's side:
// the candidate pair ICE selected. ErrNotConnected while it reconnects.
func (s *Session) Path(ctx context.Context) (Path, error) { return s.p.path(ctx) }

// State reports where the session stands now.
func (s *Session) State() State { return State(s.p.state.Load()) }

// StateChanges delivers each transition with its reason, as
// Client.StateChanges does.
func (s *Session) StateChanges() <-chan StateChange { return s.p.states }

// RestartICE asks the client to restart ICE now, for a server whose own
// network changed (a new address, a failover): the client makes the offer,
// as it does for its own restarts, so the two never offer at once. The
// session reports reconnecting, then connected once the new path carries
// traffic. It never blocks; it fails only when the session is closed or
// not connected.
func (s *Session) RestartICE() error {
	if err := s.p.Err(); err != nil {
		return err
	}
	l := s.p.link.Load()
	if l == nil || !l.open.Load() {
		return fmt.Errorf("netcode: ICE restart: %w", errResuming)
	}
	s.p.queueSignal(Signal{Type: SignalRestart, Gen: l.gen})
	return nil
}

// Done is closed when the session ends for good: not when its connection
// fails and it waits to be resumed (the player keeps its seat meanwhile).
func (s *Session) Done() <-chan struct{} { return s.p.closing }

// Err returns nil while the session is open, then a *CloseError.
func (s *Session) Err() error { return s.p.Err() }

// Close disconnects the client, telling it reason. It returns at once: the
// session sends its close message and releases its connection on its own
// goroutine, and the Server's Shutdown or Close waits for that. It is
// idempotent.
func (s *Session) Close(reason string) error { return s.p.close(CloseNormal, reason, false) }

// CloseWithError closes the session as Close does, with the game's own
// code, which the client sees in its CloseError: from CloseApplicationMin
// to CloseApplicationMax, or ErrCloseCode.
func (s *Session) CloseWithError(code CloseCode, reason string) error {
	if err := checkAppCode(code); err != nil {
		return err
	}
	return s.p.close(code, reason, false)
}
