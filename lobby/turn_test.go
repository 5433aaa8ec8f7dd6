//go:build !js

package lobby

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/tickwire/tickwire/internal/testcert"
	"github.com/tickwire/tickwire/netcode"
)

// TestTURNCredentialsMatchPion: the lobby's REST credentials are what
// pion/turn's (and coturn's) use-auth-secret check expects.
func TestTURNCredentialsMatchPion(t *testing.T) {
	const secret = "shared-secret"
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	check := turn.LongTermTURNRESTAuthHandler(secret, quiet.NewLogger("turn"))
	cases := []struct {
		name   string
		secret string
		expiry time.Time
		ok     bool
	}{
		{"valid", secret, time.Now().Add(time.Hour), true},
		{"expired", secret, time.Now().Add(-time.Minute), false},
		{"other secret", "not-the-secret", time.Now().Add(time.Hour), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user, pass := TURNCredentials(tc.secret, "g-player", tc.expiry)
			if want := strconv.FormatInt(tc.expiry.Unix(), 10) + ":g-player"; user != want {
				t.Fatalf("username %q, want %q", user, want)
			}
			_, key, ok := check(&turn.RequestAttributes{Username: user, Realm: "tickwire"})
			matches := ok && bytes.Equal(key, turn.GenerateAuthKey(user, "tickwire", pass))
			if matches != tc.ok {
				t.Fatalf("pion accepts: %v, want %v", matches, tc.ok)
			}
		})
	}
	// A fixed vector, computed with coturn's documented recipe:
	// echo -n "1800000000:alice" | openssl dgst -binary -sha1 -hmac secret | base64
	if _, pass := TURNCredentials("secret", "alice", time.Unix(1800000000, 0)); pass != "F9Z9KM7gUFmGwhyNrUvr6nr+06I=" {
		t.Fatalf("password %q", pass)
	}
}

// TestEmbeddedTURN: the embedded server allocates relays over UDP, TCP and
// TLS for credentials the lobby hands out, and refuses expired or forged
// ones; it serves UDP and TCP on one port; matches carry a URL for every
// transport.
func TestEmbeddedTURN(t *testing.T) {
	const secret = "turn-secret-for-tests"
	cert := testcert.New(t, "127.0.0.1")
	ts, err := NewTURNServer(TURNServerConfig{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", CertFile: cert.CertFile, KeyFile: cert.KeyFile, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if ts.TCPAddr().Port != ts.Addr().Port {
		t.Fatalf("UDP on %v, TCP on %v: want one port", ts.Addr(), ts.TCPAddr())
	}
	want := []string{
		fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", ts.Addr().Port),
		fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", ts.Addr().Port),
		fmt.Sprintf("turns:127.0.0.1:%d?transport=tcp", ts.TLSAddr().Port),
	}
	if !slices.Equal(ts.URLs(), want) {
		t.Fatalf("URLs %q, want %q", ts.URLs(), want)
	}

	valid := func() (string, string) { return TURNCredentials(secret, "p1", time.Now().Add(time.Hour)) }
	var wantStats TURNStats
	for _, tr := range []string{"udp", "tcp", "tls"} {
		if err := turnAllocate(t, ts, tr, cert.Pool, valid); err != nil {
			t.Fatalf("%s: valid credentials refused: %v", tr, err)
		}
		switch tr {
		case "udp":
			wantStats.UDP++
		case "tcp":
			wantStats.TCP++
		case "tls":
			wantStats.TLS++
		}
		if got := ts.Stats(); got != wantStats {
			t.Fatalf("after an allocation over %s: stats %+v, want %+v", tr, got, wantStats)
		}
	}
	// A UDP client on the port number of an open TCP connection's is
	// still counted under UDP.
	udpConn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpConn.LocalAddr().(*net.UDPAddr).Port}}
	tcpConn, err := d.Dial("tcp4", ts.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	stunBinding(t, tcpConn)
	if err := turnAllocateOn(t, ts, udpConn, valid); err != nil {
		t.Fatal(err)
	}
	tcpConn.Close()
	if wantStats.UDP++; ts.Stats() != wantStats {
		t.Fatalf("an allocation over UDP from the port of a TCP client: stats %+v, want %+v", ts.Stats(), wantStats)
	}

	for _, tr := range []string{"udp", "tcp"} {
		if err := turnAllocate(t, ts, tr, cert.Pool, func() (string, string) {
			return TURNCredentials(secret, "p1", time.Now().Add(-time.Second))
		}); err == nil {
			t.Fatalf("%s: expired credentials accepted", tr)
		}
		if err := turnAllocate(t, ts, tr, cert.Pool, func() (string, string) {
			return TURNCredentials("forged", "p1", time.Now().Add(time.Hour))
		}); err == nil {
			t.Fatalf("%s: forged credentials accepted", tr)
		}
	}
	if got := ts.Stats(); got != wantStats {
		t.Fatalf("refused allocations counted: %+v, want %+v", got, wantStats)
	}

	// The lobby hands each player its own credentials with every match,
	// for every URL.
	srv, url := testLobby(t, &Config{STUN: []string{"stun:stun.example.com:3478"}, TURN: TURNConfig{URLs: ts.URLs(), Secret: secret, TTL: 10 * time.Minute}})
	attach(t, srv, 4)
	ctx := ctxTimeout(t, 10*time.Second)
	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ICEServers) != 2 || m.ICEServers[0].URLs[0] != "stun:stun.example.com:3478" {
		t.Fatalf("ICE servers %+v", m.ICEServers)
	}
	tu := m.ICEServers[1]
	if !strings.HasSuffix(tu.Username, ":"+a.Player()) || !slices.Equal(tu.URLs, ts.URLs()) {
		t.Fatalf("TURN entry %+v", tu)
	}
	exp, _ := strconv.ParseInt(strings.Split(tu.Username, ":")[0], 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("credentials valid for %v, want about 10m", d)
	}
	for _, tr := range []string{"udp", "tcp", "tls"} {
		if err := turnAllocate(t, ts, tr, cert.Pool, func() (string, string) { return tu.Username, tu.Credential }); err != nil {
			t.Fatalf("%s: match credentials refused by the TURN server: %v", tr, err)
		}
	}
}

// turnAllocate makes one allocation on ts over udp, tcp or tls (trusting
// roots) with pion's client, and releases it.
func turnAllocate(t *testing.T, ts *TURNServer, transport string, roots *x509.CertPool, creds func() (string, string)) error {
	t.Helper()
	if transport == "udp" {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return turnAllocateOn(t, ts, conn, creds)
	}
	user, pass := creds()
	cfg := &turn.ClientConfig{Username: user, Password: pass, Realm: "tickwire", RTO: 200 * time.Millisecond}
	switch transport {
	case "tcp", "tls":
		var conn net.Conn
		var err error
		if transport == "tcp" {
			conn, err = net.Dial("tcp4", ts.TCPAddr().String())
		} else {
			conn, err = tls.Dial("tcp4", ts.TLSAddr().String(), &tls.Config{RootCAs: roots})
		}
		if err != nil {
			return err
		}
		defer conn.Close()
		cfg.Conn = turn.NewSTUNConn(conn)
	}
	return allocateWith(t, cfg)
}

// turnAllocateOn makes one allocation on ts over UDP from conn, and closes
// conn.
func turnAllocateOn(t *testing.T, ts *TURNServer, conn net.PacketConn, creds func() (string, string)) error {
	t.Helper()
	defer conn.Close()
	user, pass := creds()
	return allocateWith(t, &turn.ClientConfig{
		Username: user, Password: pass, Realm: "tickwire", RTO: 200 * time.Millisecond,
		Conn: conn, TURNServerAddr: ts.Addr().String(), STUNServerAddr: ts.Addr().String(),
	})
}

// allocateWith makes one allocation with pion's client, and releases it.
func allocateWith(t *testing.T, cfg *turn.ClientConfig) error {
	t.Helper()
	_, err := relayedAddr(t, cfg)
	return err
}

// relayedAddr makes one allocation with pion's client, releases it and
// returns the relayed address the server gave.
func relayedAddr(t *testing.T, cfg *turn.ClientConfig) (net.Addr, error) {
	t.Helper()
	c, relay, err := allocate(t, cfg)
	if err != nil {
		return nil, err
	}
	_ = relay.Close()
	c.Close()
	return relay.LocalAddr(), nil
}

// allocate makes one allocation with pion's client; the client and the
// relay close when the test ends.
func allocate(t *testing.T, cfg *turn.ClientConfig) (*turn.Client, net.PacketConn, error) {
	t.Helper()
	c, err := turn.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = relay.Close() })
	return c, relay, nil
}

// TestRelayOnlyThroughEmbeddedTURN: a native client that may only use a
// relay reaches its game server through the embedded TURN server, with the
// credentials from its match, over UDP and over TCP; each allocation is
// counted under the transport its URL named.
func TestRelayOnlyThroughEmbeddedTURN(t *testing.T) {
	const secret = "turn-secret-for-tests"
	ts, err := NewTURNServer(TURNServerConfig{Addr: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	for i, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			url := ts.URLs()[i]
			if !strings.HasSuffix(url, "?transport="+transport) {
				t.Fatalf("URL %q", url)
			}
			before := ts.Stats()
			srv, lobbyURL := testLobby(t, &Config{TURN: TURNConfig{URLs: []string{url}, Secret: secret}})
			gs := attach(t, srv, 4)
			ctx := ctxTimeout(t, 20*time.Second)
			a := guest(t, ctx, lobbyURL, "a")
			m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
			if err != nil {
				t.Fatal(err)
			}
			nc, err := a.Connect(ctx, m, &netcode.ClientConfig{RelayOnly: true})
			if err != nil {
				t.Fatalf("relay-only connect: %v", err)
			}
			defer nc.Close()
			p, err := gs.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Session.SendEvent([]byte("through the relay")); err != nil {
				t.Fatal(err)
			}
			if ev, err := nc.ReadEvent(ctx); err != nil || string(ev) != "through the relay" {
				t.Fatalf("event %q, %v", ev, err)
			}
			checkChannels(t, nc)
			after := ts.Stats()
			if transport == "udp" && (after.UDP == before.UDP || after.TCP != before.TCP) ||
				transport == "tcp" && (after.TCP == before.TCP || after.UDP != before.UDP) {
				t.Fatalf("allocations before %+v, after %+v: want new ones over %s only", before, after, transport)
			}
		})
	}
}

// checkChannels: the client has the snapshot channel unreliable and
// unordered, and the events channel reliable and ordered.
func checkChannels(t *testing.T, nc *netcode.Client) {
	t.Helper()
	for _, ch := range nc.Channels() {
		switch ch.Label {
		case "snapshots":
			if ch.Ordered || ch.MaxRetransmits == nil || *ch.MaxRetransmits != 0 {
				t.Errorf("snapshots channel %+v, want unordered with maxRetransmits 0", ch)
			}
		case "events":
			if !ch.Ordered || ch.MaxRetransmits != nil {
				t.Errorf("events channel %+v, want ordered and reliable", ch)
			}
		}
	}
	if len(nc.Channels()) != 2 {
		t.Fatalf("channels %+v", nc.Channels())
	}
}

// TestTURNServerConfig: configurations that cannot work are refused at
// start, TLS ones included; the URLs name Host.
func TestTURNServerConfig(t *testing.T) {
	ipCert := testcert.New(t, "127.0.0.1")
	nameCert := testcert.New(t, "turn.example.com")
	tests := []struct {
		name string
		cfg  TURNServerConfig
		err  string // "" for none
		urls []string
	}{
		{name: "no secret", cfg: TURNServerConfig{Addr: "127.0.0.1:0"}, err: "secret"},
		{name: "wildcard without relay IP", cfg: TURNServerConfig{Addr: "0.0.0.0:0", Secret: "s"}, err: "RelayIP"},
		{name: "certificate without TLS address", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", CertFile: ipCert.CertFile, KeyFile: ipCert.KeyFile}, err: "TLSAddr"},
		{name: "TLS address without certificate", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1:0"}, err: "certificate file"},
		{name: "TLS without key", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1:0", CertFile: ipCert.CertFile}, err: "key file"},
		{name: "unreadable certificate", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1:0", CertFile: ipCert.CertFile + ".nope", KeyFile: ipCert.KeyFile}, err: "certificate"},
		{name: "key of another certificate", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1:0", CertFile: ipCert.CertFile, KeyFile: nameCert.KeyFile}, err: "certificate"},
		{name: "certificate not for the host", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1:0", CertFile: nameCert.CertFile, KeyFile: nameCert.KeyFile}, err: "127.0.0.1"},
		{name: "bad TLS address", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", TLSAddr: "127.0.0.1", CertFile: ipCert.CertFile, KeyFile: ipCert.KeyFile}, err: "TLS address"},
		{name: "host name", cfg: TURNServerConfig{Addr: "127.0.0.1:0", Secret: "s", Host: "turn.example.com", TLSAddr: "127.0.0.1:0", CertFile: nameCert.CertFile, KeyFile: nameCert.KeyFile},
			urls: []string{"turn:turn.example.com:UDP?transport=udp", "turn:turn.example.com:UDP?transport=tcp", "turns:turn.example.com:TLS?transport=tcp"}},
		{name: "relay IP", cfg: TURNServerConfig{Addr: "0.0.0.0:0", RelayIP: "127.0.0.1", Secret: "s"},
			urls: []string{"turn:127.0.0.1:UDP?transport=udp", "turn:127.0.0.1:UDP?transport=tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, err := NewTURNServer(tt.cfg)
			if tt.err != "" {
				if err == nil {
					ts.Close()
					t.Fatalf("started; want an error mentioning %q", tt.err)
				}
				if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want ErrInvalidConfig mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			r := strings.NewReplacer("UDP", strconv.Itoa(ts.Addr().Port))
			if ts.TLSAddr() != nil {
				r = strings.NewReplacer("UDP", strconv.Itoa(ts.Addr().Port), "TLS", strconv.Itoa(ts.TLSAddr().Port))
			}
			var want []string
			for _, u := range tt.urls {
				want = append(want, r.Replace(u))
			}
			if !slices.Equal(ts.URLs(), want) {
				t.Fatalf("URLs %q, want %q", ts.URLs(), want)
			}
		})
	}
}

// TestTURNPeerPolicy: relays reach ordinary addresses, private ones
// included, but not this machine's loopback (unless the server itself is
// on loopback), nor unspecified, multicast, broadcast or link-local ones.
func TestTURNPeerPolicy(t *testing.T) {
	public, loop := peerPolicy(net.ParseIP("203.0.113.5")), peerPolicy(net.ParseIP("127.0.0.1"))
	for _, tt := range []struct {
		peer         string
		public, loop bool
	}{
		{"203.0.113.9", true, true},
		{"10.1.2.3", true, true},
		{"192.168.1.10", true, true},
		{"127.0.0.1", false, true},
		{"127.9.9.9", false, true},
		{"::1", false, true},
		{"0.0.0.0", false, false},
		{"224.0.0.1", false, false},
		{"255.255.255.255", false, false},
		{"169.254.169.254", false, false},
		{"fe80::1", false, false},
	} {
		ip := net.ParseIP(tt.peer)
		if got := public(nil, ip); got != tt.public {
			t.Errorf("relay on a public address, peer %s: allowed %v, want %v", tt.peer, got, tt.public)
		}
		if got := loop(nil, ip); got != tt.loop {
			t.Errorf("relay on loopback, peer %s: allowed %v, want %v", tt.peer, got, tt.loop)
		}
	}
}

// stunBinding sends a STUN binding request on c (RFC 5389: over TCP,
// messages follow each other unframed) and reads the answer's header.
func stunBinding(t *testing.T, c net.Conn) {
	t.Helper()
	req := make([]byte, 20)
	binary.BigEndian.PutUint16(req[0:], 0x0001) // binding request, no attributes
	binary.BigEndian.PutUint32(req[4:], 0x2112A442)
	_, _ = rand.Read(req[8:])
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 20)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatalf("STUN binding: %v", err)
	}
	if binary.BigEndian.Uint16(head) != 0x0101 || !bytes.Equal(head[8:], req[8:]) {
		t.Fatalf("STUN binding answer %x", head)
	}
	if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint16(head[2:]))); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Time{})
}

// closedByPeer fails unless c is closed by the other end within 10 s.
func closedByPeer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 64))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open (read: %v)", what, err)
	}
}

// TestTURNStreams: the TCP and TLS connections of the TURN server are
// closed when their TLS handshake fails and when the server closes (the
// listener's own limits: TestStreamListenerLimits).
func TestTURNStreams(t *testing.T) {
	cert := testcert.New(t, "127.0.0.1")
	ts, err := NewTURNServer(TURNServerConfig{Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", CertFile: cert.CertFile, KeyFile: cert.KeyFile, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	dial := func(a net.Addr) net.Conn {
		c, err := net.Dial("tcp4", a.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	garbage := dial(ts.TLSAddr())
	if _, err := garbage.Write([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	closedByPeer(t, garbage, "a failed TLS handshake")

	// Connections pion is serving, over TCP and TLS: Close ends them.
	tcp := dial(ts.TCPAddr())
	stunBinding(t, tcp)
	tlsConn := tls.Client(dial(ts.TLSAddr()), &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
	stunBinding(t, tlsConn)
	if err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	closedByPeer(t, tcp, "TCP, at Close")
	closedByPeer(t, tlsConn, "TLS, at Close")
}
