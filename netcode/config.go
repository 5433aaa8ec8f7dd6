package netcode

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Config holds the settings a Client and a Server's Sessions share: the
// limits and timers both ends of a session apply. It is embedded in
// ClientConfig and ServerConfig, which add what only one side uses. The zero
// value of every field means the default documented on it. A Config is
// validated once, by Dial or NewServer, and must not be changed afterwards.
type Config struct {
	// MaxUnreliableSize is the largest encoded snapshot or input this side
	// sends, in bytes; larger sends fail with ErrTooLarge. 1200 by default:
	// it fits one UDP datagram after DTLS and SCTP headers on any path with
	// a 1280-byte IPv6 minimum MTU, so a lost packet costs exactly one
	// message. At most 1400, which is also what every receiver accepts: a
	// peer that sends more is disconnected (WIRE.md).
	MaxUnreliableSize int
	// MaxEventSize is the largest event payload this side sends and
	// accepts, in bytes (16 KiB by default); a peer that sends a larger one
	// is disconnected, so both ends should agree. Events are reliable, so
	// they may span several packets.
	MaxEventSize int
	// UnreliableBuffer is how many bytes the unreliable channel may hold
	// unsent before snapshot and input sends fail with ErrCongested
	// (64 KiB by default, about a second of 60 Hz snapshots of 1 KiB).
	UnreliableBuffer int
	// EventBuffer bounds the resend buffer: the bytes of sent events the
	// peer has not acknowledged yet, kept to be sent again after a resume
	// (1 MiB by default). Past it, SendEvent fails with ErrEventBufferFull
	// while connected; while reconnecting the session ends with
	// CloseBufferOverflow rather than lose an event.
	EventBuffer int
	// EventQueue is how many received events may wait for the application
	// to read them (4096 by default). One more closes the session with
	// CloseSlowReader: an unread reliable stream would otherwise stall the
	// whole association, snapshots included.
	EventQueue int
	// PingInterval is how often each side measures the round-trip time on
	// the snapshot channel and refreshes the loss estimate (500 ms by default).
	PingInterval time.Duration
	// SilenceTimeout: nothing received for this long (both sides ping
	// every PingInterval, so a working path is never silent) counts as a
	// lost path, as ICE disconnected does (2 s by default). A session in
	// which neither side sent a snapshot, input or event for as long goes
	// quiet: no pings, and ICE watches the path (WIRE.md, "Quiet
	// sessions").
	SilenceTimeout time.Duration
	// ReconnectTimeout bounds the whole outage on either side: after it
	// without a connection, the session closes with CloseConnectionLost
	// (15 s by default). On a Server it is also the grace period during
	// which a session (and the player's seat) waits to be resumed.
	ReconnectTimeout time.Duration

	// ICEServers are the STUN and TURN servers to gather candidates with.
	// None by default: fine on a LAN or with a server that has a public address.
	ICEServers []ICEServer
	// Logger receives the library's logs, pion's warnings included.
	// Nothing is logged by default.
	Logger *slog.Logger

	// Native tunes pion, the WebRTC stack of the native build; the browser
	// build has its own stack and nothing to set here (NativeConfig is
	// empty there). The zero value means defaults.
	Native NativeConfig
}

// ClientConfig tunes a Client: the settings it shares with its Session on
// the server, and its own. A zero field means the default documented on it,
// a nil *ClientConfig all defaults.
type ClientConfig struct {
	Config

	// RelayOnly makes a Client connect only through a TURN relay among
	// ICEServers (the browser's iceTransportPolicy "relay"): for players who
	// must not reveal their address, and to test TURN.
	RelayOnly bool
	// RestartInterval is how long a Client waits for an ICE restart to find
	// a path before it offers another, and later the wait between resume
	// attempts, doubling up to 4 s, with jitter (1 s by default).
	RestartInterval time.Duration
	// RestartTimeout is how long a Client tries ICE restarts on its
	// PeerConnection before it resumes the session on a new one (4 s by
	// default); it resumes at once when the PeerConnection fails.
	RestartTimeout time.Duration
}

// ICEServer is a STUN or TURN server, in the shape of the browser's
// RTCIceServer so that it passes to RTCPeerConnection unchanged. A lobby
// match carries them ready to use (lobby.ICEServer is this type).
type ICEServer struct {
	// URLs are the server's URLs, such as "stun:stun.example.com:3478" or
	// "turn:turn.example.com:3478?transport=udp".
	URLs []string `json:"urls"`
	// Username and Credential are a TURN server's long-term credentials,
	// typically short-lived ones from the lobby.
	Username   string `json:"username,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// config is a ClientConfig or a ServerConfig resolved: defaults filled in,
// validated, slices copied. It is one struct for both sides so that the
// code they share (peer, recovery, channels) reads p.cfg.X whichever built
// it; the fields of the other side stay zero. The fields after Config are
// documented on ClientConfig and ServerConfig.
type config struct {
	Config

	// Client only.
	RelayOnly       bool
	RestartInterval time.Duration
	RestartTimeout  time.Duration

	// Server only.
	InputQueue           int
	UDPAddr              string
	UDPBuffer            int
	TCPAddr              string
	PublicAddrs          []string
	PublicAddrSTUN       string
	MaxCandidates        int
	MaxPeerAddresses     int
	UnansweredChecks     int
	SignalRate           float64
	SignalBurst          int
	AllowLocalCandidates bool
}

const (
	defaultMaxUnreliableSize = 1200
	defaultMaxEventSize      = 16 << 10
	defaultUnreliableBuffer  = 64 << 10
	defaultEventBuffer       = 1 << 20
	defaultEventQueue        = 4096
	defaultPingInterval      = 500 * time.Millisecond
	defaultSilence           = 2 * time.Second
	defaultReconnectTimeout  = 15 * time.Second
	defaultRestartInterval   = time.Second
	defaultRestartTimeout    = 4 * time.Second

	// minUnreliableSize leaves room for the header and a useful payload.
	minUnreliableSize = 64
	// maxUnreliableSize keeps an unreliable message in one SCTP chunk on a
	// 1500-byte Ethernet path (beyond that one lost fragment loses the lot);
	// it is also the receive limit on the snapshot channel.
	maxUnreliableSize = 1400
	// maxEventSize bounds the per-session read buffer.
	maxEventSize = 1 << 20
)

// orDefault sets *v to d when it is zero, the unset value of every field.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// resolve returns c with defaults filled in and validated, or an error
// naming the first field that cannot work.
func (c *ClientConfig) resolve() (*config, error) {
	var r config
	if c != nil {
		r = config{Config: c.Config, RelayOnly: c.RelayOnly, RestartInterval: c.RestartInterval, RestartTimeout: c.RestartTimeout}
	}
	if err := r.resolveShared(); err != nil {
		return nil, err
	}
	orDefault(&r.RestartInterval, defaultRestartInterval)
	orDefault(&r.RestartTimeout, defaultRestartTimeout)
	if r.RestartInterval < 0 || r.RestartTimeout < 0 {
		return nil, fmt.Errorf("%w: negative RestartInterval or RestartTimeout", ErrInvalidConfig)
	}
	return &r, nil
}

// resolveShared fills in and checks r.Config, the settings both sides
// share, native ones included, and copies its slices away from the
// caller's.
func (r *config) resolveShared() error {
	servers := make([]ICEServer, len(r.ICEServers))
	for i, s := range r.ICEServers {
		s.URLs = append([]string(nil), s.URLs...)
		servers[i] = s
	}
	r.ICEServers = servers
	orDefault(&r.MaxUnreliableSize, defaultMaxUnreliableSize)
	orDefault(&r.MaxEventSize, defaultMaxEventSize)
	orDefault(&r.UnreliableBuffer, defaultUnreliableBuffer)
	orDefault(&r.EventBuffer, defaultEventBuffer)
	orDefault(&r.EventQueue, defaultEventQueue)
	orDefault(&r.PingInterval, defaultPingInterval)
	orDefault(&r.SilenceTimeout, defaultSilence)
	orDefault(&r.ReconnectTimeout, defaultReconnectTimeout)
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	switch {
	case r.MaxUnreliableSize < minUnreliableSize || r.MaxUnreliableSize > maxUnreliableSize:
		return fmt.Errorf("%w: MaxUnreliableSize %d not in [%d, %d]", ErrInvalidConfig, r.MaxUnreliableSize, minUnreliableSize, maxUnreliableSize)
	case r.MaxEventSize < 1 || r.MaxEventSize > maxEventSize:
		return fmt.Errorf("%w: MaxEventSize %d not in [1, %d]", ErrInvalidConfig, r.MaxEventSize, maxEventSize)
	case r.UnreliableBuffer < r.MaxUnreliableSize:
		return fmt.Errorf("%w: UnreliableBuffer %d smaller than MaxUnreliableSize %d", ErrInvalidConfig, r.UnreliableBuffer, r.MaxUnreliableSize)
	case r.EventBuffer < r.MaxEventSize:
		return fmt.Errorf("%w: EventBuffer %d smaller than MaxEventSize %d", ErrInvalidConfig, r.EventBuffer, r.MaxEventSize)
	case r.EventQueue < 1:
		return fmt.Errorf("%w: EventQueue must be positive", ErrInvalidConfig)
	case r.PingInterval < 0, r.SilenceTimeout < 0, r.ReconnectTimeout < 0:
		return fmt.Errorf("%w: negative PingInterval, SilenceTimeout or ReconnectTimeout", ErrInvalidConfig)
	case r.SilenceTimeout <= r.PingInterval:
		return fmt.Errorf("%w: SilenceTimeout %v must be longer than PingInterval %v", ErrInvalidConfig, r.SilenceTimeout, r.PingInterval)
	}
	for i, s := range r.ICEServers {
		if len(s.URLs) == 0 {
			return fmt.Errorf("%w: ICEServers[%d] has no URLs", ErrInvalidConfig, i)
		}
		// Checked here rather than left to the WebRTC stack, so that both
		// builds refuse the same servers, with the same error: pion
		// refuses them at the first connection, a browser's
		// RTCPeerConnection with an exception.
		for _, u := range s.URLs {
			scheme, _, _ := strings.Cut(u, ":")
			switch strings.ToLower(scheme) {
			case "stun", "stuns":
			case "turn", "turns":
				if s.Username == "" || s.Credential == "" {
					return fmt.Errorf("%w: ICEServers[%d]: TURN URL %q without a username and credential", ErrInvalidConfig, i, u)
				}
			default:
				return fmt.Errorf("%w: ICEServers[%d]: URL %q is not stun:, stuns:, turn: or turns:", ErrInvalidConfig, i, u)
			}
		}
	}
	return r.Native.resolve()
}
