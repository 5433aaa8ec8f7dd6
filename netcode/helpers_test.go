//go:build !js

package netcode

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pion/transport/v5"
	"github.com/tickwire/tickwire/internal/vnetpair"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(floodEnv) != "" {
		// A flooder process started by a hostile test (hostile_test.go).
		os.Exit(runFlooder(os.Getenv(floodEnv)))
	}
	goleak.VerifyTestMain(m)
}

// loopbackConfig keeps a test server on 127.0.0.1.
func loopbackConfig() *ServerConfig {
	return &ServerConfig{UDPAddr: "127.0.0.1:0"}
}

// vnetServerConfig puts a test server on n at vnetpair's server address.
func vnetServerConfig(n transport.Net) *ServerConfig {
	return &ServerConfig{Config: Config{Native: NativeConfig{Net: n}}, UDPAddr: vnetpair.ServerIP + ":7000"}
}

// vnetClientConfig puts a test client on n.
func vnetClientConfig(n transport.Net) *ClientConfig {
	return &ClientConfig{Config: Config{Native: NativeConfig{Net: n}}}
}

func newTestServer(t testing.TB, cfg *ServerConfig) *Server {
	t.Helper()
	if cfg == nil {
		cfg = loopbackConfig()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// newTestPeer is a client peer with the default config and no signaling,
// not started: for tests of its decisions alone.
func newTestPeer(t *testing.T) *peer {
	t.Helper()
	cfg, err := (&ClientConfig{}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	return newPeer(cfg, roleClient, nil, nil)
}

// connect dials srv over an in-memory signal pipe and returns both ends.
func connect(t testing.TB, srv *Server, cfg *ClientConfig) (*Client, *Session) {
	t.Helper()
	return connectWrapped(t, srv, cfg, nil)
}

// connectWrapped is connect with the client's end of the pipe wrapped.
func connectWrapped(t testing.TB, srv *Server, cfg *ClientConfig, wrap func(Signaler) Signaler) (*Client, *Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	csig, ssig := SignalPipe()
	if wrap != nil {
		csig = wrap(csig)
	}
	type result struct {
		s   *Session
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		s, err := srv.Accept(ctx, ssig)
		accepted <- result{s, err}
	}()
	c, err := Dial(ctx, csig, cfg)
	r := <-accepted
	if err != nil || r.err != nil {
		if c != nil {
			_ = c.Close()
		}
		if r.s != nil {
			_ = r.s.Close("")
		}
		t.Fatalf("connect: dial: %v, accept: %v", err, r.err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, r.s
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
