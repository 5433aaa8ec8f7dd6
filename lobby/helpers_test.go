//go:build !js

package lobby

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(natPlayerEnv); url != "" {
		// A player process started in a network namespace by a NAT test
		// (natpaths_test.go).
		os.Exit(natPlayer(url))
	}
	goleak.VerifyTestMain(m)
}

// testLobby runs a lobby behind an httptest server and returns its URL.
//
// Under TestProtocolOnRedis, or with TICKWIRE_TEST_STORE=redis for every
// test, the lobby keeps its state in a RedisStore on a redis-server of the
// test's own, to check that store.lua behaves as the hub does (the tests
// that look into the hub make their lobbies otherwise).
func testLobby(t testing.TB, cfg *Config) (*Server, string) {
	t.Helper()
	if (redisLobbies.Load() || os.Getenv("TICKWIRE_TEST_STORE") == "redis") && (cfg == nil || cfg.Store == nil) {
		cfg = onRedis(t, cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	return srv, hs.URL
}

func newNetcodeServer(t testing.TB) *netcode.Server {
	t.Helper()
	ns, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("netcode.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// guest dials the lobby as a fresh guest.
func guest(t testing.TB, ctx context.Context, url, name string) *Client {
	t.Helper()
	tok, err := GuestToken(ctx, url, name)
	if err != nil {
		t.Fatalf("GuestToken: %v", err)
	}
	c, err := Dial(ctx, url, tok, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeClock is an injectable clock for Config.Now and GuestsConfig.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// attach runs an in-process game server on a loopback netcode server.
func attach(t testing.TB, srv *Server, capacity int) *GameServer {
	t.Helper()
	gs, err := srv.AttachGameServer(ctxTimeout(t, 10*time.Second), newNetcodeServer(t), &GameServerConfig{Capacity: capacity})
	if err != nil {
		t.Fatalf("AttachGameServer: %v", err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	return gs
}

// nextNotice returns the next notice of type typ, skipping others.
func nextNotice(t testing.TB, c *Client, typ string) Notice {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n := <-c.Notices():
			if n.Type == typ {
				return n
			}
		case <-timeout:
			t.Fatalf("no %q notice within 10s", typ)
		}
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var le *Error
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("got error %v, want code %q", err, code)
	}
}

// onRedis puts cfg's lobby on a RedisStore of its own.
func onRedis(t testing.TB, cfg *Config) *Config {
	t.Helper()
	r := startRedis(t)
	st, err := NewRedisStore(context.Background(), RedisConfig{URL: r.URL(), NodeTTL: time.Second})
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c.Store = st
	switch a := c.Auth.(type) {
	case nil:
		if c.Auth, err = NewGuests(&GuestsConfig{Secret: []byte("redis-test-secret-0123456789"), Nonces: st}); err != nil {
			t.Fatal(err)
		}
	case *Guests:
		a.used = st
	}
	return &c
}

// redisLobbies puts the lobbies of testLobby on Redis (TestProtocolOnRedis).
var redisLobbies atomic.Bool
