package netcode

import (
	"context"
	"fmt"
)

// Path is how a connection travels: the pair of candidates ICE selected.
// It tells a game (and its operator) whether a player plays directly or
// through a relay, over UDP or TCP.
type Path struct {
	Local, Remote PathEnd
}

// PathEnd is one end of a Path.
type PathEnd struct {
	// Type is the candidate's type: "host", "srflx" (the address a NAT
	// gave it, learnt from STUN), "prflx" (learnt from the other side's
	// checks) or "relay" (a TURN server's).
	Type string `json:"type"`
	// Protocol is the transport between the two ends: "udp" or "tcp".
	Protocol string `json:"protocol"`
	// RelayProtocol is, for a relay candidate of this side, how it
	// reaches its TURN server: "udp", "tcp" or "tls". Empty otherwise.
	RelayProtocol string `json:"relayProtocol,omitempty"`
	// Address is the candidate's IP address and port.
	Address string `json:"address"`
}

func (p Path) String() string { return p.Local.String() + " -> " + p.Remote.String() }

func (e PathEnd) String() string {
	s := e.Type + " " + e.Protocol + " " + e.Address
	if e.RelayProtocol != "" {
		s += " (relay over " + e.RelayProtocol + ")"
	}
	return s
}

// path reports the current link's selected pair.
func (p *peer) path(ctx context.Context) (Path, error) {
	if p.isClosing() {
		return Path{}, p.Err()
	}
	l := p.link.Load()
	if l == nil || !l.open.Load() {
		return Path{}, ErrNotConnected
	}
	path, err := l.rc.path(ctx)
	if err != nil {
		return Path{}, fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	return path, nil
}
