//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/stuntest"
)

// candidateSpy records the candidates the server trickles to a client.
type candidateSpy struct {
	Signaler
	mu    sync.Mutex
	cands []string
}

func (c *candidateSpy) ReadSignal(ctx context.Context) (Signal, error) {
	s, err := c.Signaler.ReadSignal(ctx)
	if err == nil && s.Candidate != nil {
		c.mu.Lock()
		c.cands = append(c.cands, s.Candidate.Candidate)
		c.mu.Unlock()
	}
	if err == nil && s.Type == SignalAnswer {
		c.mu.Lock()
		for _, l := range strings.Split(s.SDP, "\n") {
			if strings.HasPrefix(l, "a=candidate:") {
				c.cands = append(c.cands, strings.TrimSpace(strings.TrimPrefix(l, "a=")))
			}
		}
		c.mu.Unlock()
	}
	return s, err
}

// serverCandidates dials srv and returns the candidates it offers; the
// connection itself need not succeed.
func serverCandidates(t *testing.T, srv *Server) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	csig, ssig := SignalPipe()
	spy := &candidateSpy{Signaler: csig}
	go func() {
		if s, err := srv.Accept(ctx, ssig); err == nil {
			_ = s.Close("")
		}
	}()
	if c, err := Dial(ctx, spy, nil); err == nil {
		_ = c.Close()
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	return spy.cands
}

// fakeSTUN runs a STUN server that answers with mapped, as one outside a
// 1:1 NAT would, and returns its URL.
func fakeSTUN(t *testing.T, mapped netip.AddrPort) string {
	t.Helper()
	s, err := stuntest.New(mapped)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.URL()
}

// TestPublicAddrs: a server told its public address (or asking STUN for
// it) offers that address, and no longer its interface's. That players
// then connect through a 1:1 NAT is TestNATPublicAddress's (nat_test.go).
func TestPublicAddrs(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(t *testing.T) *ServerConfig
		udp     string // "ip port" the UDP candidate must have; "" for the TCP port
		tcpIP   string
		refused bool
	}{
		{"an IP", func(*testing.T) *ServerConfig { return &ServerConfig{PublicAddrs: []string{"203.0.113.7"}} }, "203.0.113.7", "203.0.113.7", false},
		{"an IP and port", func(*testing.T) *ServerConfig { return &ServerConfig{PublicAddrs: []string{"203.0.113.7:7777"}} }, "203.0.113.7 7777", "203.0.113.7", false},
		{"from STUN", func(t *testing.T) *ServerConfig {
			return &ServerConfig{PublicAddrSTUN: fakeSTUN(t, netip.MustParseAddrPort("203.0.113.9:4242"))}
		}, "203.0.113.9 4242", "203.0.113.9", false},
		{"STUN does not override", func(t *testing.T) *ServerConfig {
			return &ServerConfig{PublicAddrs: []string{"203.0.113.7"}, PublicAddrSTUN: fakeSTUN(t, netip.MustParseAddrPort("203.0.113.9:4242"))}
		}, "203.0.113.7", "203.0.113.7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			cfg.UDPAddr, cfg.TCPAddr = "127.0.0.1:0", "127.0.0.1:0"
			srv := newTestServer(t, cfg)
			udpPort := srv.UDPAddr().(*net.UDPAddr).Port
			tcpPort := srv.TCPAddr().(*net.TCPAddr).Port
			wantUDP := tt.udp
			if !strings.Contains(wantUDP, " ") {
				wantUDP = fmt.Sprintf("%s %d", wantUDP, udpPort)
			}
			wantTCP := fmt.Sprintf("%s %d typ host tcptype passive", tt.tcpIP, tcpPort)
			cands := serverCandidates(t, srv)
			var sawUDP, sawTCP bool
			for _, c := range cands {
				if strings.Contains(c, "127.0.0.1") {
					t.Errorf("the interface address is still offered: %s", c)
				}
				sawUDP = sawUDP || (strings.Contains(c, " udp ") && strings.Contains(c, wantUDP+" typ host"))
				sawTCP = sawTCP || (strings.Contains(c, " tcp ") && strings.Contains(c, wantTCP))
			}
			if !sawUDP || !sawTCP {
				t.Fatalf("candidates %q\nwant UDP %q and TCP %q", cands, wantUDP, wantTCP)
			}
		})
	}

	for _, bad := range []*ServerConfig{
		{PublicAddrs: []string{"203.0.113.7", "203.0.113.8"}},
		{PublicAddrs: []string{"not an ip"}},
		{PublicAddrs: []string{"224.0.0.1"}},
		{PublicAddrSTUN: "turn:example.com"},
	} {
		if _, err := NewServer(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewServer(%+v): %v, want ErrInvalidConfig", bad, err)
		}
	}
	// A STUN server that never answers fails NewServer, rather than a
	// server that advertises an address nobody can reach.
	silent, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer silent.Close()
	if _, err := NewServer(&ServerConfig{UDPAddr: "127.0.0.1:0", PublicAddrSTUN: "stun:" + silent.LocalAddr().String()}); err == nil {
		t.Fatal("NewServer with a silent STUN server succeeded")
	}
}

// TestPath: Path reports the selected pair as each side sees it; over UDP,
// and over ICE-TCP when the client may not use UDP.
func TestPath(t *testing.T) {
	srv := newTestServer(t, &ServerConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	for _, tt := range []struct {
		name  string
		types []NetworkType
		proto string
	}{
		{"udp", nil, "udp"},
		{"tcp", []NetworkType{NetworkTCP4}, "tcp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, s := connect(t, srv, &ClientConfig{Config: Config{Native: NativeConfig{NetworkTypes: tt.types}}})
			ctx := ctxTimeout(t, 5*time.Second)
			cp, err := c.Path(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := s.Path(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("client %v; server %v", cp, sp)
			if cp.Local.Protocol != tt.proto || cp.Remote.Protocol != tt.proto || cp.Local.Type != "host" || cp.Remote.Type != "host" {
				t.Errorf("client path %v, want host to host over %s", cp, tt.proto)
			}
			if sp.Remote.Address != cp.Local.Address && tt.proto == "udp" {
				t.Errorf("the server sees the client at %s, the client is at %s", sp.Remote.Address, cp.Local.Address)
			}
			if sp.Local.Address != cp.Remote.Address {
				t.Errorf("the server is at %s, the client reached %s", sp.Local.Address, cp.Remote.Address)
			}
			_ = c.Close()
			if _, err := c.Path(ctx); !errors.Is(err, ErrClosed) {
				t.Errorf("Path after Close: %v", err)
			}
		})
	}
}
