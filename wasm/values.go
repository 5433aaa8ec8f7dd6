package main

// The lobby's and netcode's values as tickwire.d.ts shapes them. They cross
// into JS as JSON text, which tickwire.js parses: encoding/json is in the
// build anyway (the lobby protocol is JSON), and one JSON.parse is both
// smaller in the .wasm and faster than building each object field by field
// through syscall/js. Payloads, which may hold binary data, go through
// convert.go instead.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// matchJSON is a lobby.Match in the d.ts shape: expires in milliseconds
// since the epoch. lobby.PlayerInfo, lobby.ICEServer and lobby.RoomInfo
// already have the d.ts field names as JSON tags.
type matchJSON struct {
	Room       string             `json:"room"`
	Code       string             `json:"code,omitempty"`
	Mode       string             `json:"mode"`
	Region     string             `json:"region,omitempty"`
	Server     string             `json:"server"`
	Seat       string             `json:"seat"`
	Players    []lobby.PlayerInfo `json:"players"`
	ICEServers []lobby.ICEServer  `json:"iceServers"`
	Expires    int64              `json:"expires"`
}

func toMatchJSON(m *lobby.Match) matchJSON {
	return matchJSON{
		Room: m.Room, Code: m.Code, Mode: m.Mode, Region: m.Region, Server: m.Server, Seat: m.Seat,
		Players: nonNil(m.Players), ICEServers: nonNil(m.ICEServers), Expires: m.Expires.UnixMilli(),
	}
}

// parseMatch reads back a match that the game got from waitMatch,
// createRoom or joinRoom (and may have stored as JSON meanwhile).
func parseMatch(text string) (*lobby.Match, error) {
	var j matchJSON
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		return nil, badArg("match: %v", err)
	}
	if j.Room == "" || j.Seat == "" {
		return nil, badArg("match: room and seat are required")
	}
	return &lobby.Match{
		Room: j.Room, Code: j.Code, Mode: j.Mode, Region: j.Region, Server: j.Server, Seat: j.Seat,
		Players: j.Players, ICEServers: j.ICEServers, Expires: time.UnixMilli(j.Expires),
	}, nil
}

type partyJSON struct {
	Code    string             `json:"code"`
	Leader  string             `json:"leader"`
	Members []lobby.PlayerInfo `json:"members"`
}

func toPartyJSON(p *lobby.Party) *partyJSON {
	if p == nil {
		return nil
	}
	return &partyJSON{Code: p.Code, Leader: p.Leader, Members: nonNil(p.Members)}
}

type noticeJSON struct {
	Type    string             `json:"type"`
	Room    string             `json:"room,omitempty"`
	Reason  string             `json:"reason,omitempty"`
	Players []lobby.PlayerInfo `json:"players,omitempty"`
	Party   *partyJSON         `json:"party,omitempty"`
	Error   *errorJSON         `json:"error,omitempty"`
}

type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func toNoticeJSON(n lobby.Notice) noticeJSON {
	j := noticeJSON{Type: n.Type, Room: n.Room, Reason: n.Reason, Players: n.Players, Party: toPartyJSON(n.Party)}
	if n.Err != nil {
		j.Error = &errorJSON{Code: n.Err.Code, Message: n.Err.Message}
	}
	return j
}

// statsJSON is netcode.Stats in the d.ts shape.
type statsJSON struct {
	RTTMs             float64 `json:"rttMs"`
	RTTVarMs          float64 `json:"rttVarMs"`
	Loss              float64 `json:"loss"`
	SnapshotsReceived uint64  `json:"snapshotsReceived"`
	SnapshotsLost     uint64  `json:"snapshotsLost"`
	SnapshotsStale    uint64  `json:"snapshotsStale"`
	InputsSent        uint64  `json:"inputsSent"`
	Congested         uint64  `json:"congested"`
	EventsSent        uint64  `json:"eventsSent"`
	EventsReceived    uint64  `json:"eventsReceived"`
	EventsUnacked     uint64  `json:"eventsUnacked"`
	EventsResent      uint64  `json:"eventsResent"`
	Restarts          uint64  `json:"restarts"`
	Resumes           uint64  `json:"resumes"`
	BytesIn           uint64  `json:"bytesIn"`
	BytesOut          uint64  `json:"bytesOut"`
	StatesReceived    uint64  `json:"statesReceived"`
	StatesStale       uint64  `json:"statesStale"`
	StatesUnknownBase uint64  `json:"statesUnknownBase"`
}

// stateJSON is what onState reports for a transition short of closing.
type stateJSON struct {
	Reason string `json:"reason"`
}

func toStatsJSON(s netcode.Stats) statsJSON {
	return statsJSON{
		RTTMs: durationMs(s.RTT), RTTVarMs: durationMs(s.RTTVar), Loss: s.Loss,
		SnapshotsReceived: s.SnapshotsReceived, SnapshotsLost: s.Lost, SnapshotsStale: s.SnapshotsStale,
		InputsSent: s.InputsSent, Congested: s.Congested,
		EventsSent: s.EventsSent, EventsReceived: s.EventsReceived, EventsUnacked: s.EventsUnacked,
		EventsResent: s.EventsResent, Restarts: s.Restarts, Resumes: s.Resumes,
		BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		StatesReceived: s.StatesReceived, StatesStale: s.StatesStale, StatesUnknownBase: s.StatesUnknownBase,
	}
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// closeJSON is what onState reports when a game ends: the reason, the
// close code's name (netcode.CloseCode.String) and whether the server
// closed it; and the final stats, which stats() returns from then on.
type closeJSON struct {
	Reason string    `json:"reason"`
	Code   string    `json:"code"`
	Remote bool      `json:"remote"`
	Stats  statsJSON `json:"stats"`
}

func toCloseJSON(err error, s netcode.Stats) closeJSON {
	var ce *netcode.CloseError
	if !errors.As(err, &ce) {
		if err == nil {
			return closeJSON{Reason: "closed", Code: netcode.CloseNormal.String(), Stats: toStatsJSON(s)}
		}
		return closeJSON{Reason: err.Error(), Code: netcode.CloseConnectionLost.String(), Stats: toStatsJSON(s)}
	}
	j := closeJSON{Reason: ce.Code.String(), Code: ce.Code.String(), Remote: ce.Remote, Stats: toStatsJSON(s)}
	if ce.Reason != "" {
		j.Reason += ": " + ce.Reason
	}
	return j
}

// The options objects of the d.ts, as tickwire.js passes them
// (JSON.stringify of what the game gave).
type queueOptions struct {
	Mode   string  `json:"mode"`
	Region string  `json:"region"`
	Rating float64 `json:"rating"`
}

type roomOptions struct {
	Mode   string `json:"mode"`
	Region string `json:"region"`
	Name   string `json:"name"`
	Public bool   `json:"public"`
	Max    int    `json:"max"`
}

type connectOptions struct {
	Lobbies []string `json:"lobbies"` // lobby.ClientConfig.Lobbies
}

type playOptions struct {
	Codec     string  `json:"codec"`
	RelayOnly bool    `json:"relayOnly"`
	Timeout   float64 `json:"timeout"` // milliseconds; 0 means the default
}

// parseOptions decodes an options object; "" (no object) means defaults.
func parseOptions(text, what string, dst any) error {
	if text == "" || text == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(text), dst); err != nil {
		return badArg("%s: %v", what, err)
	}
	return nil
}

// jsonText is v as JSON text for tickwire.js to parse.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("tickwire: encode %T: %w", v, err)
	}
	return string(b), nil
}

// nonNil makes a nil slice an empty one, so that JSON has [] and not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

var (
	// errClosedHandle is a call on a lobby or game already closed.
	errClosedHandle = errors.New("tickwire: closed")
	// errTimeout is an operation that ran past its time limit.
	errTimeout = errors.New("tickwire: timed out")
	// errBadArgument is a JS argument of the wrong shape.
	errBadArgument = errors.New("tickwire: bad argument")
)

// networkError is a lobby that could not be reached: the browser says no
// more about a WebSocket that fails to open (an unknown host, a refused
// port, a refused origin).
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

func badArg(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadArgument, fmt.Sprintf(format, args...))
}

// errorCode is the code property of the JS Error for err: the lobby's code
// for a refusal (PROTOCOL.md), else one of Tickwire's own (tickwire.d.ts
// lists them), else "".
func errorCode(err error) string {
	var le *lobby.Error
	switch {
	case errors.As(err, &le):
		return le.Code
	case errors.Is(err, netcode.ErrTooLarge):
		return "too_large"
	case errors.Is(err, netcode.ErrCongested):
		return "congested"
	case errors.Is(err, netcode.ErrEventBufferFull):
		return "event_buffer_full"
	case errors.Is(err, errTimeout):
		return "timeout"
	case errors.Is(err, errBadArgument), errors.Is(err, netcode.ErrInvalidConfig), errors.Is(err, lobby.ErrInvalidConfig):
		return "bad_argument"
	case errors.Is(err, netcode.ErrSignaling):
		return "signaling"
	case errors.Is(err, netcode.ErrClosed), errors.Is(err, lobby.ErrClosed), errors.Is(err, errClosedHandle):
		return "closed"
	case errors.Is(err, lobby.ErrProtocol), errors.Is(err, netcode.ErrProtocol):
		return "protocol"
	case errors.Is(err, netcode.ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, netcode.ErrResumeRejected):
		return "resume_rejected"
	case errors.Is(err, netcode.ErrSlowReader):
		return "slow_reader"
	case errors.As(err, new(*networkError)):
		return "network"
	}
	return ""
}
