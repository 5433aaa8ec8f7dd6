//go:build !js

package lobby

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
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

// TestEmbeddedTURN: the embedded server allocates relays for credentials
// the lobby hands out, and refuses expired or forged ones; matches carry
// them.
func TestEmbeddedTURN(t *testing.T) {
	const secret = "turn-secret-for-tests"
	ts, err := NewTURNServer(TURNServerConfig{Addr: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if !strings.HasPrefix(ts.URL(), "turn:127.0.0.1:") {
		t.Fatalf("URL %q", ts.URL())
	}

	allocate := func(user, pass string) error {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, err := turn.NewClient(&turn.ClientConfig{
			TURNServerAddr: ts.Addr().String(), STUNServerAddr: ts.Addr().String(),
			Username: user, Password: pass, Realm: "tickwire", Conn: conn, RTO: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		relay, err := c.Allocate()
		if err == nil {
			relay.Close()
		}
		return err
	}
	if err := allocate(TURNCredentials(secret, "p1", time.Now().Add(time.Hour))); err != nil {
		t.Fatalf("valid credentials refused: %v", err)
	}
	if err := allocate(TURNCredentials(secret, "p1", time.Now().Add(-time.Second))); err == nil {
		t.Fatal("expired credentials accepted")
	}
	if err := allocate(TURNCredentials("forged", "p1", time.Now().Add(time.Hour))); err == nil {
		t.Fatal("forged credentials accepted")
	}

	// The lobby hands each player its own credentials with every match.
	srv, url := testLobby(t, &Config{STUN: []string{"stun:stun.example.com:3478"}, TURN: TURNConfig{URLs: []string{ts.URL()}, Secret: secret, TTL: 10 * time.Minute}})
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
	if !strings.HasSuffix(tu.Username, ":"+a.Player()) || tu.URLs[0] != ts.URL() {
		t.Fatalf("TURN entry %+v", tu)
	}
	exp, _ := strconv.ParseInt(strings.Split(tu.Username, ":")[0], 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("credentials valid for %v, want about 10m", d)
	}
	if err := allocate(tu.Username, tu.Credential); err != nil {
		t.Fatalf("match credentials refused by the TURN server: %v", err)
	}
}

// TestRelayOnlyThroughEmbeddedTURN: a native client that may only use a
// relay reaches its game server through the embedded TURN server, with the
// credentials from its match.
func TestRelayOnlyThroughEmbeddedTURN(t *testing.T) {
	const secret = "turn-secret-for-tests"
	ts, err := NewTURNServer(TURNServerConfig{Addr: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	srv, url := testLobby(t, &Config{TURN: TURNConfig{URLs: []string{ts.URL()}, Secret: secret}})
	gs := attach(t, srv, 4)
	ctx := ctxTimeout(t, 20*time.Second)
	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := a.Connect(ctx, m, &netcode.Config{RelayOnly: true})
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
