//go:build !js

package lobby

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLobby runs a lobby behind an httptest server and returns its URL.
func testLobby(t testing.TB, cfg *Config) (*Server, string) {
	t.Helper()
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
	ns, err := netcode.NewServer(&netcode.Config{UDPAddr: "127.0.0.1:0"})
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
