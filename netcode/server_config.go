//go:build !js

package netcode

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ServerConfig tunes a Server: the settings its Sessions share with
// clients (Config), its transport, and the limits on what one client can
// make it hold or do. A zero field means the default documented on it, a
// nil *ServerConfig all defaults.
type ServerConfig struct {
	Config

	// InputQueue is how many received inputs a server session keeps for the
	// game's tick loop (128 by default); when full the oldest input is
	// dropped and counted in Stats.InputsOverflow.
	InputQueue int

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
	// (measured: go run ./bench ccu -clients 500).
	UDPBuffer int
	// TCPAddr, when set, also accepts ICE over TCP on that address, for
	// players on networks that block UDP: their clients connect over TCP
	// without a TURN relay. Off by default.
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
	PublicAddrs []string
	// PublicAddrSTUN, when set, asks this STUN server ("stun:host:port")
	// at start which address the server's UDP port is reached on from
	// outside, and advertises it as PublicAddrs would (an address given
	// there for the same IP family wins). The request leaves from the
	// game port itself, so what is advertised is that port's mapping.
	// NewServer fails when no answer comes within 5 s.
	PublicAddrSTUN string

	// Limits on what one client can make a Server hold or do; SECURITY.md
	// explains each.
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
}

const (
	defaultInputQueue       = 128
	defaultUDPAddr          = ":0"
	defaultUDPBuffer        = 4 << 20
	defaultMaxCandidates    = 32
	defaultMaxPeerAddresses = 8
	defaultUnansweredChecks = 2
	defaultSignalRate       = 20
	defaultSignalBurst      = 100
)

// resolve returns c with defaults filled in and validated, or an error
// naming the first field that cannot work.
func (c *ServerConfig) resolve() (*config, error) {
	var r config
	if c != nil {
		r = config{
			Config: c.Config, InputQueue: c.InputQueue,
			UDPAddr: c.UDPAddr, UDPBuffer: c.UDPBuffer, TCPAddr: c.TCPAddr,
			PublicAddrs: append([]string(nil), c.PublicAddrs...), PublicAddrSTUN: c.PublicAddrSTUN,
			MaxCandidates: c.MaxCandidates, MaxPeerAddresses: c.MaxPeerAddresses, UnansweredChecks: c.UnansweredChecks,
			SignalRate: c.SignalRate, SignalBurst: c.SignalBurst, AllowLocalCandidates: c.AllowLocalCandidates,
		}
	}
	if err := r.resolveShared(); err != nil {
		return nil, err
	}
	orDefault(&r.InputQueue, defaultInputQueue)
	orDefault(&r.UDPAddr, defaultUDPAddr)
	orDefault(&r.UDPBuffer, defaultUDPBuffer)
	orDefault(&r.MaxCandidates, defaultMaxCandidates)
	orDefault(&r.MaxPeerAddresses, defaultMaxPeerAddresses)
	orDefault(&r.UnansweredChecks, defaultUnansweredChecks)
	orDefault(&r.SignalRate, defaultSignalRate)
	orDefault(&r.SignalBurst, defaultSignalBurst)

	switch {
	case r.InputQueue < 1:
		return nil, fmt.Errorf("%w: InputQueue must be positive", ErrInvalidConfig)
	case r.UDPBuffer < 0:
		return nil, fmt.Errorf("%w: negative UDPBuffer", ErrInvalidConfig)
	case r.MaxCandidates < 0, r.MaxPeerAddresses < 0, r.UnansweredChecks < 0, r.SignalRate < 0, r.SignalBurst < 0:
		return nil, fmt.Errorf("%w: negative MaxCandidates, MaxPeerAddresses, UnansweredChecks, SignalRate or SignalBurst", ErrInvalidConfig)
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

// parsePublicAddrs reads ServerConfig.PublicAddrs: at most one address per
// IP family, each with an optional port (0 when absent).
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
