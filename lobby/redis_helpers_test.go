//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process of a test's own, on a Unix socket
// in the test's temporary directory, with no persistence: stopping it
// loses everything, as a Redis without AOF or RDB does.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	sock string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis starts a redis-server for t. Without one it fails under
// CI=true and skips elsewhere.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is missing: apt-get install -y redis-server")
		}
		t.Skip("needs redis-server: apt-get install -y redis-server")
	}
	// A Unix socket path must fit in 108 bytes: t.TempDir's can be longer.
	dir, err := os.MkdirTemp("", "twredis")
	if err != nil {
		t.Fatal(err)
	}
	r := &redisServer{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "redis.sock")}
	t.Cleanup(func() {
		r.Stop()
		_ = os.RemoveAll(dir)
	})
	r.Start()
	return r
}

// URL is the go-redis URL of the server.
func (r *redisServer) URL() string { return "unix://" + r.sock }

// Start starts the server (again, after Stop) and waits until it answers.
func (r *redisServer) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	_ = os.Remove(r.sock)
	cmd := exec.Command(r.bin, "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if os.Getenv("TICKWIRE_REDIS_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(r.done)
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer within 10s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server, as a crash would: everything it held is gone.
func (r *redisServer) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.cmd = nil
}

// testNode is one lobby node of a cluster test: a Server on its own
// RedisStore, behind an HTTP server whose connections it can drop.
type testNode struct {
	srv   *Server
	store *RedisStore
	url   string
	hs    *httptest.Server
	ln    *trackListener
}

// clusterOpts make the nodes of one test lobby.
type clusterOpts struct {
	redis  *redisServer
	prefix string
	secret []byte
	cfg    Config // Store and Auth are filled in
	rcfg   RedisConfig
}

func newClusterOpts(t testing.TB, r *redisServer, cfg Config) *clusterOpts {
	return &clusterOpts{redis: r, prefix: fmt.Sprintf("t%d", time.Now().UnixNano()), secret: []byte("cluster-test-secret-0123456789"),
		cfg: cfg, rcfg: RedisConfig{NodeTTL: time.Second, PlayerGrace: 10 * time.Second}}
}

// node starts one more lobby node.
func (o *clusterOpts) node(t testing.TB) *testNode {
	t.Helper()
	rc := o.rcfg
	rc.URL, rc.Prefix = o.redis.URL(), o.prefix
	st, err := NewRedisStore(context.Background(), rc)
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	g, err := NewGuests(&GuestsConfig{Secret: o.secret, Nonces: st})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.Store, cfg.Auth = st, g
	if cfg.Logger == nil && os.Getenv("TICKWIRE_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := NewServer(&cfg)
	if err != nil {
		_ = st.Close()
		t.Fatalf("NewServer: %v", err)
	}
	ln := &trackListener{}
	hs := httptest.NewUnstartedServer(srv)
	ln.Listener = hs.Listener
	hs.Listener = ln
	hs.Start()
	n := &testNode{srv: srv, store: st, url: hs.URL, hs: hs, ln: ln}
	t.Cleanup(n.close)
	return n
}

func (n *testNode) close() {
	_ = n.srv.Close()
	n.hs.Close()
	_ = n.store.Close()
}

// kill makes the node die as a crashed process would: its connections
// drop without a word, it stops heartbeating, and nothing it did not finish
// is finished.
func (n *testNode) kill() {
	if nd, ok := n.srv.eng.(*node); ok {
		nd.crash()
	}
	n.ln.closeAll()
	n.hs.Close()
	_ = n.srv.Close()
}

// follow keeps the node from taking matchmaker and janitor leases, or lets
// it again.
func (n *testNode) follow(on bool) { n.srv.eng.(*node).follower.Store(on) }

// leads says whether the node holds the matchmaker lease of a bucket.
func (n *testNode) leads(t testing.TB, mode, region string) bool {
	return n.holds(t, n.store.key("mm", bucketKey(mode, region)))
}

// janitor says whether the node holds the janitor's lease.
func (n *testNode) janitor(t testing.TB) bool { return n.holds(t, n.store.key("janitor")) }

func (n *testNode) holds(t testing.TB, key string) bool {
	v, err := n.store.rdb.Get(context.Background(), key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("GET %s: %v", key, err)
	}
	id := n.srv.eng.(*node).id
	return v == id || strings.HasPrefix(v, id+" ")
}

// trackListener remembers its connections, to drop them all at once.
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackListener) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// guestAt dials the lobby at url as a fresh guest, with the other nodes to
// redial.
func guestAt(t testing.TB, ctx context.Context, url, name string, others []string) *Client {
	t.Helper()
	tok, err := GuestToken(ctx, url, name)
	if err != nil {
		t.Fatalf("GuestToken: %v", err)
	}
	c, err := Dial(ctx, url, tok, &ClientConfig{Lobbies: others})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var _ http.Handler = (*Server)(nil)
