// Package proto is the lobby's wire format: the JSON messages of
// lobby/PROTOCOL.md, their validation, and the error and close codes. The
// lobby server, the player client (native and browser) and the game-server
// client all encode and decode through this one package, so they cannot
// disagree about the protocol.
package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tickwire/tickwire/netcode"
)

// Version is the protocol version carried in hello and register.
const Version = 1

// Subprotocol is the WebSocket subprotocol both halves of the protocol
// negotiate; a lobby that speaks a later version adds its own name.
const Subprotocol = "tickwire.lobby.v1"

// Field limits from PROTOCOL.md. They bound what one message can make the
// lobby store, independently of the message size limit.
const (
	MaxIDLen     = 64 // request ids, room ids, player ids, tickets
	MaxNameLen   = 64 // display names, room names, modes, regions
	MaxTokenLen  = 1024
	MaxPartySize = 16
)

// Message types. Requests from players, then from game servers, then what the
// lobby sends; PROTOCOL.md describes each.
const (
	TypeHello      = "hello"
	TypeQueue      = "queue"
	TypeRoomCreate = "room.create"
	TypeRoomJoin   = "room.join"
	TypeRooms      = "rooms"
	TypePartyNew   = "party.create"
	TypePartyJoin  = "party.join"
	TypeLeave      = "leave"
	TypeSignal     = "signal"

	TypeRegister = "register"
	TypeClaim    = "claim"
	TypeRelease  = "release"
	TypeEnd      = "end"
	TypeDrain    = "drain"

	TypeWelcome    = "welcome"
	TypeRegistered = "registered"
	TypeOK         = "ok"
	TypeQueued     = "queued"
	TypeMatch      = "match"
	TypeRoom       = "room"
	TypeParty      = "party"
	TypeLeft       = "left"
	TypeError      = "error"
	TypeSeat       = "seat"
	TypeUnseat     = "unseat"
)

// Error codes carried in error messages.
const (
	CodeMalformed     = "malformed"      // not JSON, not an object, or a field of the wrong type
	CodeBadRequest    = "bad_request"    // a required field missing or out of its limits
	CodeUnknownType   = "unknown_type"   // a type this lobby does not know; the connection stays open
	CodeTooLarge      = "too_large"      // an SDP or candidate over its limit
	CodeRateLimited   = "rate_limited"   // too many messages; the connection is closed
	CodeUnauthorized  = "unauthorized"   // no hello, or a request before hello
	CodeTokenInvalid  = "token_invalid"  // a token that does not verify (forged, mangled)
	CodeTokenExpired  = "token_expired"  // a token past its expiry
	CodeTokenReplayed = "token_replayed" // a single-use token presented twice
	CodeVersion       = "unsupported_version"
	CodeUnknownMode   = "unknown_mode"
	CodeBusy          = "busy"       // already queued or in a room
	CodeNotLeader     = "not_leader" // a party member tried to queue
	CodePartyFull     = "party_full"
	CodePartyNotFound = "party_not_found"
	CodeRoomNotFound  = "room_not_found"
	CodeRoomFull      = "room_full"
	CodeNotInRoom     = "not_in_room"     // a signal for a room the player is not seated in
	CodeBadSeat       = "bad_seat"        // a wrong or already used seat token
	CodeNoServer      = "no_server"       // no game server can take the room
	CodeNotYourRoom   = "not_your_room"   // a game server named a room placed elsewhere
	CodeNotYourPlayer = "not_your_player" // a game server named a player not seated with it
	CodeForbidden     = "forbidden"       // a game server with a wrong key
	CodeInternal      = "internal"
	CodeSignalLimited = "signal_limited" // a signal over the player's or the room's signaling budget; not relayed
	CodeTooManyRooms  = "too_many_rooms" // room.create over the player's or the IP address's quota of rooms nobody plays in yet
	CodeUnavailable   = "unavailable"    // the lobby's shared store cannot be reached: no new work, try again later
)

// WebSocket close codes. 1000-1015 are RFC 6455's; 4000-4999 are ours.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001 // the lobby is shutting down
	ClosePolicy       = 1008 // the connection stopped reading: its send queue filled
	CloseInternal     = 1011 // the lobby failed to encode a message: a bug, not the client's
	CloseTooBig       = 1009 // a message over the size limit
	CloseRestart      = 1012 // the lobby lost a game server's registration (its store restarted empty): register again
	CloseTryLater     = 1013 // the lobby cannot take the connection now (its shared store is down): try again later
	CloseUnauthorized = 4001 // hello missing, late, or with a bad token; game server with a bad key
	CloseProtocol     = 4002 // malformed message
	CloseRateLimited  = 4003
	CloseReplaced     = 4004 // the same player connected again elsewhere
	CloseVersion      = 4005
)

// Envelope is what every message has: its type and, on requests, an id that
// the reply carries back.
type Envelope struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// ICEServer mirrors the browser's RTCIceServer dictionary, so a JS client can
// pass it to RTCPeerConnection unchanged, and a Go client to
// netcode.Config.ICEServers: {"urls": [...], "username", "credential"}.
type ICEServer = netcode.ICEServer

// Player is one player as others see it.
type Player struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// RoomInfo is a public room in a rooms listing.
type RoomInfo struct {
	Room    string `json:"room"`
	Code    string `json:"code"`
	Name    string `json:"name,omitempty"`
	Mode    string `json:"mode"`
	Region  string `json:"region,omitempty"`
	Players int    `json:"players"`
	Max     int    `json:"max"`
}

// Hello is a player's first message.
type Hello struct {
	Envelope
	V     int    `json:"v"`
	Token string `json:"token"`
}

// Queue joins matchmaking, for the player's whole party if it leads one.
type Queue struct {
	Envelope
	Mode   string  `json:"mode"`
	Region string  `json:"region,omitempty"`
	Rating float64 `json:"rating,omitempty"`
}

// RoomCreate creates a private (or listed) room and seats the creator.
type RoomCreate struct {
	Envelope
	Mode   string `json:"mode"`
	Region string `json:"region,omitempty"`
	Name   string `json:"name,omitempty"`
	Public bool   `json:"public,omitempty"`
	Max    int    `json:"max,omitempty"`
}

// RoomJoin takes a seat in a room by its join code.
type RoomJoin struct {
	Envelope
	Code string `json:"code"`
}

// Rooms lists public rooms with free seats.
type Rooms struct {
	Envelope
	Mode string `json:"mode,omitempty"`
}

// PartyJoin joins a party by its code. party.create and leave have no
// fields beyond the envelope.
type PartyJoin struct {
	Envelope
	Code string `json:"code"`
}

// Signal carries WebRTC signaling between a player and its room's game
// server. From a player: Room and Seat name its seat. To a player: Room.
// Between lobby and game server: Room and Player.
type Signal struct {
	Envelope
	Room   string          `json:"room"`
	Player string          `json:"player,omitempty"`
	Seat   string          `json:"seat,omitempty"`
	Signal *netcode.Signal `json:"signal"`
}

// Register is a game server's first message. Resume, the token of an
// earlier registered, takes that registration back after its link dropped.
type Register struct {
	Envelope
	V        int    `json:"v"`
	Key      string `json:"key,omitempty"`
	Name     string `json:"name,omitempty"`
	Region   string `json:"region,omitempty"`
	Capacity int    `json:"capacity"`
	Resume   string `json:"resume,omitempty"`
}

// SeatRef names one seat: claim, release, seat and unseat carry it.
// Claimed is set on the seats a lobby sends again to a game server that
// resumed its registration, for those it holds as claimed.
type SeatRef struct {
	Envelope
	Room    string `json:"room"`
	Player  string `json:"player"`
	Seat    string `json:"seat,omitempty"`
	Name    string `json:"name,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Claimed bool   `json:"claimed,omitempty"`
}

// End tells the lobby that a room's game is over.
type End struct {
	Envelope
	Room string `json:"room"`
}

// Welcome answers hello.
type Welcome struct {
	Envelope
	V       int    `json:"v"`
	Player  string `json:"player"`
	Name    string `json:"name,omitempty"`
	Token   string `json:"token,omitempty"`
	Expires int64  `json:"expires,omitempty"` // unix seconds, of Token
	// Ticket is the ticket the player still holds, when it connects again
	// while queued (its connection replaced, or its lobby node gone).
	Ticket string `json:"ticket,omitempty"`
}

// Registered answers register: the server's id, the capacity the lobby
// takes (the one asked for, at most the lobby's cap), the token that resumes
// this registration after a dropped link, and whether it resumed one.
type Registered struct {
	Envelope
	V        int    `json:"v"`
	Server   string `json:"server"`
	Capacity int    `json:"capacity,omitempty"`
	Resume   string `json:"resume,omitempty"`
	Resumed  bool   `json:"resumed,omitempty"`
}

// Queued confirms a queue request.
type Queued struct {
	Envelope
	Ticket string `json:"ticket"`
	Mode   string `json:"mode"`
	Region string `json:"region,omitempty"`
}

// Match tells a player where to play: sent when matchmaking places it, and as
// the reply to room.create and room.join.
type Match struct {
	Envelope
	Room       string      `json:"room"`
	Code       string      `json:"code,omitempty"`
	Mode       string      `json:"mode"`
	Region     string      `json:"region,omitempty"`
	Server     string      `json:"server"`
	Seat       string      `json:"seat"`
	Players    []Player    `json:"players"`
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	Expires    int64       `json:"expires"` // unix ms: connect before this or lose the seat
}

// RoomUpdate tells a room's players who is in it now.
type RoomUpdate struct {
	Envelope
	Room    string   `json:"room"`
	Players []Player `json:"players"`
}

// PartyUpdate tells a party's members who is in it now.
type PartyUpdate struct {
	Envelope
	Code    string   `json:"code"`
	Leader  string   `json:"leader"`
	Members []Player `json:"members"`
}

// Left says the player is out of a queue, room or party, and why.
type Left struct {
	Envelope
	Room   string `json:"room,omitempty"`
	Reason string `json:"reason"`
}

// RoomsList answers rooms.
type RoomsList struct {
	Envelope
	Rooms []RoomInfo `json:"rooms"`
}

// Error reports a refused request or a protocol violation.
type Error struct {
	Envelope
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Reasons in left and unseat messages.
const (
	ReasonLeave      = "leave"       // the player asked
	ReasonExpired    = "expired"     // the seat was not claimed in time
	ReasonReleased   = "released"    // the game server released the seat
	ReasonEnded      = "ended"       // the game server ended the room
	ReasonServerLost = "server_lost" // the game server disconnected
	ReasonPartyLeft  = "party_left"  // another member took the party out of the queue, or disconnected
	ReasonAbandoned  = "abandoned"   // the room's creator went before anyone claimed a seat
	ReasonLost       = "lost"        // the lobby's shared store lost the queue or room (Redis restarted empty)
)

// ErrProto is wrapped by every decoding error; the *Error it comes with says
// which code to answer with.
var ErrProto = errors.New("lobby protocol")

// DecodeError is a message that failed to decode or validate.
type DecodeError struct {
	Code string // one of the Code constants
	ID   string // the request id, when the envelope was readable
	Msg  string
}

func (e *DecodeError) Error() string { return fmt.Sprintf("lobby protocol: %s: %s", e.Code, e.Msg) }
func (e *DecodeError) Unwrap() error { return ErrProto }

func decodeErr(code, id, format string, args ...any) *DecodeError {
	return &DecodeError{Code: code, ID: id, Msg: fmt.Sprintf(format, args...)}
}

// Side says which half of the protocol a message arrives on.
type Side uint8

const (
	FromPlayer Side = iota // player to lobby
	FromServer             // game server to lobby
	ToPlayer               // lobby to player
	ToServer               // lobby to game server
)

// newBody returns a fresh message of the given type for the given direction,
// or nil when that type does not travel that way.
func newBody(side Side, typ string) any {
	switch side {
	case FromPlayer:
		switch typ {
		case TypeHello:
			return &Hello{}
		case TypeQueue:
			return &Queue{}
		case TypeRoomCreate:
			return &RoomCreate{}
		case TypeRoomJoin:
			return &RoomJoin{}
		case TypeRooms:
			return &Rooms{}
		case TypePartyNew, TypeLeave:
			return &Envelope{}
		case TypePartyJoin:
			return &PartyJoin{}
		case TypeSignal:
			return &Signal{}
		}
	case FromServer:
		switch typ {
		case TypeRegister:
			return &Register{}
		case TypeSignal:
			return &Signal{}
		case TypeClaim, TypeRelease:
			return &SeatRef{}
		case TypeEnd:
			return &End{}
		case TypeDrain:
			return &Envelope{}
		}
	case ToPlayer:
		switch typ {
		case TypeWelcome:
			return &Welcome{}
		case TypeOK:
			return &Envelope{}
		case TypeQueued:
			return &Queued{}
		case TypeMatch:
			return &Match{}
		case TypeRoom:
			return &RoomUpdate{}
		case TypeParty:
			return &PartyUpdate{}
		case TypeLeft:
			return &Left{}
		case TypeRooms:
			return &RoomsList{}
		case TypeSignal:
			return &Signal{}
		case TypeError:
			return &Error{}
		}
	case ToServer:
		switch typ {
		case TypeRegistered:
			return &Registered{}
		case TypeOK:
			return &Envelope{}
		case TypeSeat, TypeUnseat:
			return &SeatRef{}
		case TypeSignal:
			return &Signal{}
		case TypeEnd:
			return &End{}
		case TypeError:
			return &Error{}
		}
	}
	return nil
}

// Decode parses one message arriving on side and validates it against
// PROTOCOL.md's limits. It returns a pointer to one of the message structs
// (*Envelope for types with no fields), or a *DecodeError.
func Decode(side Side, b []byte) (any, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, decodeErr(CodeMalformed, "", "%v", err)
	}
	if len(env.ID) > MaxIDLen || !utf8.ValidString(env.ID) {
		return nil, decodeErr(CodeBadRequest, "", "id longer than %d bytes", MaxIDLen)
	}
	if env.Type == "" {
		return nil, decodeErr(CodeMalformed, env.ID, "no type")
	}
	body := newBody(side, env.Type)
	if body == nil {
		return nil, decodeErr(CodeUnknownType, env.ID, "unknown message type %.64q", env.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(body); err != nil {
		return nil, decodeErr(CodeMalformed, env.ID, "%s: %v", env.Type, err)
	}
	if err := validate(body); err != nil {
		code := CodeBadRequest
		switch {
		case errors.Is(err, errSignalTooLarge):
			code = CodeTooLarge
		case errors.Is(err, errVersion):
			code = CodeVersion
		}
		return nil, decodeErr(code, env.ID, "%s: %v", env.Type, err)
	}
	return body, nil
}

// Encode marshals a message, setting its type. msg must be one of the
// message structs.
func Encode(typ string, msg any) ([]byte, error) {
	if e := envelopeOf(msg); e != nil {
		e.Type = typ
	}
	return json.Marshal(msg)
}

// Env returns the envelope of a message struct, or nil for anything else.
func Env(msg any) *Envelope { return envelopeOf(msg) }

func envelopeOf(msg any) *Envelope {
	switch m := msg.(type) {
	case *Envelope:
		return m
	case interface{ envelope() *Envelope }:
		return m.envelope()
	}
	return nil
}

func (e *Envelope) envelope() *Envelope { return e }

// MaxSDPSize and MaxCandidateSize bound what the lobby relays. A data-channel
// only SDP is about 1 KB; 16 KiB leaves room for many candidates inline.
// MaxResumeLen leaves room beyond netcode's 43-character resume tokens for a
// longer token later; MaxSignalErrorLen is netcode's own bound on a close
// reason, so a refusal's text fits what the client keeps of it.
const (
	MaxSDPSize        = 16 << 10
	MaxCandidateSize  = 1 << 10
	MaxResumeLen      = 64
	MaxSignalErrorLen = 256
)

func validate(body any) error {
	str := func(name, v string, max int, required bool) error {
		switch {
		case required && v == "":
			return fmt.Errorf("%s is required", name)
		case len(v) > max:
			return fmt.Errorf("%s longer than %d bytes", name, max)
		case !utf8.ValidString(v):
			return fmt.Errorf("%s is not UTF-8", name)
		}
		return nil
	}
	switch m := body.(type) {
	case *Hello:
		if m.V != Version {
			return fmt.Errorf("%w %d; this side speaks %d", errVersion, m.V, Version)
		}
		return str("token", m.Token, MaxTokenLen, true)
	case *Queue:
		if err := errors.Join(str("mode", m.Mode, MaxNameLen, true), str("region", m.Region, MaxNameLen, false)); err != nil {
			return err
		}
		if m.Rating != m.Rating || m.Rating > 1e9 || m.Rating < -1e9 {
			return fmt.Errorf("rating out of range")
		}
	case *RoomCreate:
		if err := errors.Join(str("mode", m.Mode, MaxNameLen, true), str("region", m.Region, MaxNameLen, false),
			str("name", m.Name, MaxNameLen, false)); err != nil {
			return err
		}
		if m.Max < 0 {
			return fmt.Errorf("negative max")
		}
	case *RoomJoin:
		return str("code", m.Code, MaxIDLen, true)
	case *Rooms:
		return str("mode", m.Mode, MaxNameLen, false)
	case *PartyJoin:
		return str("code", m.Code, MaxIDLen, true)
	case *Signal:
		if err := errors.Join(str("room", m.Room, MaxIDLen, true), str("player", m.Player, MaxIDLen, false),
			str("seat", m.Seat, MaxIDLen, false)); err != nil {
			return err
		}
		return validateSignal(m.Signal)
	case *Register:
		if m.V != Version {
			return fmt.Errorf("%w %d; this side speaks %d", errVersion, m.V, Version)
		}
		if err := errors.Join(str("name", m.Name, MaxNameLen, false), str("region", m.Region, MaxNameLen, false),
			str("key", m.Key, MaxTokenLen, false), str("resume", m.Resume, MaxIDLen, false)); err != nil {
			return err
		}
		if m.Capacity < 1 || m.Capacity > 1<<20 {
			return fmt.Errorf("capacity must be 1..%d", 1<<20)
		}
	case *SeatRef:
		return errors.Join(str("room", m.Room, MaxIDLen, true), str("player", m.Player, MaxIDLen, true),
			str("seat", m.Seat, MaxIDLen, false), str("reason", m.Reason, MaxNameLen, false))
	case *End:
		return str("room", m.Room, MaxIDLen, true)
	}
	return nil
}

// errSignalTooLarge marks a signal that is well-formed but too large; the
// lobby answers it with CodeTooLarge rather than CodeBadRequest.
var errSignalTooLarge = errors.New("too large")

// errVersion marks a hello or register of another protocol version. It is
// checked before any other field, so that a later version's hello, whatever
// its fields, is answered with unsupported_version.
var errVersion = errors.New("protocol version")

func validateSignal(s *netcode.Signal) error {
	if s == nil {
		return fmt.Errorf("signal is required")
	}
	switch s.Type {
	case netcode.SignalOffer, netcode.SignalAnswer:
		if s.SDP == "" {
			return fmt.Errorf("%s without sdp", s.Type)
		}
		if len(s.Resume) > MaxResumeLen {
			return fmt.Errorf("resume %w: over %d bytes", errSignalTooLarge, MaxResumeLen)
		}
	case netcode.SignalRefused:
		if s.Error == "" {
			return fmt.Errorf("refused without error")
		}
		if len(s.Error) > MaxSignalErrorLen {
			return fmt.Errorf("error %w: over %d bytes", errSignalTooLarge, MaxSignalErrorLen)
		}
	case netcode.SignalRestart:
		// A game server's Session.RestartICE: nothing but gen to check, and
		// refusing it would leave the client waiting for SilenceTimeout.
	case netcode.SignalCandidate:
		if s.Candidate != nil && len(s.Candidate.Candidate) > MaxCandidateSize {
			return fmt.Errorf("candidate %w: over %d bytes", errSignalTooLarge, MaxCandidateSize)
		}
		if s.Candidate != nil && s.Candidate.SDPMid != nil && len(*s.Candidate.SDPMid) > MaxIDLen {
			return fmt.Errorf("sdpMid %w", errSignalTooLarge)
		}
		if s.Candidate != nil && s.Candidate.UsernameFragment != nil && len(*s.Candidate.UsernameFragment) > MaxNameLen {
			return fmt.Errorf("usernameFragment %w", errSignalTooLarge)
		}
	default:
		return fmt.Errorf("signal type %.32q", s.Type)
	}
	// A token or a refusal on another type is a confused peer; relaying it
	// would only hide the bug from its author.
	if s.Resume != "" && s.Type != netcode.SignalOffer && s.Type != netcode.SignalAnswer {
		return fmt.Errorf("resume on a %s", s.Type)
	}
	if s.Error != "" && s.Type != netcode.SignalRefused {
		return fmt.Errorf("error on a %s", s.Type)
	}
	if s.Code != 0 && s.Type != netcode.SignalRefused {
		return fmt.Errorf("code on a %s", s.Type)
	}
	if len(s.SDP) > MaxSDPSize {
		return fmt.Errorf("sdp %w: %d bytes, limit %d", errSignalTooLarge, len(s.SDP), MaxSDPSize)
	}
	return nil
}
