//go:build linux

package lobby

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/tickwire/tickwire/internal/nattest"
	"github.com/tickwire/tickwire/internal/testcert"
	"github.com/tickwire/tickwire/netcode"
)

// The NAT tests run players, game servers and TURN servers in network
// namespaces (internal/nattest); the lobby and its signaling stay on the
// test process's loopback, which is not what they test.

const natTURNSecret = "turn-secret-for-nat-tests"

// natTLSChild is set in the environment of the test binary that
// TestNATRelayOnlyTCP/tls re-runs, with the certificate files.
const natTLSChild = "TICKWIRE_NAT_TLS_CHILD"

// relayWorld is a game server on the public bridge and players reaching it
// through a lobby.
type relayWorld struct {
	lab  *nattest.Lab
	game *nattest.Host
}

// relayCase connects player relay-only with the TURN URLs and checks that
// snapshots, inputs and events flow both ways, through a game server of
// its own on w.game.
func (w *relayWorld) relayCase(t *testing.T, player *nattest.Host, urls []string) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	nc, gs, err := w.connect(t, ctx, player, urls)
	if err != nil {
		t.Fatalf("relay-only connect of %s: %v", player.Name, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	p, err := gs.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if path, err := nc.Path(ctx); err != nil || path.Local.Type != "relay" {
		t.Fatalf("the player's path %v (%v): want a relay on its side", path, err)
	}
	checkChannels(t, nc)
	flows(t, ctx, nc, p.Session)
}

// connect has player join a room through a lobby of its own that hands out
// the TURN URLs, and connect to the room's game server on w.game,
// relay-only, within ctx.
func (w *relayWorld) connect(t *testing.T, ctx context.Context, player *nattest.Host, urls []string) (*netcode.Client, *GameServer, error) {
	t.Helper()
	ns, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: w.game.Net()}}, UDPAddr: w.game.IP.String() + ":0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	srv, lobbyURL := testLobby(t, &Config{TURN: TURNConfig{URLs: urls, Secret: natTURNSecret}})
	gs, err := srv.AttachGameServer(ctxTimeout(t, 10*time.Second), ns, &GameServerConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	a := guest(t, ctx, lobbyURL, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := a.Connect(ctx, m, &netcode.ClientConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: player.Net()}}, RelayOnly: true})
	return nc, gs, err
}

// flows checks that events go both ways, and snapshots and inputs get
// through (unreliable: sent until some arrive, a bounded number of times).
func flows(t *testing.T, ctx context.Context, nc *netcode.Client, sess *netcode.Session) {
	t.Helper()
	if err := sess.SendEvent([]byte("to the player")); err != nil {
		t.Fatal(err)
	}
	if err := nc.SendEvent([]byte("to the server")); err != nil {
		t.Fatal(err)
	}
	if ev, err := nc.ReadEvent(ctx); err != nil || string(ev) != "to the player" {
		t.Fatalf("event at the player %q, %v", ev, err)
	}
	if ev, err := sess.ReadEvent(ctx); err != nil || string(ev) != "to the server" {
		t.Fatalf("event at the server %q, %v", ev, err)
	}
	snaps, inputs := 0, 0
	var in []netcode.Input
	for i := 0; i < 1000 && (snaps < 5 || inputs < 5); i++ {
		_ = sess.SendSnapshot([]byte(fmt.Sprint("snapshot ", i)))
		_ = nc.SendInput([]byte(fmt.Sprint("input ", i)))
		time.Sleep(10 * time.Millisecond)
		if s, ok := nc.TryReadSnapshot(); ok && strings.HasPrefix(string(s.Payload), "snapshot ") {
			snaps++
		}
		in = sess.ReadInputs(in[:0])
		for _, x := range in {
			if strings.HasPrefix(string(x.Payload), "input ") {
				inputs++
			}
		}
	}
	if snaps < 5 || inputs < 5 {
		t.Fatalf("%d snapshots and %d inputs got through, want 5 each", snaps, inputs)
	}
}

// delta is what b added to a.
func delta(a, b TURNStats) TURNStats {
	return TURNStats{UDP: b.UDP - a.UDP, TCP: b.TCP - a.TCP, TLS: b.TLS - a.TLS}
}

// TestNATRelayOnlyTCP: a player behind a NAT that drops all UDP connects
// relay-only to a game server on the public bridge through the embedded
// TURN server, over TCP and over TLS; with every URL the lobby hands out,
// it falls back to TCP by itself. The TURN server's counts show the
// transport each relay came over (the player being relay-only, its side
// of the selected pair is a relay). A turns: server whose certificate the
// player does not trust gives no relay: the TLS case trusts it through
// SSL_CERT_FILE, in a re-run of the test binary, as pion's TURN client
// checks certificates against the system's roots only.
func TestNATRelayOnlyTCP(t *testing.T) {
	child := os.Getenv(natTLSChild) != ""
	lab := nattest.New(t)
	w := &relayWorld{lab: lab}
	turnHost := lab.Public("turn") // the first public host: the same address in the child
	w.game = lab.Public("game")
	player := lab.Private("player", nattest.NAT{Kind: nattest.BlockUDP})

	var cert *testcert.Cert
	if child {
		cert = &testcert.Cert{CertFile: os.Getenv(natTLSChild + "_CERT"), KeyFile: os.Getenv(natTLSChild + "_KEY")}
	} else {
		cert = testcert.New(t, turnHost.IP.String())
	}
	ts, err := NewTURNServer(TURNServerConfig{
		Addr: turnHost.IP.String() + ":3478", TLSAddr: turnHost.IP.String() + ":443",
		CertFile: cert.CertFile, KeyFile: cert.KeyFile, Secret: natTURNSecret, Net: turnHost.Net(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	urls := ts.URLs()
	udpURL, tcpURL, tlsURL := urls[0], urls[1], urls[2]
	if !strings.HasSuffix(udpURL, "?transport=udp") || !strings.HasSuffix(tcpURL, "?transport=tcp") || !strings.HasPrefix(tlsURL, "turns:") {
		t.Fatalf("URLs %q", urls)
	}

	t.Run("tls", func(t *testing.T) {
		if !child {
			runTLSChild(t, cert)
			return
		}
		before := ts.Stats()
		w.relayCase(t, player, []string{tlsURL})
		if d := delta(before, ts.Stats()); d.TLS == 0 || d.UDP != 0 || d.TCP != 0 {
			t.Fatalf("allocations %+v: want some over TLS only", d)
		}
	})
	if child {
		return
	}
	t.Run("tcp", func(t *testing.T) {
		before := ts.Stats()
		w.relayCase(t, player, []string{tcpURL})
		if d := delta(before, ts.Stats()); d.TCP == 0 || d.UDP != 0 || d.TLS != 0 {
			t.Fatalf("allocations %+v: want some over TCP only", d)
		}
	})
	t.Run("every URL", func(t *testing.T) {
		before := ts.Stats()
		w.relayCase(t, player, urls)
		if d := delta(before, ts.Stats()); d.TCP == 0 || d.UDP != 0 || d.TLS != 0 {
			t.Fatalf("allocations %+v: want some over TCP only (UDP blocked, the certificate not trusted)", d)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		before := ts.Stats()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if nc, _, err := w.connect(t, ctx, player, []string{tlsURL}); err == nil {
			nc.Close()
			t.Fatal("connected through a TURN server whose certificate no root vouches for")
		}
		if d := delta(before, ts.Stats()); d != (TURNStats{}) {
			t.Fatalf("allocations %+v: want none", d)
		}
	})
}

// runTLSChild re-runs TestNATRelayOnlyTCP/tls in a test binary whose only
// trusted root is cert's authority, and reports its output.
func runTLSChild(t *testing.T, cert *testcert.Cert) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestNATRelayOnlyTCP$/^tls$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		natTLSChild+"=1", natTLSChild+"_CERT="+cert.CertFile, natTLSChild+"_KEY="+cert.KeyFile,
		"SSL_CERT_FILE="+cert.CAFile, "SSL_CERT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNATRelayOnlyTCP/tls") {
		t.Fatalf("the TLS case, re-run with the test authority as the only root, failed: %v\n%s", err, out)
	}
	t.Logf("re-run with SSL_CERT_FILE=%s:\n%s", cert.CAFile, out)
}

// TestNATTURNBehindOneToOne: an embedded TURN server on a machine behind 1:1
// NAT (a cloud VM: a private address on its interface, the public one
// forwarded), listening on a wildcard address and announcing its public IP,
// relays for a player behind a filtering NAT; and it refuses to relay to a
// loopback address, which would reach its own machine's services.
func TestNATTURNBehindOneToOne(t *testing.T) {
	lab := nattest.New(t)
	w := &relayWorld{lab: lab, game: lab.Public("game")}
	vm := lab.Private("turn", nattest.NAT{Kind: nattest.OneToOne})
	player := lab.Private("player", nattest.NAT{Kind: nattest.Filtering})
	ts, err := NewTURNServer(TURNServerConfig{Addr: "0.0.0.0:3478", RelayIP: vm.PublicIP.String(), Secret: natTURNSecret, Net: vm.Net()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	if want := "turn:" + vm.PublicIP.String() + ":3478?transport=udp"; ts.URLs()[0] != want {
		t.Fatalf("URL %q, want %q", ts.URLs()[0], want)
	}
	w.relayCase(t, player, ts.URLs()[:1])
	if s := ts.Stats(); s.UDP == 0 {
		t.Fatalf("allocations %+v: want one over UDP", s)
	}

	// A TURN client of the player's own: a relay to the game server is
	// allowed, one to loopback refused.
	conn, err := player.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	user, pass := TURNCredentials(natTURNSecret, "p", time.Now().Add(time.Hour))
	server := vm.PublicIP.String() + ":3478"
	c, relay, err := allocate(t, &turn.ClientConfig{
		TURNServerAddr: server, STUNServerAddr: server, Username: user, Password: pass, Realm: "tickwire",
		Conn: conn, RTO: 200 * time.Millisecond, Net: player.Net(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ip := relay.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IP(vm.PublicIP.AsSlice())) {
		t.Fatalf("relayed address %v: want the public address %v (RelayIP)", relay.LocalAddr(), vm.PublicIP)
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IP(w.game.IP.AsSlice()), Port: 9}); err != nil {
		t.Fatalf("permission for the game server refused: %v", err)
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("permission for a loopback peer granted")
	}
}

// TestNATCoturn runs the coturn configuration of docs/turn.md (its
// addresses, certificate and secret replaced by the test's) on a machine
// behind 1:1 NAT: a player behind a UDP-blocking NAT connects relay-only
// through it over TCP with the lobby's credentials, and allocations work
// over UDP and TLS too.
func TestNATCoturn(t *testing.T) {
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("turnserver is missing and CI=true: apt-get install -y coturn")
		}
		t.Skip("turnserver is missing: apt-get install -y coturn")
	}
	doc, err := os.ReadFile("../docs/turn.md")
	if err != nil {
		t.Fatal(err)
	}
	_, conf, ok := strings.Cut(string(doc), "```ini\n")
	conf, _, ok2 := strings.Cut(conf, "```")
	if !ok || !ok2 || !strings.Contains(conf, "static-auth-secret=north-wind-42") {
		t.Fatal("docs/turn.md has no coturn configuration (an ini block with static-auth-secret=north-wind-42)")
	}

	lab := nattest.New(t)
	w := &relayWorld{lab: lab, game: lab.Public("game")}
	vm := lab.Private("coturn", nattest.NAT{Kind: nattest.OneToOne})
	player := lab.Private("player", nattest.NAT{Kind: nattest.BlockUDP})
	cert := testcert.New(t, vm.PublicIP.String())
	conf = strings.NewReplacer(
		"10.0.0.5", vm.IP.String(), "203.0.113.5", vm.PublicIP.String(), "north-wind-42", natTURNSecret,
		"/etc/letsencrypt/live/turn.example.com/fullchain.pem", cert.CertFile,
		"/etc/letsencrypt/live/turn.example.com/privkey.pem", cert.KeyFile,
	).Replace(conf)
	dir := t.TempDir()
	confFile := dir + "/turnserver.conf"
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := vm.Command(ctx, bin, "-c", confFile, "--pidfile", dir+"/pid", "--log-file", "stdout", "--simple-log")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("coturn's output:\n%s", out.String())
		}
	})
	pub := vm.PublicIP.String()
	waitFor(t, 20*time.Second, "coturn to listen on TCP 3478", func() bool {
		c, err := player.DialContext(ctx, "tcp4", pub+":3478")
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	w.relayCase(t, player, []string{"turn:" + pub + ":3478?transport=tcp"})

	// Allocations over UDP (from the public game host) and TLS.
	user, pass := TURNCredentials(natTURNSecret, "p", time.Now().Add(time.Hour))
	udp, err := w.game.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	relayed, err := relayedAddr(t, &turn.ClientConfig{TURNServerAddr: pub + ":3478", STUNServerAddr: pub + ":3478",
		Username: user, Password: pass, Realm: "tickwire", Conn: udp, RTO: 200 * time.Millisecond, Net: w.game.Net()})
	if err != nil {
		t.Fatalf("allocation over UDP: %v", err)
	}
	if ip := relayed.(*net.UDPAddr).IP; !ip.Equal(net.IP(vm.PublicIP.AsSlice())) {
		t.Fatalf("relayed address %v: want the public address %v (external-ip)", relayed, vm.PublicIP)
	}
	udp.Close()
	raw, err := player.DialContext(ctx, "tcp4", pub+":443")
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{RootCAs: cert.Pool, ServerName: pub})
	defer tc.Close()
	if err := allocateWith(t, &turn.ClientConfig{Username: user, Password: pass, Realm: "tickwire", Conn: turn.NewSTUNConn(tc), RTO: 200 * time.Millisecond, Net: player.Net()}); err != nil {
		t.Fatalf("allocation over TLS: %v", err)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
