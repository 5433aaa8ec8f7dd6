// Package dots is the wire format of the demo game that the lobby command
// hosts (lobby/cmd/lobby) and the lobby bots play (examples/lobbybots): dots
// moving in a square arena, the players' and the computer's. Inputs are
// msgpack on netcode's unreliable channel; the dots are entities of type
// Dot that the game replicates (netcode.World); events are msgpack on the
// reliable channel.
//
// It lives in the module's internal/ so that both the command and the
// examples can import it without making it a public API.
package dots

import (
	"bytes"
	"fmt"

	"github.com/tickwire/tickwire/internal/mpcheck"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

const (
	// Arena bounds the game: a dot stays within [-Arena, Arena] on both axes.
	Arena = 100
	// MaxPlayers is the largest room the game seats: its players' dots
	// beside the Bots, each a state that changes every tick, share each
	// player's datagram a tick.
	MaxPlayers = 64
)

// Bots is how many computer-driven dots each room has beside its players.
const Bots = 200

// BotID is the entity id of bot i; players' dots have their own ids,
// below it.
func BotID(i int) uint32 { return 1000 + uint32(i) }

// Dot is the replicated state of a dot, its entity type "dot": positions
// to a hundredth of a unit (15 bits each), interpolated by clients.
type Dot struct {
	X, Y   float64 `tw:"float,min=-100,max=100,step=0.01"`
	Player bool    // a player's dot, not a bot's
}

// Move is one input: a step of -1, 0 or +1 on each axis.
type Move struct {
	DX int8 `msgpack:"dx"`
	DY int8 `msgpack:"dy"`
}

// PlayerState is one dot in a snapshot. as_array drops the field names from
// the encoding: a snapshot must fit in one datagram, so bytes count.
type PlayerState struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint16
	X, Y     int16
}

// Apply moves the dot by one input, clamped: the server never trusts a
// client's idea of how far it may move.
func (s *PlayerState) Apply(m Move) {
	s.X = clamp(s.X+int16(clamp(m.DX, -1, 1)), -Arena, Arena)
	s.Y = clamp(s.Y+int16(clamp(m.DY, -1, 1)), -Arena, Arena)
}

// Snapshot is a room's whole state, sent to each of its players every tick.
type Snapshot struct {
	Tick    uint32        `msgpack:"tick"`
	Players []PlayerState `msgpack:"players"`
}

// Event types, sent reliably by the server.
const (
	// EventWelcome tells a player its own dot id, once, first.
	EventWelcome = "welcome"
	// EventJoined tells the room that a player arrived; a newcomer also
	// gets one for each player already there.
	EventJoined = "joined"
	// EventLeft tells the room that a player is gone.
	EventLeft = "left"
)

// Event is a reliable message from the server about the room.
type Event struct {
	Type   string `msgpack:"type"`
	Room   string `msgpack:"room,omitempty"`
	ID     uint16 `msgpack:"id"`               // the dot the event is about
	Player string `msgpack:"player,omitempty"` // the lobby's player id
	Name   string `msgpack:"name,omitempty"`
}

// EncodeMove encodes an input.
func EncodeMove(m Move) ([]byte, error) { return msgpack.Marshal(&m) }

// DecodeMove decodes an input: a map of "dx" and "dy". Any player can send
// anything, so it reads the map itself: msgpack.Unmarshal allocates a
// megabyte or more for each string or bin that a payload claims, before it
// finds the bytes missing, and its pooled decoders keep what they grew
// (internal/mpcheck), a cost a player could impose with every input. Keys
// are fixstr, so nothing is read that the payload does not hold.
func DecodeMove(b []byte) (Move, error) {
	var m Move
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(b))
	n, err := dec.DecodeMapLen()
	for i := 0; err == nil && i < n; i++ {
		var c byte
		if c, err = dec.PeekCode(); err == nil && !msgpcode.IsFixedString(c) {
			err = fmt.Errorf("key of code %#x", c)
			break
		}
		var k string
		switch k, err = dec.DecodeString(); {
		case err != nil:
		case k == "dx":
			m.DX, err = dec.DecodeInt8()
		case k == "dy":
			m.DY, err = dec.DecodeInt8()
		default:
			err = fmt.Errorf("unknown key %.31q", k)
		}
	}
	if err != nil {
		return Move{}, fmt.Errorf("dots: move: %w", err)
	}
	return m, nil
}

// EncodeSnapshot encodes a snapshot.
func EncodeSnapshot(s *Snapshot) ([]byte, error) { return msgpack.Marshal(s) }

// DecodeSnapshot decodes a snapshot. Its lengths are checked first
// (internal/mpcheck): msgpack v5.4.1 allocates as many elements as an array
// header claims (its allocation limit is never applied,
// vmihailenco/msgpack#401), gigabytes for a 20-byte snapshot, and grows its
// pooled decoder's buffer to what a str or bin header claims, and keeps it.
func DecodeSnapshot(b []byte) (Snapshot, error) {
	var s Snapshot
	err := mpcheck.Check(b)
	if err == nil {
		err = msgpack.Unmarshal(b, &s)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("dots: snapshot: %w", err)
	}
	return s, nil
}

// EncodeEvent encodes an event.
func EncodeEvent(e Event) ([]byte, error) { return msgpack.Marshal(&e) }

// DecodeEvent decodes an event.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	err := mpcheck.Check(b) // as DecodeSnapshot
	if err == nil {
		err = msgpack.Unmarshal(b, &e)
	}
	if err != nil {
		return Event{}, fmt.Errorf("dots: event: %w", err)
	}
	return e, nil
}

func clamp[T int8 | int16](v, lo, hi T) T { return max(lo, min(v, hi)) }
