//go:build !js

package netcode

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"golang.org/x/time/rate"
)

// candidatePolicy is what a server lets a client's candidates name: the
// server sends STUN checks to every candidate it accepts, so an address a
// client may name is an address the client can make the server send to
// (SECURITY.md, "Reflection"). Clients need none of the refused ones to
// connect: their own checks reach the server, which answers where they
// came from (peer-reflexive), whatever their candidates said.
type candidatePolicy struct {
	// local accepts loopback, link-local and the server's own networks:
	// ServerConfig.AllowLocalCandidates, or a server bound to loopback, which
	// can reach nothing else.
	local bool
	own   []netip.Prefix // the server's networks, refused unless local
	max   int            // accepted candidates per connection attempt
}

// Why a candidate is not used. errCandidateRefused is bad input, and
// counted; an mDNS name is what browsers send by default, and dropped
// quietly.
var (
	errCandidateRefused = errors.New("candidate address refused")
	errCandidateMDNS    = errors.New("mDNS candidate: not resolved")
)

func newCandidatePolicy(cfg *config, n transport.Net, bound netip.Addr) (*candidatePolicy, error) {
	cp := &candidatePolicy{local: cfg.AllowLocalCandidates || bound.IsLoopback(), max: cfg.MaxCandidates}
	if cp.local {
		return cp, nil
	}
	ifaces, err := n.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("netcode: listing interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, bits := ipn.Mask.Size()
			if ip.Is4In6() {
				// An IPv4 address in 16 bytes, its mask in 4 or 16.
				ip = ip.Unmap()
				if bits == 128 {
					ones -= 96
				}
			}
			if p, err := ip.Prefix(ones); err == nil {
				cp.own = append(cp.own, p)
			}
		}
	}
	return cp, nil
}

// check parses one candidate attribute ("candidate:..." with or without
// "a=") and says whether the server may use it.
func (cp *candidatePolicy) check(attr string) error {
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(attr, "a="))
	if err != nil {
		return fmt.Errorf("%w: %v", errCandidateRefused, err)
	}
	if strings.HasSuffix(c.Address(), ".local") || strings.HasSuffix(c.Address(), ".invalid") {
		return errCandidateMDNS
	}
	ip, err := netip.ParseAddr(c.Address())
	if err != nil {
		return fmt.Errorf("%w: address %q", errCandidateRefused, c.Address())
	}
	ip = ip.Unmap()
	if c.NetworkType().IsTCP() && c.TCPType() == ice.TCPTypeActive {
		// The client dials in; the server never dials out (it runs with
		// active TCP off), so the address is only a label.
		return nil
	}
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast(),
		ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}),
		ip.Is4() && ip.As4()[0] == 0, ip.Is4() && ip.As4()[0] >= 240:
		return fmt.Errorf("%w: %s is not a unicast address", errCandidateRefused, ip)
	case c.Port() < 1024 && c.NetworkType().IsUDP():
		// Real candidates are on ephemeral ports; below 1024 are the
		// services (DNS, NTP, ...) a reflection would aim at.
		return fmt.Errorf("%w: port %d", errCandidateRefused, c.Port())
	case cp.local:
		return nil
	case ip.IsLoopback(), ip.IsLinkLocalUnicast():
		return fmt.Errorf("%w: %s is local", errCandidateRefused, ip)
	}
	for _, p := range cp.own {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is on the server's network %s", errCandidateRefused, ip, p)
		}
	}
	return nil
}

// filterSDP removes the candidates of an offer that check refuses, and
// counts the others into *accepted; an offer with more than max of them
// is refused whole, as no real client needs that many.
func (cp *candidatePolicy) filterSDP(sdp string, accepted *int) (string, int, error) {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp, 0, nil
	}
	var b strings.Builder
	b.Grow(len(sdp))
	refused := 0
	for len(sdp) > 0 {
		line, rest, nl := strings.Cut(sdp, "\n")
		sdp = rest
		attr := strings.TrimRight(line, "\r")
		if strings.HasPrefix(attr, "a=candidate:") {
			switch err := cp.check(attr); {
			case errors.Is(err, errCandidateMDNS):
				continue
			case err != nil:
				refused++
				continue
			}
			if *accepted++; *accepted > cp.max {
				return "", refused, fmt.Errorf("%w: more than %d candidates (ServerConfig.MaxCandidates)", ErrLimit, cp.max)
			}
		}
		b.WriteString(line)
		if nl {
			b.WriteString("\n")
		}
	}
	return b.String(), refused, nil
}

// screen is one session's account against the server's limits: its
// candidates per connection attempt and its signal rate (peer.screen).
type screen struct {
	policy   *candidatePolicy
	lim      *rate.Limiter
	accepted int // candidates accepted in the current connection attempt
	refused  *atomic.Uint64
}

func newScreen(cfg *config, policy *candidatePolicy, refused *atomic.Uint64) *screen {
	return &screen{policy: policy, lim: rate.NewLimiter(rate.Limit(cfg.SignalRate), cfg.SignalBurst), refused: refused}
}

func (s *screen) signal() error {
	if !s.lim.Allow() {
		return fmt.Errorf("%w: more than %g signals a second (ServerConfig.SignalRate)", ErrLimit, float64(s.lim.Limit()))
	}
	return nil
}

func (s *screen) offer(sdp string) (string, error) {
	s.accepted = 0
	out, refused, err := s.policy.filterSDP(sdp, &s.accepted)
	s.refused.Add(uint64(refused))
	return out, err
}

func (s *screen) candidate(c ICECandidate) (bool, error) {
	switch err := s.policy.check(c.Candidate); {
	case errors.Is(err, errCandidateMDNS):
		return false, nil
	case err != nil:
		s.refused.Add(1)
		return false, nil
	}
	if s.accepted++; s.accepted > s.policy.max {
		return false, fmt.Errorf("%w: more than %d candidates (ServerConfig.MaxCandidates)", ErrLimit, s.policy.max)
	}
	return true, nil
}
