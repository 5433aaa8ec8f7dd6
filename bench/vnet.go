package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5/vnet"
)

// lab is a virtual LAN on pion's vnet. Each transport measured gets its own
// link, a pair of hosts, so that one router applies the same delay to all of
// them while its filter counts each link's packets and drops them with the
// link's own seeded random source: one transport's traffic then does not
// change which of another's packets are lost.
type lab struct {
	router *vnet.Router
	links  []*labLink

	mu     sync.Mutex
	active bool // loss applied and packets counted
	loss   float64
	byIP   map[string]*labLink
}

// labLink is one transport's pair of hosts.
type labLink struct {
	server, client     *vnet.Net
	serverIP, clientIP string
	// inspect, when set before the lab starts, sees each packet the link
	// counts, dropped or not, under lab.mu: bench sctp sorts them by kind.
	inspect func(payload []byte, fromServer, dropped bool)

	// Guarded by lab.mu.
	rng              *rand.Rand
	packets, dropped uint64
	fromClient       uint64 // of packets: those the client sent
}

// newLab builds a started router with n links. Delay is one-way, applied by
// the router to every packet; jitter is pion's: the router pauses up to that
// long, at random, before each batch it forwards (not seeded).
func newLab(n int, delay, jitter time.Duration, seed int64) (_ *lab, err error) {
	router, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR:      "10.0.0.0/24",
		MinDelay:  delay,
		MaxJitter: jitter,
		// vnet.NewRouter panics without a LoggerFactory.
		LoggerFactory: quietLogs(),
	})
	if err != nil {
		return nil, fmt.Errorf("vnet router: %w", err)
	}
	l := &lab{router: router, byIP: make(map[string]*labLink)}
	for i := range n {
		serverIP, clientIP := fmt.Sprintf("10.0.0.%d", 2*i+1), fmt.Sprintf("10.0.0.%d", 2*i+2)
		link := &labLink{serverIP: serverIP, clientIP: clientIP, rng: rand.New(rand.NewPCG(uint64(seed), uint64(i)))}
		if link.server, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{serverIP}}); err != nil {
			return nil, fmt.Errorf("vnet host: %w", err)
		}
		if link.client, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{clientIP}}); err != nil {
			return nil, fmt.Errorf("vnet host: %w", err)
		}
		for _, h := range []*vnet.Net{link.server, link.client} {
			if err := router.AddNet(h); err != nil {
				return nil, fmt.Errorf("vnet add host: %w", err)
			}
		}
		l.byIP[serverIP], l.byIP[clientIP] = link, link
		l.links = append(l.links, link)
	}
	router.AddChunkFilter(l.filter)
	if err := router.Start(); err != nil {
		return nil, fmt.Errorf("vnet start: %w", err)
	}
	return l, nil
}

// filter sees every packet as the router forwards it, after the delay.
func (l *lab) filter(c vnet.Chunk) bool {
	if c.Network() != "udp" {
		return true
	}
	src, ok := c.SourceAddr().(*net.UDPAddr)
	if !ok {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	link := l.byIP[src.IP.String()]
	if !l.active || link == nil {
		return true
	}
	link.packets++
	if src.IP.String() == link.clientIP {
		link.fromClient++
	}
	drop := l.loss > 0 && link.rng.Float64() < l.loss
	if drop {
		link.dropped++
	}
	if link.inspect != nil {
		link.inspect(c.UserData(), src.IP.String() == link.serverIP, drop)
	}
	return !drop
}

// start applies loss, independently to each packet in each direction, and
// starts counting. Connections come up before it, so that handshake
// retransmission timers (up to seconds) do not slow every run down.
func (l *lab) start(loss float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active, l.loss = true, loss
}

// stop freezes the counts and lifts the loss, so that teardown is quick.
func (l *lab) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active, l.loss = false, 0
}

// packets returns how many packets link put on the wire while active.
func (l *lab) packets(link *labLink) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return link.packets
}

// clientPackets returns how many of those packets link's client sent.
func (l *lab) clientPackets(link *labLink) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return link.fromClient
}

func (l *lab) close() error {
	if err := l.router.Stop(); err != nil {
		return fmt.Errorf("vnet stop: %w", err)
	}
	return nil
}
