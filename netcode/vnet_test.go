//go:build !js

package netcode

import (
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// lossyNet is a virtual LAN with one server and one client host, a fixed
// one-way delay, and a random, seeded loss that tests switch on once the
// connection is up (so that handshake retransmission timers, up to seconds,
// do not slow the tests down).
type lossyNet struct {
	server, client *Config
	mu             sync.Mutex
	rng            *rand.Rand
	loss           float64
	dropped, total atomic.Uint64
	toClient       atomic.Uint64 // dropped packets from the server to the client
}

func newLossyNet(t testing.TB, delay time.Duration, seed int64) *lossyNet {
	t.Helper()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: delay, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	serverNet, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	clientNet, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*vnet.Net{serverNet, clientNet} {
		if err := router.AddNet(n); err != nil {
			t.Fatal(err)
		}
	}
	ln := &lossyNet{
		server: &Config{Net: serverNet, UDPAddr: "10.0.0.1:7000"},
		client: &Config{Net: clientNet},
		rng:    rand.New(rand.NewSource(seed)),
	}
	router.AddChunkFilter(ln.filter)
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	return ln
}

func (ln *lossyNet) filter(c vnet.Chunk) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.loss == 0 {
		return true
	}
	ln.total.Add(1)
	if ln.rng.Float64() < ln.loss {
		ln.dropped.Add(1)
		if a, ok := c.SourceAddr().(*net.UDPAddr); ok && a.IP.Equal(net.IPv4(10, 0, 0, 1)) {
			ln.toClient.Add(1)
		}
		return false
	}
	return true
}

// setLoss drops the fraction p of packets, in each direction independently.
func (ln *lossyNet) setLoss(p float64) {
	ln.mu.Lock()
	ln.loss = p
	ln.mu.Unlock()
}
