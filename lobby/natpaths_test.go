//go:build linux

package lobby

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/nattest"
	"github.com/tickwire/tickwire/netcode"
)

// natGamePort is the game server's UDP and TCP port in the NAT tests: the
// one forwarded port (each) an operator configures.
const natGamePort = 7777

// natPlay has a player on host player join a room through a lobby of its
// own (lcfg) whose game server runs with scfg, and connect with ccfg
// within d. It returns the player's client and its session on the game
// server, or the error Connect gave.
func natPlay(t *testing.T, player *nattest.Host, scfg *netcode.Config, lcfg *Config, ccfg *netcode.Config, d time.Duration) (*netcode.Client, *netcode.Session, time.Duration, error) {
	t.Helper()
	ns, err := netcode.NewServer(scfg)
	if err != nil {
		t.Fatalf("netcode.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	srv, lobbyURL := testLobby(t, lcfg)
	gs, err := srv.AttachGameServer(ctxTimeout(t, 10*time.Second), ns, &GameServerConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	ctx := ctxTimeout(t, d+10*time.Second)
	a := guest(t, ctx, lobbyURL, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if ccfg == nil {
		ccfg = &netcode.Config{}
	}
	ccfg.Net = player.Net()
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	nc, err := a.Connect(cctx, m, ccfg)
	took := time.Since(start)
	if err != nil {
		return nil, nil, took, err
	}
	t.Cleanup(func() { _ = nc.Close() })
	p, err := gs.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return nc, p.Session, took, nil
}

// wantPath checks the selected pair as both sides see it: the client's
// local and remote candidate types and the transport, and the server's
// view of the client.
func wantPath(t *testing.T, nc *netcode.Client, sess *netcode.Session, local, remote, proto, relayProto, serverSees string) {
	t.Helper()
	ctx := ctxTimeout(t, 5*time.Second)
	cp, err := nc.Path(ctx)
	if err != nil {
		t.Fatalf("client Path: %v", err)
	}
	sp, err := sess.Path(ctx)
	if err != nil {
		t.Fatalf("server Path: %v", err)
	}
	t.Logf("client: %v; server: %v", cp, sp)
	if cp.Local.Type != local || cp.Remote.Type != remote || cp.Local.Protocol != proto || cp.Local.RelayProtocol != relayProto {
		t.Errorf("client path %v: want %s to %s over %s (relay over %q)", cp, local, remote, proto, relayProto)
	}
	if sp.Remote.Type != serverSees {
		t.Errorf("the server sees the client as %s (%v), want %s", sp.Remote.Type, sp, serverSees)
	}
}

// TestNATPublicAddress: a game server on a machine behind 1:1 NAT (a cloud
// VM, a container with published ports: a private address on its
// interface, one UDP and one TCP port forwarded from its public address)
// and a player behind an address-and-port-filtering NAT, as most home
// routers are. Advertising only its private address the server cannot be
// reached (the player's checks go to an address that is not on the
// internet, the server's answers to where it never checked); told its
// public address, or finding it through STUN on its own port, it can.
func TestNATPublicAddress(t *testing.T) {
	lab := nattest.New(t)
	stunHost := lab.Public("stun")
	ts, err := NewTURNServer(TURNServerConfig{Addr: stunHost.IP.String() + ":3478", Secret: natTURNSecret, Net: stunHost.Net()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	game := lab.Private("game", nattest.NAT{Kind: nattest.OneToOne, Forward: []nattest.Port{nattest.UDP(natGamePort), nattest.TCP(natGamePort)}})
	player := lab.Private("player", nattest.NAT{Kind: nattest.Filtering})
	addr := game.IP.String() + ":" + strconv.Itoa(natGamePort)

	tests := []struct {
		name    string
		public  []string
		stun    string
		connect bool
	}{
		{"its interface address only", nil, "", false},
		{"PublicAddrs", []string{game.PublicIP.String()}, "", true},
		{"PublicAddrSTUN", nil, "stun:" + stunHost.IP.String() + ":3478", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scfg := &netcode.Config{UDPAddr: addr, TCPAddr: addr, Net: game.Net(), PublicAddrs: tt.public, PublicAddrSTUN: tt.stun}
			d := 20 * time.Second
			if !tt.connect {
				d = 5 * time.Second
			}
			nc, sess, took, err := natPlay(t, player, scfg, &Config{}, nil, d)
			if !tt.connect {
				if err == nil {
					t.Fatal("connected to a server advertising only its private address: the NATs do not filter")
				}
				t.Logf("as expected, no connection: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			t.Logf("connected in %v", took)
			wantPath(t, nc, sess, "host", "host", "udp", "", "prflx")
			cp, _ := nc.Path(ctxTimeout(t, time.Second))
			if want := netip.AddrPortFrom(game.PublicIP, natGamePort).String(); cp.Remote.Address != want {
				t.Errorf("the player reached the server at %s, want its public address %s", cp.Remote.Address, want)
			}
			checkChannels(t, nc)
			flows(t, ctxTimeout(t, 20*time.Second), nc, sess)
		})
	}
}

// TestNATUDPBlocked: a player behind a NAT that drops all UDP (corporate,
// school and hotel networks) reaches a public game server over ICE-TCP,
// without a relay, when the server listens on TCP; and through a TURN
// server over TCP when it does not. Not relay-only: the client gathers
// everything and ICE finds the one path that works.
func TestNATUDPBlocked(t *testing.T) {
	lab := nattest.New(t)
	turnHost := lab.Public("turn")
	ts, err := NewTURNServer(TURNServerConfig{Addr: turnHost.IP.String() + ":3478", Secret: natTURNSecret, Net: turnHost.Net()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	game := lab.Public("game")
	player := lab.Private("player", nattest.NAT{Kind: nattest.BlockUDP})
	addr := game.IP.String() + ":" + strconv.Itoa(natGamePort)

	t.Run("ICE-TCP", func(t *testing.T) {
		nc, sess, took, err := natPlay(t, player, &netcode.Config{UDPAddr: addr, TCPAddr: addr, Net: game.Net()}, &Config{}, nil, 20*time.Second)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Logf("connected in %v", took)
		wantPath(t, nc, sess, "host", "host", "tcp", "", "prflx")
		flows(t, ctxTimeout(t, 20*time.Second), nc, sess)
	})
	t.Run("TURN over TCP", func(t *testing.T) {
		before := ts.Stats()
		nc, sess, took, err := natPlay(t, player, &netcode.Config{UDPAddr: addr, Net: game.Net()},
			&Config{TURN: TURNConfig{URLs: ts.URLs(), Secret: natTURNSecret}}, nil, 20*time.Second)
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		t.Logf("connected in %v", took)
		wantPath(t, nc, sess, "relay", "host", "udp", "tcp", "prflx")
		if d := delta(before, ts.Stats()); d.TCP == 0 || d.UDP != 0 {
			t.Errorf("allocations %+v: want some over TCP, none over UDP", d)
		}
		flows(t, ctxTimeout(t, 20*time.Second), nc, sess)
	})
}
