//go:build !js

package netcode

import (
	"fmt"
	"time"

	"github.com/pion/transport/v5"
)

// NativeConfig tunes pion, the WebRTC stack a native Client and a Server
// run on: its ICE and SCTP timers, the networks ICE gathers on, and the
// network itself. In the browser the page's own WebRTC stack has timers of
// its own and picks its networks, so the browser build's NativeConfig is
// empty and code that sets one of these fields there does not compile. The
// zero value of every field means the default documented on it.
type NativeConfig struct {
	// ICEDisconnectedTimeout, ICEFailedTimeout and ICEKeepaliveInterval are
	// pion's ICE timers. Defaults: 5 s, 10 s and 2 s. They watch the path
	// of a quiet session (WIRE.md, "Quiet sessions"), at what a bare
	// PeerConnection costs; while the game sends, Config.SilenceTimeout
	// notices trouble sooner.
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepaliveInterval   time.Duration
	// MaxRetransmitTimeout caps how long the events channel waits before it
	// resends an unacknowledged event (500 ms by default; SCTP's own cap is
	// 60 s, doubling from 1 s at each expiry). Below SCTP's 1 s minimum the
	// cap is also the floor: on paths with a round trip above it, events
	// are resent needlessly. Measured on vnet after a 3 s cut: events flow
	// again 0.86 s after the path returns at 500 ms, 1.36 s at 1 s, 2.4 s
	// uncapped.
	MaxRetransmitTimeout time.Duration
	// NetworkTypes restricts the transports ICE gathers candidates on (for
	// example only NetworkTCP4). By default a Client gathers UDP and TCP,
	// IPv4 and IPv6: UDP is what a game wants and what ICE picks when it
	// works; TCP reaches a server's ICE-TCP port (ServerConfig.TCPAddr) from
	// a network that blocks UDP. A Server by default listens on UDP, and on
	// TCP when TCPAddr is set.
	NetworkTypes []NetworkType
	// Net replaces the operating system's network, for a native Client and
	// for a Server alike, typically with a pion vnet for simulated delay
	// and loss.
	Net transport.Net
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
	defaultICEDisconnected      = 5 * time.Second
	defaultICEFailed            = 10 * time.Second
	defaultICEKeepalive         = 2 * time.Second
	defaultMaxRetransmitTimeout = 500 * time.Millisecond
)

// resolve fills in n's defaults, checks it and copies its slice away from
// the caller's.
func (n *NativeConfig) resolve() error {
	n.NetworkTypes = append([]NetworkType(nil), n.NetworkTypes...)
	orDefault(&n.ICEDisconnectedTimeout, defaultICEDisconnected)
	orDefault(&n.ICEFailedTimeout, defaultICEFailed)
	orDefault(&n.ICEKeepaliveInterval, defaultICEKeepalive)
	orDefault(&n.MaxRetransmitTimeout, defaultMaxRetransmitTimeout)
	switch {
	case n.ICEDisconnectedTimeout < 0, n.ICEFailedTimeout < 0, n.ICEKeepaliveInterval < 0, n.MaxRetransmitTimeout < 0:
		return fmt.Errorf("%w: negative Native.ICEDisconnectedTimeout, ICEFailedTimeout, ICEKeepaliveInterval or MaxRetransmitTimeout", ErrInvalidConfig)
	case n.ICEKeepaliveInterval >= n.ICEDisconnectedTimeout:
		return fmt.Errorf("%w: Native.ICEKeepaliveInterval %v must be shorter than ICEDisconnectedTimeout %v", ErrInvalidConfig, n.ICEKeepaliveInterval, n.ICEDisconnectedTimeout)
	}
	for _, t := range n.NetworkTypes {
		switch t {
		case NetworkUDP4, NetworkUDP6, NetworkTCP4, NetworkTCP6:
		default:
			return fmt.Errorf("%w: Native.NetworkTypes: unknown network type %q", ErrInvalidConfig, t)
		}
	}
	return nil
}
