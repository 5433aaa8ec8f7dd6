//go:build !js

package netcode

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults: a nil ClientConfig or ServerConfig, and an empty one,
// resolve to the documented defaults, each side's own fields set and the
// other side's left zero. The values are written out, not taken from the
// constants, so that a default lost or changed in the split shows here.
func TestConfigDefaults(t *testing.T) {
	shared := Config{
		MaxUnreliableSize: 1200,
		MaxEventSize:      16 << 10,
		UnreliableBuffer:  64 << 10,
		EventBuffer:       1 << 20,
		EventQueue:        4096,
		PingInterval:      500 * time.Millisecond,
		SilenceTimeout:    2 * time.Second,
		ReconnectTimeout:  15 * time.Second,
		Native: NativeConfig{
			ICEDisconnectedTimeout: 5 * time.Second,
			ICEFailedTimeout:       10 * time.Second,
			ICEKeepaliveInterval:   2 * time.Second,
			MaxRetransmitTimeout:   500 * time.Millisecond,
		},
	}
	wantClient := config{Config: shared, RestartInterval: time.Second, RestartTimeout: 4 * time.Second}
	wantServer := config{
		Config: shared, InputQueue: 128, UDPAddr: ":0", UDPBuffer: 4 << 20,
		MaxCandidates: 32, MaxPeerAddresses: 8, UnansweredChecks: 2, SignalRate: 20, SignalBurst: 100,
	}
	check := func(t *testing.T, got *config, err error, want config) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got.Logger == nil {
			t.Error("no default Logger")
		}
		got.Logger = nil
		if len(got.ICEServers) == 0 {
			got.ICEServers = nil
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("resolved\n%+v\nwant\n%+v", *got, want)
		}
	}
	t.Run("nil client", func(t *testing.T) { r, err := (*ClientConfig)(nil).resolve(); check(t, r, err, wantClient) })
	t.Run("empty client", func(t *testing.T) { r, err := (&ClientConfig{}).resolve(); check(t, r, err, wantClient) })
	t.Run("nil server", func(t *testing.T) { r, err := (*ServerConfig)(nil).resolve(); check(t, r, err, wantServer) })
	t.Run("empty server", func(t *testing.T) { r, err := (&ServerConfig{}).resolve(); check(t, r, err, wantServer) })
}

// TestConfigKept: what the caller sets survives resolve, on either side.
func TestConfigKept(t *testing.T) {
	shared := Config{MaxEventSize: 100, EventBuffer: 1000, SilenceTimeout: 3 * time.Second, Native: NativeConfig{ICEFailedTimeout: time.Minute}}
	c, err := (&ClientConfig{Config: shared, RelayOnly: true, RestartTimeout: time.Second}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxEventSize != 100 || c.EventBuffer != 1000 || c.SilenceTimeout != 3*time.Second || c.Native.ICEFailedTimeout != time.Minute ||
		!c.RelayOnly || c.RestartTimeout != time.Second || c.RestartInterval != time.Second {
		t.Errorf("client resolved to %+v", c)
	}
	s, err := (&ServerConfig{Config: shared, UDPAddr: "127.0.0.1:7000", TCPAddr: "127.0.0.1:7001", InputQueue: 4, SignalRate: 2.5, AllowLocalCandidates: true}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxEventSize != 100 || s.Native.ICEFailedTimeout != time.Minute || s.UDPAddr != "127.0.0.1:7000" || s.TCPAddr != "127.0.0.1:7001" ||
		s.InputQueue != 4 || s.SignalRate != 2.5 || !s.AllowLocalCandidates || s.SignalBurst != 100 {
		t.Errorf("server resolved to %+v", s)
	}
}

// TestConfigCopiesSlices: the resolved config owns its slices, so a caller
// changing its own afterwards changes nothing of a running Client or Server.
func TestConfigCopiesSlices(t *testing.T) {
	shared := func() Config {
		return Config{
			ICEServers: []ICEServer{{URLs: []string{"stun:a.example:3478"}}},
			Native:     NativeConfig{NetworkTypes: []NetworkType{NetworkUDP4}},
		}
	}
	spoil := func(c *Config) {
		c.ICEServers[0].URLs[0] = "stun:spoilt.example:3478"
		c.ICEServers[0] = ICEServer{URLs: []string{"stun:other.example:3478"}}
		c.Native.NetworkTypes[0] = NetworkTCP6
	}
	check := func(t *testing.T, r *config) {
		t.Helper()
		if got := r.ICEServers[0].URLs[0]; got != "stun:a.example:3478" {
			t.Errorf("ICEServers[0].URLs[0] = %q after the caller's changed", got)
		}
		if got := r.Native.NetworkTypes[0]; got != NetworkUDP4 {
			t.Errorf("Native.NetworkTypes[0] = %q after the caller's changed", got)
		}
	}
	t.Run("client", func(t *testing.T) {
		cc := &ClientConfig{Config: shared()}
		r, err := cc.resolve()
		if err != nil {
			t.Fatal(err)
		}
		spoil(&cc.Config)
		check(t, r)
	})
	t.Run("server", func(t *testing.T) {
		sc := &ServerConfig{Config: shared(), PublicAddrs: []string{"203.0.113.7"}}
		r, err := sc.resolve()
		if err != nil {
			t.Fatal(err)
		}
		spoil(&sc.Config)
		sc.PublicAddrs[0] = "203.0.113.8"
		check(t, r)
		if got := r.PublicAddrs[0]; got != "203.0.113.7" {
			t.Errorf("PublicAddrs[0] = %q after the caller's changed", got)
		}
	})
}

// TestConfigValidation: every setting that cannot work is refused by Dial
// or NewServer (a shared or native one by both) with ErrInvalidConfig,
// naming the field.
func TestConfigValidation(t *testing.T) {
	type side struct {
		client *ClientConfig
		server *ServerConfig
	}
	both := func(c Config) side { return side{&ClientConfig{Config: c}, &ServerConfig{Config: c}} }
	native := func(n NativeConfig) side { return both(Config{Native: n}) }
	client := func(c ClientConfig) side { return side{client: &c} }
	server := func(c ServerConfig) side { return side{server: &c} }
	ice := func(s ICEServer) side { return both(Config{ICEServers: []ICEServer{s}}) }
	tests := []struct {
		name  string
		cfg   side
		field string
	}{
		{"tiny unreliable budget", both(Config{MaxUnreliableSize: 10}), "MaxUnreliableSize"},
		{"unreliable budget over one packet", both(Config{MaxUnreliableSize: 9000}), "MaxUnreliableSize"},
		{"event size over the limit", both(Config{MaxEventSize: 2 << 20}), "MaxEventSize"},
		{"negative event size", both(Config{MaxEventSize: -1}), "MaxEventSize"},
		{"unreliable buffer under one message", both(Config{UnreliableBuffer: 100}), "UnreliableBuffer"},
		{"event buffer under one event", both(Config{MaxEventSize: 1000, EventBuffer: 10}), "EventBuffer"},
		{"negative event queue", both(Config{EventQueue: -1}), "EventQueue"},
		{"negative ping interval", both(Config{PingInterval: -1}), "PingInterval"},
		{"negative silence timeout", both(Config{SilenceTimeout: -1}), "SilenceTimeout"},
		{"negative reconnect timeout", both(Config{ReconnectTimeout: -1}), "ReconnectTimeout"},
		{"silence not longer than ping", both(Config{PingInterval: 2 * time.Second}), "SilenceTimeout"},
		{"ICE server without URLs", ice(ICEServer{Username: "u"}), "ICEServers[0]"},
		{"ICE server URL of another scheme", ice(ICEServer{URLs: []string{"http://stun.example.com"}}), "ICEServers[0]"},
		{"ICE server URL without a scheme", ice(ICEServer{URLs: []string{"stun.example.com:3478"}}), "ICEServers[0]"},
		{"TURN URL without credentials", ice(ICEServer{URLs: []string{"turn:turn.example.com:3478"}}), "ICEServers[0]"},

		{"keepalive not shorter than disconnect", native(NativeConfig{ICEKeepaliveInterval: 6 * time.Second}), "Native.ICEKeepaliveInterval"},
		{"negative ICE disconnected timeout", native(NativeConfig{ICEDisconnectedTimeout: -1}), "Native.ICEDisconnectedTimeout"},
		{"negative ICE failed timeout", native(NativeConfig{ICEFailedTimeout: -1}), "ICEFailedTimeout"},
		{"negative ICE keepalive", native(NativeConfig{ICEKeepaliveInterval: -1}), "ICEKeepaliveInterval"},
		{"negative retransmit cap", native(NativeConfig{MaxRetransmitTimeout: -1}), "MaxRetransmitTimeout"},
		{"unknown network type", native(NativeConfig{NetworkTypes: []NetworkType{"udp5"}}), "Native.NetworkTypes"},

		{"negative restart interval", client(ClientConfig{RestartInterval: -1}), "RestartInterval"},
		{"negative restart timeout", client(ClientConfig{RestartTimeout: -1}), "RestartTimeout"},

		{"negative input queue", server(ServerConfig{InputQueue: -1}), "InputQueue"},
		{"negative UDP buffer", server(ServerConfig{UDPBuffer: -1}), "UDPBuffer"},
		{"bad UDP address", server(ServerConfig{UDPAddr: "nope"}), "UDPAddr"},
		{"bad TCP address", server(ServerConfig{TCPAddr: "nope"}), "TCPAddr"},
		{"negative candidate limit", server(ServerConfig{MaxCandidates: -1}), "MaxCandidates"},
		{"negative peer address limit", server(ServerConfig{MaxPeerAddresses: -1}), "MaxPeerAddresses"},
		{"negative unanswered checks", server(ServerConfig{UnansweredChecks: -1}), "UnansweredChecks"},
		{"negative signal rate", server(ServerConfig{SignalRate: -1}), "SignalRate"},
		{"negative signal burst", server(ServerConfig{SignalBurst: -1}), "SignalBurst"},
		{"two public IPv4 addresses", server(ServerConfig{PublicAddrs: []string{"203.0.113.7", "203.0.113.8"}}), "PublicAddrs"},
		{"public address not an IP", server(ServerConfig{PublicAddrs: []string{"not an ip"}}), "PublicAddrs"},
		{"multicast public address", server(ServerConfig{PublicAddrs: []string{"224.0.0.1"}}), "PublicAddrs"},
		{"public address STUN of another scheme", server(ServerConfig{PublicAddrSTUN: "turn:example.com"}), "PublicAddrSTUN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
					t.Errorf("%s = %v, want ErrInvalidConfig naming %s", what, err, tt.field)
				}
			}
			if tt.cfg.server != nil {
				srv, err := NewServer(tt.cfg.server)
				if srv != nil {
					_ = srv.Close()
				}
				want("NewServer", err)
			}
			if tt.cfg.client != nil {
				csig, _ := SignalPipe()
				c, err := Dial(context.Background(), csig, tt.cfg.client)
				if c != nil {
					_ = c.Close()
				}
				want("Dial", err)
			}
		})
	}
}
