//go:build !js

package netcode

import (
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v5/vnet"
	"github.com/tickwire/tickwire/internal/vnetpair"
)

// lossyNet is a virtual LAN with one server and one client host, a fixed
// one-way delay, and a random, seeded loss that tests switch on once the
// connection is up (so that handshake retransmission timers, up to seconds,
// do not slow the tests down).
type lossyNet struct {
	server         *ServerConfig
	client         *ClientConfig
	mu             sync.Mutex
	rng            *rand.Rand
	loss           float64
	dropped, total atomic.Uint64
	toClient       atomic.Uint64 // dropped packets from the server to the client
}

func newLossyNet(t testing.TB, delay time.Duration, seed int64) *lossyNet {
	t.Helper()
	return newJitteryNet(t, delay, 0, seed)
}

// newJitteryNet is a lossyNet whose router also delays each batch of
// packets by up to jitter more.
func newJitteryNet(t testing.TB, delay, jitter time.Duration, seed int64) *lossyNet {
	t.Helper()
	ln := &lossyNet{rng: rand.New(rand.NewSource(seed))}
	serverNet, clientNet, stop, err := vnetpair.NewJitter(delay, jitter, ln.filter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	ln.server = vnetServerConfig(serverNet)
	ln.client = vnetClientConfig(clientNet)
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
		if a, ok := c.SourceAddr().(*net.UDPAddr); ok && a.IP.String() == vnetpair.ServerIP {
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
