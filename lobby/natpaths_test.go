//go:build linux

package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
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
func natPlay(t *testing.T, player *nattest.Host, scfg *netcode.ServerConfig, lcfg *Config, ccfg *netcode.ClientConfig, d time.Duration) (*netcode.Client, *netcode.Session, time.Duration, error) {
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
		ccfg = &netcode.ClientConfig{}
	}
	ccfg.Native.Net = player.Net()
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
			scfg := &netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr, TCPAddr: addr, PublicAddrs: tt.public, PublicAddrSTUN: tt.stun}
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
		ns, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr, TCPAddr: addr})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ns.Close() })
		srv, err := NewServer(&Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		ln, err := game.Listen("tcp4", game.IP.String()+":0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })
		gs, err := srv.AttachGameServer(ctxTimeout(t, 10*time.Second), ns, &GameServerConfig{Capacity: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gs.Close() })
		r, inputs := natPlayerProcess(t, player, "http://"+ln.Addr().String(), gs)
		t.Logf("player: connected in %v over %v; %d snapshots; the server took %d inputs", r.Connect, r.Path, r.Snapshots, inputs)
		if r.Err != "" {
			t.Fatalf("player: %s", r.Err)
		}
		if p := r.Path; p.Local.Type != "host" || p.Remote.Type != "host" || p.Local.Protocol != "tcp" {
			t.Errorf("path %v: want host to host over TCP", p)
		}
		if r.Event != "to the player" || r.Snapshots < 5 || inputs < 5 {
			t.Errorf("event %q, %d snapshots, %d inputs: want the event and 5 each", r.Event, r.Snapshots, inputs)
		}
	})
	t.Run("TURN over TCP", func(t *testing.T) {
		before := ts.Stats()
		nc, sess, took, err := natPlay(t, player, &netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr},
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

// natPlayerEnv makes the test binary a player (TestMain) of the lobby at
// its URL: a process of its own in a player's namespace, as pion's active
// ICE-TCP dials with the operating system's network rather than
// netcode.NativeConfig.Net (pion/ice v4.4.8), so that no in-process
// player can use ICE-TCP from another namespace.
const natPlayerEnv = "TICKWIRE_NAT_PLAYER"

// natReport is what a player process says on stdout.
type natReport struct {
	Path      netcode.Path  `json:"path"`
	Connect   time.Duration `json:"connect"`
	Event     string        `json:"event"`
	Snapshots int           `json:"snapshots"`
	Err       string        `json:"err,omitempty"`
}

// natPlayer joins a room of its own, connects with default settings,
// sends inputs and an event, and reports its path, the event the server
// sent and the snapshots it received.
func natPlayer(url string) int {
	r := natReport{}
	err := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tok, err := GuestToken(ctx, url, "child")
		if err != nil {
			return err
		}
		c, err := Dial(ctx, url, tok, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		m, err := c.CreateRoom(ctx, RoomOptions{Mode: "default"})
		if err != nil {
			return err
		}
		start := time.Now()
		nc, err := c.Connect(ctx, m, nil)
		if err != nil {
			return err
		}
		defer nc.Close()
		r.Connect = time.Since(start)
		if r.Path, err = nc.Path(ctx); err != nil {
			return err
		}
		if err := nc.SendEvent([]byte("to the server")); err != nil {
			return err
		}
		ev, err := nc.ReadEvent(ctx)
		if err != nil {
			return err
		}
		r.Event = string(ev)
		for i := 0; i < 500 && r.Snapshots < 5; i++ {
			_ = nc.SendInput([]byte("input"))
			time.Sleep(10 * time.Millisecond)
			if _, ok := nc.TryReadSnapshot(); ok {
				r.Snapshots++
			}
		}
		return nil
	}()
	if err != nil {
		r.Err = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// natPlayerProcess runs a player process on host against the lobby at
// url, and plays the server's side with gs while it runs: an event
// answered, snapshots, inputs counted.
func natPlayerProcess(t *testing.T, host *nattest.Host, url string, gs *GameServer) (natReport, int) {
	t.Helper()
	ctx := ctxTimeout(t, 60*time.Second)
	cmd := host.Command(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natPlayerEnv+"="+url)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inputs := 0
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			p, err := gs.Accept(ctx)
			if err != nil {
				return err
			}
			ev, err := p.Session.ReadEvent(ctx)
			if err != nil || string(ev) != "to the server" {
				return fmt.Errorf("event at the server %q, %v", ev, err)
			}
			if err := p.Session.SendEvent([]byte("to the player")); err != nil {
				return err
			}
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-p.Session.Done():
					return nil
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
					_ = p.Session.SendSnapshot([]byte("snapshot"))
					inputs += len(p.Session.ReadInputs(nil))
				}
			}
		}()
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("player process: %v\n%s", err, errOut.String())
	}
	if err := <-served; err != nil {
		t.Fatalf("the server's side: %v", err)
	}
	var r natReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("player process said %q: %v\n%s", out.String(), err, errOut.String())
	}
	return r, inputs
}

// TestNATDualStack: a game server listening on both IP families (its
// wildcard address, ":7777") takes a player on an IPv6-only network over
// IPv6 and one behind an IPv4 NAT over IPv4, on the same port.
func TestNATDualStack(t *testing.T) {
	lab := nattest.New(t)
	game := lab.PublicDual("game")
	six := lab.PublicV6("psix")
	four := lab.Private("pfour", nattest.NAT{Kind: nattest.Filtering})
	addr := ":" + strconv.Itoa(natGamePort)
	ns, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr, TCPAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	srv, lobbyURL := testLobby(t, &Config{})
	gs, err := srv.AttachGameServer(ctxTimeout(t, 10*time.Second), ns, &GameServerConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	ctx := ctxTimeout(t, 30*time.Second)
	for _, tt := range []struct {
		player *nattest.Host
		server netip.Addr // the address the player must reach the server on
	}{
		{six, game.IP6},
		{four, game.IP},
	} {
		c := guest(t, ctx, lobbyURL, tt.player.Name)
		m, err := c.CreateRoom(ctx, RoomOptions{Mode: "default"})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := c.Connect(ctx, m, &netcode.ClientConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: tt.player.Net()}}})
		if err != nil {
			t.Fatalf("%s: Connect: %v", tt.player.Name, err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		p, err := gs.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		path, err := nc.Path(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", tt.player.Name, path)
		if want := netip.AddrPortFrom(tt.server, natGamePort).String(); path.Remote.Address != want || path.Local.Protocol != "udp" {
			t.Errorf("%s reached the server at %s over %s, want %s over UDP", tt.player.Name, path.Remote.Address, path.Local.Protocol, want)
		}
		flows(t, ctx, nc, p.Session)
	}
}
