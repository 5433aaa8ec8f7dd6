package netcode

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/transport/v5"
)

// Config tunes a Client or a Server. The zero value of every field means the
// default documented on it, and a nil *Config means all defaults. A Config is
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
	// InputQueue is how many received inputs a server session keeps for the
	// game's tick loop (128 by default); when full the oldest input is
	// dropped and counted in Stats.InputsOverflow.
	InputQueue int
	// PingInterval is how often each side measures the round-trip time on
	// the snapshot channel and refreshes the loss estimate (500 ms by default).
	PingInterval time.Duration

	// ICEServers are the STUN and TURN servers to gather candidates with.
	// None by default: fine on a LAN or with a server that has a public address.
	ICEServers []ICEServer
	// RelayOnly makes a Client connect only through a TURN relay among
	// ICEServers (the browser's iceTransportPolicy "relay"): for players who
	// must not reveal their address, and to test TURN. Client only.
	RelayOnly bool
	// ICEDisconnectedTimeout, ICEFailedTimeout and ICEKeepaliveInterval are
	// pion's ICE timers. Defaults: 5 s, 10 s and 2 s. They watch the path
	// of a quiet session (WIRE.md, "Quiet sessions"), at what a bare
	// PeerConnection costs; while the game sends, SilenceTimeout notices
	// trouble sooner. Not applicable in the browser, which has its own.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepaliveInterval   time.Duration
	// SilenceTimeout: nothing received for this long (both sides ping
	// every PingInterval, so a working path is never silent) counts as a
	// lost path, as ICE disconnected does (2 s by default). A session in
	// which neither side sent a snapshot, input or event for as long goes
	// quiet: no pings, and ICE watches the path (WIRE.md, "Quiet
	// sessions").
	SilenceTimeout time.Duration
	// RestartInterval is how long a Client waits for an ICE restart to find
	// a path before it offers another, and later the wait between resume
	// attempts, doubling up to 4 s, with jitter (1 s by default).
	RestartInterval time.Duration
	// RestartTimeout is how long a Client tries ICE restarts on its
	// PeerConnection before it resumes the session on a new one (4 s by
	// default); it resumes at once when the PeerConnection fails.
	RestartTimeout time.Duration
	// ReconnectTimeout bounds the whole outage on either side: after it
	// without a connection, the session closes with CloseConnectionLost
	// (15 s by default). On a Server it is also the grace period during
	// which a session (and the player's seat) waits to be resumed.
	ReconnectTimeout time.Duration
	// MaxRetransmitTimeout caps how long the events channel waits before it
	// resends an unacknowledged event (500 ms by default; SCTP's own cap is
	// 60 s, doubling from 1 s at each expiry). Below SCTP's 1 s minimum the
	// cap is also the floor: on paths with a round trip above it, events
	// are resent needlessly. Measured on vnet after a 3 s cut: events flow
	// again 0.86 s after the path returns at 500 ms, 1.36 s at 1 s, 2.4 s
	// uncapped. Not applicable in the browser.
	MaxRetransmitTimeout time.Duration
	// NetworkTypes restricts the transports ICE gathers candidates on (for
	// example only NetworkTCP4). By default a Client gathers UDP and TCP,
	// IPv4 and IPv6: UDP is what a game wants and what ICE picks when it
	// works; TCP reaches a server's ICE-TCP port (Config.TCPAddr) from a
	// network that blocks UDP. A Server by default listens on UDP, and on
	// TCP when TCPAddr is set. Not applicable in the browser, which
	// gathers what it gathers.
	NetworkTypes []NetworkType

	// UDPAddr is the one UDP address a Server receives every client on
	// (ICE UDP mux), "host:port". ":0" by default: every interface, a port
	// chosen by the system (see Server.UDPAddr). A loopback host makes the
	// server offer loopback candidates, for tests and local play.
	UDPAddr string
	// UDPBuffer is the kernel receive and send buffer size asked for on a
	// Server's UDP socket (4 MiB by default; Linux caps it at
	// net.core.rmem_max and wmem_max). Every client's packets arrive on that
	// one socket, and at the system default of about 200 KiB a server with
	// a few hundred clients loses packets in the kernel before reading them
	// (measured: go run ./bench ccu -clients 500). Server only.
	UDPBuffer int
	// TCPAddr, when set, also accepts ICE over TCP on that address, for
	// players on networks that block UDP: their clients connect over TCP
	// without a TURN relay. Off by default. Server only.
	TCPAddr string
	// PublicAddrs are the addresses a Server advertises to clients in
	// place of its interface addresses, for a server whose public address
	// is on no interface: a cloud VM behind 1:1 NAT, a container with a
	// published port, a Kubernetes hostPort. At most one IPv4 and one IPv6
	// address, each an IP ("203.0.113.7"), or an IP and port
	// ("203.0.113.7:7777") where the forwarded UDP port is not UDPAddr's.
	// ICE-TCP (TCPAddr) is advertised on the same IPs, with TCPAddr's
	// port. Without them a client behind an address-filtering NAT, most
	// home routers, cannot reach such a server, even through TURN.
	// Server only.
	PublicAddrs []string
	// PublicAddrSTUN, when set, asks this STUN server ("stun:host:port")
	// at start which address the server's UDP port is reached on from
	// outside, and advertises it as PublicAddrs would (an address given
	// there for the same IP family wins). The request leaves from the
	// game port itself, so what is advertised is that port's mapping.
	// NewServer fails when no answer comes within 5 s. Server only.
	PublicAddrSTUN string

	// Limits on what one client can make a Server hold or do; SECURITY.md
	// explains each. Server only.
	//
	// MaxCandidates bounds the candidates a client may name in one
	// connection attempt: its offer and what it trickles, counted anew for
	// each ICE restart or resume. More fail the attempt with ErrLimit
	// (32 by default; browsers name fewer than 10).
	MaxCandidates int
	// MaxPeerAddresses bounds the addresses a client's ICE checks may come
	// from in one connection attempt (each becomes a peer-reflexive
	// candidate); checks from further addresses are dropped unread
	// (8 by default).
	MaxPeerAddresses int
	// UnansweredChecks is how many STUN checks the server sends to a
	// remote address before that address answers one, and then none until
	// it does, but one for each check the address sends itself (2 by
	// default): a candidate naming a third party costs that party at most
	// this many packets. Clients need no more: their own checks reach the
	// server, which answers and checks back.
	UnansweredChecks int
	// SignalRate and SignalBurst bound the signals (offers, candidates) a
	// client sends, per second over its session (20/s, bursts of 100 by
	// default). More close the session with CloseProtocolError, or fail
	// its handshake, with ErrLimit.
	SignalRate  float64
	SignalBurst int
	// AllowLocalCandidates lets clients name candidates on loopback and
	// link-local addresses and on the server's own networks. Off by
	// default, so that a player cannot make a server on the internet send
	// packets into the networks it sits on; players there connect all the
	// same, as the server answers checks wherever they come from. A server
	// bound to a loopback address always allows them.
	AllowLocalCandidates bool

	// Net replaces the operating system's network, typically with a pion
	// vnet for simulated delay and loss. Not applicable in the browser.
	Net transport.Net
	// Logger receives the library's logs, pion's warnings included.
	// Nothing is logged by default.
	Logger *slog.Logger
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

// NetworkType is a transport ICE may gather candidates on.
type NetworkType string

// Network types, named as pion names them.
const (
	NetworkUDP4 NetworkType = "udp4"
	NetworkUDP6 NetworkType = "udp6"
	NetworkTCP4 NetworkType = "tcp4"
	NetworkTCP6 NetworkType = "tcp6"
)

const (
	defaultMaxUnreliableSize = 1200
	defaultMaxEventSize      = 16 << 10
	defaultUnreliableBuffer  = 64 << 10
	defaultEventBuffer       = 1 << 20
	defaultEventQueue        = 4096
	defaultInputQueue        = 128
	defaultUDPBuffer         = 4 << 20
	defaultPingInterval      = 500 * time.Millisecond
	defaultICEDisconnected   = 5 * time.Second
	defaultICEFailed         = 10 * time.Second
	defaultICEKeepalive      = 2 * time.Second
	defaultSilence           = 2 * time.Second
	defaultRestartTimeout    = 4 * time.Second
	defaultMaxCandidates     = 32
	defaultMaxPeerAddresses  = 8
	defaultUnansweredChecks  = 2
	defaultSignalRate        = 20
	defaultSignalBurst       = 100

	// minUnreliableSize leaves room for the header and a useful payload.
	minUnreliableSize = 64
	// maxUnreliableSize keeps an unreliable message in one SCTP chunk on a
	// 1500-byte Ethernet path (beyond that one lost fragment loses the lot);
	// it is also the receive limit on the snapshot channel.
	maxUnreliableSize = 1400
	// maxEventSize bounds the per-session read buffer.
	maxEventSize = 1 << 20
)

// resolve returns a copy of c with defaults filled in, or an error naming the
// first field that cannot work.
func (c *Config) resolve() (*Config, error) {
	var r Config
	if c != nil {
		r = *c
		r.ICEServers = make([]ICEServer, len(c.ICEServers))
		for i, s := range c.ICEServers {
			s.URLs = append([]string(nil), s.URLs...)
			r.ICEServers[i] = s
		}
		r.NetworkTypes = append([]NetworkType(nil), c.NetworkTypes...)
		r.PublicAddrs = append([]string(nil), c.PublicAddrs...)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&r.MaxUnreliableSize, defaultMaxUnreliableSize)
	def(&r.MaxEventSize, defaultMaxEventSize)
	def(&r.UnreliableBuffer, defaultUnreliableBuffer)
	def(&r.EventBuffer, defaultEventBuffer)
	def(&r.EventQueue, defaultEventQueue)
	def(&r.InputQueue, defaultInputQueue)
	def(&r.UDPBuffer, defaultUDPBuffer)
	def(&r.MaxCandidates, defaultMaxCandidates)
	def(&r.MaxPeerAddresses, defaultMaxPeerAddresses)
	def(&r.UnansweredChecks, defaultUnansweredChecks)
	def(&r.SignalBurst, defaultSignalBurst)
	if r.SignalRate == 0 {
		r.SignalRate = defaultSignalRate
	}
	defDur(&r.PingInterval, defaultPingInterval)
	defDur(&r.ICEDisconnectedTimeout, defaultICEDisconnected)
	defDur(&r.ICEFailedTimeout, defaultICEFailed)
	defDur(&r.ICEKeepaliveInterval, defaultICEKeepalive)
	defDur(&r.SilenceTimeout, defaultSilence)
	defDur(&r.RestartInterval, time.Second)
	defDur(&r.RestartTimeout, defaultRestartTimeout)
	defDur(&r.ReconnectTimeout, 15*time.Second)
	defDur(&r.MaxRetransmitTimeout, 500*time.Millisecond)
	if r.UDPAddr == "" {
		r.UDPAddr = ":0"
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	switch {
	case r.MaxUnreliableSize < minUnreliableSize || r.MaxUnreliableSize > maxUnreliableSize:
		return nil, fmt.Errorf("%w: MaxUnreliableSize %d not in [%d, %d]", ErrInvalidConfig, r.MaxUnreliableSize, minUnreliableSize, maxUnreliableSize)
	case r.MaxEventSize < 1 || r.MaxEventSize > maxEventSize:
		return nil, fmt.Errorf("%w: MaxEventSize %d not in [1, %d]", ErrInvalidConfig, r.MaxEventSize, maxEventSize)
	case r.UnreliableBuffer < r.MaxUnreliableSize:
		return nil, fmt.Errorf("%w: UnreliableBuffer %d smaller than MaxUnreliableSize %d", ErrInvalidConfig, r.UnreliableBuffer, r.MaxUnreliableSize)
	case r.EventBuffer < r.MaxEventSize:
		return nil, fmt.Errorf("%w: EventBuffer %d smaller than MaxEventSize %d", ErrInvalidConfig, r.EventBuffer, r.MaxEventSize)
	case r.UDPBuffer < 0:
		return nil, fmt.Errorf("%w: negative UDPBuffer", ErrInvalidConfig)
	case r.MaxCandidates < 0, r.MaxPeerAddresses < 0, r.UnansweredChecks < 0, r.SignalRate < 0, r.SignalBurst < 0:
		return nil, fmt.Errorf("%w: negative MaxCandidates, MaxPeerAddresses, UnansweredChecks, SignalRate or SignalBurst", ErrInvalidConfig)
	case r.EventQueue < 1, r.InputQueue < 1:
		return nil, fmt.Errorf("%w: EventQueue and InputQueue must be positive", ErrInvalidConfig)
	case r.RestartInterval < 0, r.RestartTimeout < 0, r.ReconnectTimeout < 0, r.MaxRetransmitTimeout < 0, r.SilenceTimeout < 0:
		return nil, fmt.Errorf("%w: negative SilenceTimeout, RestartInterval, RestartTimeout, ReconnectTimeout or MaxRetransmitTimeout", ErrInvalidConfig)
	case r.SilenceTimeout <= r.PingInterval:
		return nil, fmt.Errorf("%w: SilenceTimeout %v must be longer than PingInterval %v", ErrInvalidConfig, r.SilenceTimeout, r.PingInterval)
	case r.PingInterval < 0, r.ICEDisconnectedTimeout < 0, r.ICEFailedTimeout < 0, r.ICEKeepaliveInterval < 0:
		return nil, fmt.Errorf("%w: negative duration", ErrInvalidConfig)
	case r.ICEKeepaliveInterval >= r.ICEDisconnectedTimeout:
		return nil, fmt.Errorf("%w: ICEKeepaliveInterval %v must be shorter than ICEDisconnectedTimeout %v", ErrInvalidConfig, r.ICEKeepaliveInterval, r.ICEDisconnectedTimeout)
	}
	for _, t := range r.NetworkTypes {
		switch t {
		case NetworkUDP4, NetworkUDP6, NetworkTCP4, NetworkTCP6:
		default:
			return nil, fmt.Errorf("%w: unknown network type %q", ErrInvalidConfig, t)
		}
	}
	for i, s := range r.ICEServers {
		if len(s.URLs) == 0 {
			return nil, fmt.Errorf("%w: ICEServers[%d] has no URLs", ErrInvalidConfig, i)
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
					return nil, fmt.Errorf("%w: ICEServers[%d]: TURN URL %q without a username and credential", ErrInvalidConfig, i, u)
				}
			default:
				return nil, fmt.Errorf("%w: ICEServers[%d]: URL %q is not stun:, stuns:, turn: or turns:", ErrInvalidConfig, i, u)
			}
		}
	}
	if _, err := parsePublicAddrs(r.PublicAddrs); err != nil {
		return nil, fmt.Errorf("%w: PublicAddrs: %v", ErrInvalidConfig, err)
	}
	if r.PublicAddrSTUN != "" {
		if _, err := parseSTUNURL(r.PublicAddrSTUN); err != nil {
			return nil, fmt.Errorf("%w: PublicAddrSTUN: %v", ErrInvalidConfig, err)
		}
	}
	for _, a := range []struct{ name, v string }{{"UDPAddr", r.UDPAddr}, {"TCPAddr", r.TCPAddr}} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, a.name, err)
		}
	}
	return &r, nil
}

// parsePublicAddrs reads Config.PublicAddrs: at most one address per IP
// family, each with an optional port (0 when absent).
func parsePublicAddrs(addrs []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	seen := map[bool]bool{}
	for _, s := range addrs {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			ip, err2 := netip.ParseAddr(strings.Trim(s, "[]"))
			if err2 != nil {
				return nil, fmt.Errorf("%q is neither an IP nor an IP and port", s)
			}
			ap = netip.AddrPortFrom(ip, 0)
		}
		ip := ap.Addr().Unmap()
		if !ip.IsGlobalUnicast() && !ip.IsPrivate() {
			return nil, fmt.Errorf("%q is not a unicast address clients could reach", s)
		}
		if seen[ip.Is4()] {
			return nil, fmt.Errorf("more than one IPv%d address", map[bool]int{true: 4, false: 6}[ip.Is4()])
		}
		seen[ip.Is4()] = true
		out = append(out, netip.AddrPortFrom(ip, ap.Port()))
	}
	return out, nil
}

// parseSTUNURL reads "stun:host[:port]" (3478 by default) as host:port.
func parseSTUNURL(u string) (string, error) {
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || !strings.EqualFold(scheme, "stun") || rest == "" || strings.ContainsAny(rest, "/?") {
		return "", fmt.Errorf("%q is not a stun:host[:port] URL", u)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		rest = net.JoinHostPort(strings.Trim(rest, "[]"), "3478")
	}
	return rest, nil
}
