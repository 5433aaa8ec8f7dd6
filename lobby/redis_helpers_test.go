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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tickwire/tickwire/internal/redistest"
)

// redisServer is a redis-server of the test's own (internal/redistest).
type redisServer = redistest.Server

// startRedis starts a redis-server for t. Without one it fails under
// CI=true and skips elsewhere.
func startRedis(t testing.TB) *redisServer { return redistest.Start(t) }

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
		cfg: cfg, rcfg: RedisConfig{PlayerGrace: 10 * time.Second}}
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
