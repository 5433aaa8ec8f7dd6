//go:build !js

package lobby

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/match"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// Mode is the matchmaking rule set of one game mode. PROTOCOL.md's
// "Matchmaking" section gives the rules these numbers feed.
type Mode struct {
	// MinPlayers and MaxPlayers bound a room's size (2 and 4 by default).
	// A match is made at MaxPlayers at once, or at MinPlayers or more once
	// its oldest ticket has waited FillWait.
	MinPlayers, MaxPlayers int
	// InitialWindow is how far apart two ratings may be when a ticket joins
	// the queue (100 by default); it widens by WindowGrowth every second of
	// waiting (50 by default) up to MaxWindow (1000 by default; negative
	// means no cap).
	InitialWindow, WindowGrowth, MaxWindow float64
	// FillWait is how long a ticket holds out for a full room before a
	// smaller one is made (10 s by default; negative means never).
	FillWait time.Duration
	// Backfill lets matchmaking fill free seats of running rooms of this
	// mode, before opening new ones. Off by default.
	Backfill bool
}

// Config configures a Server. Zero fields mean the documented defaults; a
// nil *Config means all defaults. NewServer validates it once.
type Config struct {
	// Modes are the game modes players can queue for and create rooms in,
	// by name. By default one mode, "default", with Mode's defaults.
	Modes map[string]Mode
	// Auth checks the token of every hello. A Guests authenticator with a
	// random secret by default.
	Auth Authenticator
	// Store keeps the lobby's state: by default a MemoryStore, in this
	// process; a RedisStore shares it between lobby nodes
	// (docs/scaling.md). Every node then needs the same Auth, one whose
	// tokens every node accepts and spends once (Guests with a shared
	// Secret and the store as its Nonces), and the same Modes.
	Store Store
	// GameServerKey is the shared key a game server in another process must
	// present to register. Empty (the default) refuses every remote game
	// server: only in-process ones, through Server.AttachGameServer.
	GameServerKey string

	// SeatTimeout is how long a matched player has to connect to its game
	// server before its seat is given up (30 s by default).
	SeatTimeout time.Duration
	// TickInterval is how often matchmaking runs and seats expire (100 ms by
	// default). It bounds the time a full match waits to be formed.
	TickInterval time.Duration
	// Now is the clock of matchmaking and seat expiry (time.Now by default).
	// Tests inject a fake one.
	Now func() time.Time

	// STUN lists STUN URLs handed to players with every match.
	STUN []string
	// TURN, when URLs is set, hands players short-lived TURN credentials.
	TURN TURNConfig

	// MaxMessageSize is the largest WebSocket message accepted, in bytes
	// (32 KiB by default, at least 20 KiB so that the largest SDP the
	// protocol allows fits); a larger one closes the connection with 1009.
	MaxMessageSize int64
	// MessageRate and MessageBurst bound messages per second on one
	// connection (20/s, bursts of 60 by default): about three times what a
	// client needs to set up a connection with trickle ICE. The excess
	// closes the connection with rate_limited. Game servers are exempt.
	MessageRate  float64
	MessageBurst int
	// IPMessageRate and IPMessageBurst bound messages per second from one
	// IP address across its connections, HTTP token requests included
	// (100/s, bursts of 300 by default).
	IPMessageRate  float64
	IPMessageBurst int
	// MaxConnsPerIP bounds simultaneous connections from one IP address
	// (32 by default); more are refused with HTTP 429.
	MaxConnsPerIP int
	// OriginPatterns lists the browser origins allowed to use the lobby (its
	// WebSockets and /v1/guest), as host patterns ("game.example.com",
	// "*.example.com") or scheme://host patterns ("https://*.example.com").
	// Empty means same-origin only; clients that send no Origin header
	// (native ones) are always allowed. "*" allows every origin.
	OriginPatterns []string
	// HelloTimeout bounds the wait for hello or register (10 s by default).
	HelloTimeout time.Duration
	// SendQueue is how many messages may wait to be written to one
	// connection (256 by default). A player that falls further behind is
	// closed, so one slow reader cannot hold up the lobby. A game server's
	// link is never closed for it: past SendQueue, what feeds it waits (the
	// players signalling to that server, and the server's own requests),
	// since closing it would end every room on the server.
	SendQueue int

	// SignalRate and SignalBurst bound the signals one player may have
	// relayed to its game server (4 per second, bursts of 32 by default:
	// an offer and its candidates take about 10, an ICE restart or a resume
	// as many again). A signal over it is answered signal_limited and not
	// relayed; the connection stays open. The budget is the player's, not
	// its connection's: reconnecting does not refill it.
	SignalRate  float64
	SignalBurst int
	// RoomSignalRate and RoomSignalBurst bound the signals of all the
	// players of one room together (32 per second, bursts of 256 by
	// default), so that one crowded room cannot take a game server's whole
	// signaling link. Raise them with rooms of more than 16 players.
	RoomSignalRate  float64
	RoomSignalBurst int

	// RoomCreateRate and RoomCreateBurst bound the rooms one player may
	// create (room.create): bursts of 10, then one a second by default.
	// IPRoomCreateRate and IPRoomCreateBurst do the same for all the
	// players of one IP address together (bursts of 30, then 5 a second).
	// More is refused with too_many_rooms. They bound the churn of rooms
	// created and left (each costs the game server a seat and an end);
	// MaxRoomSeatsPerIP is what stops rooms held for nobody.
	RoomCreateRate    float64
	RoomCreateBurst   int
	IPRoomCreateRate  float64
	IPRoomCreateBurst int
	// MaxRoomSeatsPerIP bounds the seats held by rooms created from one IP
	// address that nobody plays in yet (open, no seat claimed), each room
	// counting its max seats (8 by default: two rooms of four). A room stops
	// counting once anyone plays in it. It keeps a few addresses from
	// holding a game server's seats with rooms nobody plays in; over it,
	// room.create is refused with too_many_rooms.
	MaxRoomSeatsPerIP int
	// AbandonedSeatTimeout is how long an unclaimed seat is kept for a
	// player whose lobby connection is gone (5 s by default), instead of
	// SeatTimeout: without the lobby it cannot signal, so it cannot play
	// unless it comes back. A room whose creator has lost its seat this way
	// (or any other way) before anyone claimed a seat ends at once.
	AbandonedSeatTimeout time.Duration

	// MaxTCPConnsPerIP bounds the TCP connections from one IP address that
	// a listener wrapped by Server.Listener accepts at once, every kind
	// counted: WebSockets, HTTP requests, idle keep-alives, refused
	// upgrades (64 by default, and at least MaxConnsPerIP). One more is
	// closed as soon as it is accepted.
	MaxTCPConnsPerIP int

	// KeyFailureBurst and KeyFailureInterval throttle game-server key
	// guessing: one IP address may present a wrong GameServerKey
	// KeyFailureBurst times (5 by default), then once more every
	// KeyFailureInterval (a minute by default). Past that, /v1/server
	// upgrades from the address are refused with HTTP 429, and a register
	// already open is answered rate_limited (4003) without its key being
	// checked.
	KeyFailureBurst    int
	KeyFailureInterval time.Duration
	// MaxServerCapacity caps the capacity a game server in another process
	// may register (256 by default): more is lowered to it, and
	// registered says so. A key holder claiming a huge capacity would
	// otherwise always be the least loaded server and get every new room.
	// Game servers attached in-process (AttachGameServer) are trusted with
	// their own.
	MaxServerCapacity int
	// GameServerGrace is how long the rooms of a game server whose link
	// dropped wait for it to register again with its resume token (15 s by
	// default, netcode's ReconnectTimeout), keeping their seats; their
	// players are told server_lost only when it does not come back in time.
	// A game server that closes its link normally (1000) ends its rooms at
	// once. Negative: no grace.
	GameServerGrace time.Duration

	// Logger receives the lobby's logs. Nothing is logged by default.
	Logger *slog.Logger
}

func (c *Config) resolve() (*Config, error) {
	var r Config
	if c != nil {
		r = *c
	}
	bad := func(format string, args ...any) (*Config, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	modes := make(map[string]Mode, len(r.Modes))
	if len(r.Modes) == 0 {
		modes["default"] = Mode{}
	}
	for name, m := range r.Modes {
		if name == "" || len(name) > proto.MaxNameLen {
			return bad("mode name %q: must be 1..%d bytes", name, proto.MaxNameLen)
		}
		modes[name] = m
	}
	names := make([]string, 0, len(modes))
	for name := range modes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := modes[name]
		if m.MinPlayers == 0 {
			m.MinPlayers = 2
			if m.MaxPlayers > 0 {
				m.MinPlayers = min(2, m.MaxPlayers)
			}
		}
		if m.MaxPlayers == 0 {
			m.MaxPlayers = max(4, m.MinPlayers)
		}
		if m.InitialWindow == 0 {
			m.InitialWindow = 100
		}
		if m.WindowGrowth == 0 {
			m.WindowGrowth = 50
		}
		if m.MaxWindow == 0 {
			m.MaxWindow = 1000
		}
		if m.FillWait == 0 {
			m.FillWait = 10 * time.Second
		}
		if m.MinPlayers < 1 || m.MaxPlayers < m.MinPlayers || m.MaxPlayers > 1024 {
			return bad("mode %q: need 1 <= MinPlayers (%d) <= MaxPlayers (%d) <= 1024", name, m.MinPlayers, m.MaxPlayers)
		}
		if m.InitialWindow < 0 || m.WindowGrowth < 0 {
			return bad("mode %q: negative rating window", name)
		}
		modes[name] = m
	}
	r.Modes = modes
	if r.Store == nil {
		m, err := NewMemoryStore(0)
		if err != nil {
			return nil, err
		}
		r.Store = m
	}
	_, shared := r.Store.(*RedisStore)
	if r.Auth == nil {
		if shared {
			// A random secret per node: no token would open a connection on
			// another node.
			return bad("a RedisStore needs an Auth that every lobby node shares: Guests with a Secret, and the store as its Nonces")
		}
		g, err := NewGuests(&GuestsConfig{Nonces: r.Store})
		if err != nil {
			return nil, err
		}
		r.Auth = g
	}
	if g, ok := r.Auth.(*Guests); ok && shared {
		if _, mem := g.used.(*MemoryStore); mem {
			return bad("Guests with a RedisStore must spend nonces in it (GuestsConfig.Nonces), or a token would open one connection on each node")
		}
	}
	defaults := []struct {
		v   *time.Duration
		def time.Duration
		n   string
	}{
		{&r.SeatTimeout, 30 * time.Second, "SeatTimeout"},
		{&r.TickInterval, 100 * time.Millisecond, "TickInterval"},
		{&r.HelloTimeout, 10 * time.Second, "HelloTimeout"},
		{&r.TURN.TTL, time.Hour, "TURN.TTL"},
		{&r.AbandonedSeatTimeout, 5 * time.Second, "AbandonedSeatTimeout"},
		{&r.KeyFailureInterval, time.Minute, "KeyFailureInterval"},
	}
	for _, d := range defaults {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return bad("negative %s", d.n)
		}
	}
	if len(r.TURN.URLs) > 0 && r.TURN.Secret == "" {
		return bad("TURN URLs without a TURN secret")
	}
	// Every player's client would refuse them (netcode.Config), at each
	// match: refused here, once.
	for _, u := range r.STUN {
		if scheme, _, _ := strings.Cut(u, ":"); !strings.EqualFold(scheme, "stun") && !strings.EqualFold(scheme, "stuns") {
			return bad("STUN URL %q is not stun: or stuns:", u)
		}
	}
	for _, u := range r.TURN.URLs {
		if scheme, _, _ := strings.Cut(u, ":"); !strings.EqualFold(scheme, "turn") && !strings.EqualFold(scheme, "turns") {
			return bad("TURN URL %q is not turn: or turns:", u)
		}
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.MaxMessageSize == 0 {
		r.MaxMessageSize = 32 << 10
	}
	if minSize := int64(proto.MaxSDPSize + 4<<10); r.MaxMessageSize < minSize {
		return bad("MaxMessageSize %d below %d: a signal with the largest SDP the protocol allows would not fit", r.MaxMessageSize, minSize)
	}
	ints := []struct {
		v   *int
		def int
		n   string
	}{
		{&r.MessageBurst, 60, "MessageBurst"},
		{&r.IPMessageBurst, 300, "IPMessageBurst"},
		{&r.MaxConnsPerIP, 32, "MaxConnsPerIP"},
		{&r.SendQueue, 256, "SendQueue"},
		{&r.SignalBurst, 32, "SignalBurst"},
		{&r.RoomSignalBurst, 256, "RoomSignalBurst"},
		{&r.RoomCreateBurst, 10, "RoomCreateBurst"},
		{&r.IPRoomCreateBurst, 30, "IPRoomCreateBurst"},
		{&r.MaxRoomSeatsPerIP, 8, "MaxRoomSeatsPerIP"},
		{&r.MaxTCPConnsPerIP, max(64, r.MaxConnsPerIP), "MaxTCPConnsPerIP"},
		{&r.KeyFailureBurst, 5, "KeyFailureBurst"},
		{&r.MaxServerCapacity, 256, "MaxServerCapacity"},
	}
	for _, d := range ints {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return bad("negative %s", d.n)
		}
	}
	rates := []struct {
		v   *float64
		def float64
		n   string
	}{
		{&r.MessageRate, 20, "MessageRate"},
		{&r.IPMessageRate, 100, "IPMessageRate"},
		{&r.SignalRate, 4, "SignalRate"},
		{&r.RoomSignalRate, 32, "RoomSignalRate"},
		{&r.RoomCreateRate, 1, "RoomCreateRate"},
		{&r.IPRoomCreateRate, 5, "IPRoomCreateRate"},
	}
	for _, d := range rates {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return bad("negative %s", d.n)
		}
	}
	if r.MaxTCPConnsPerIP < r.MaxConnsPerIP {
		return bad("MaxTCPConnsPerIP %d below MaxConnsPerIP %d: WebSockets are TCP connections too", r.MaxTCPConnsPerIP, r.MaxConnsPerIP)
	}
	if r.GameServerGrace == 0 {
		r.GameServerGrace = 15 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return &r, nil
}

// matchModes converts the modes for the matchmaker.
func (c *Config) matchModes() map[string]match.Mode {
	out := make(map[string]match.Mode, len(c.Modes))
	for name, m := range c.Modes {
		mm := match.Mode{
			MinPlayers:    m.MinPlayers,
			MaxPlayers:    m.MaxPlayers,
			InitialWindow: m.InitialWindow,
			WindowGrowth:  m.WindowGrowth,
			MaxWindow:     max(m.MaxWindow, 0),
			FillWait:      m.FillWait,
		}
		if m.FillWait < 0 {
			mm.FillWait = 1<<63 - 1
		}
		out[name] = mm
	}
	return out
}

// iceServersFor builds a player's ICE configuration for one join.
func (c *Config) iceServersFor(player string, now time.Time) []ICEServer {
	var out []ICEServer
	if len(c.STUN) > 0 {
		out = append(out, ICEServer{URLs: c.STUN})
	}
	if len(c.TURN.URLs) > 0 {
		user, pass := TURNCredentials(c.TURN.Secret, player, now.Add(c.TURN.TTL))
		out = append(out, ICEServer{URLs: c.TURN.URLs, Username: user, Credential: pass})
	}
	return out
}
