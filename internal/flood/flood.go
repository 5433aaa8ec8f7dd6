//go:build !js

// Package flood sends what an attacker without credentials can send at a
// game server's UDP port: random datagrams, STUN binding requests with
// random usernames, and DTLS ClientHellos, from many source ports, at a
// paced rate. The hostile-client tests and `go run ./bench flood` use it,
// always toward an address on this machine.
package flood

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
)

// Kind is what a flood is made of.
type Kind int

const (
	Mixed       Kind = iota // a third of each kind below, interleaved
	Random                  // random bytes, 20-200 of them
	STUN                    // binding requests with random usernames
	ClientHello             // DTLS 1.2 ClientHello records
)

// Config describes one flood.
type Config struct {
	// Target is where the packets go: a loopback address, or one in a
	// namespace the caller made.
	Target netip.AddrPort
	// Rate is packets per second.
	Rate int
	// Sources is how many source ports the packets come from (64 by
	// default), each its own socket.
	Sources int
	Kind    Kind
	// Seed makes the packets repeatable (0: random).
	Seed uint64
}

// batch is how many packets one sendmmsg carries.
const batch = 64

// Run floods until ctx ends and returns how many packets it sent.
func Run(ctx context.Context, cfg Config) (uint64, error) {
	if !cfg.Target.IsValid() || cfg.Rate <= 0 {
		return 0, errors.New("flood: need a target and a positive rate")
	}
	if !cfg.Target.Addr().IsLoopback() && !inTestNet(cfg.Target.Addr()) {
		// Floods stay on this machine: loopback, or the TEST-NET addresses
		// of network namespaces a test made.
		return 0, fmt.Errorf("flood: %v is neither loopback nor TEST-NET: refusing", cfg.Target)
	}
	if cfg.Sources <= 0 {
		cfg.Sources = 64
	}
	network, laddr := "udp4", &net.UDPAddr{IP: net.IPv4zero}
	if cfg.Target.Addr().Is6() {
		network, laddr = "udp6", &net.UDPAddr{IP: net.IPv6unspecified}
	}
	var socks []*ipv4.PacketConn
	defer func() {
		for _, s := range socks {
			_ = s.Close()
		}
	}()
	for range cfg.Sources {
		c, err := net.ListenUDP(network, laddr)
		if err != nil {
			return 0, fmt.Errorf("flood: %w", err)
		}
		socks = append(socks, ipv4.NewPacketConn(c))
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	g := &gen{rng: newRand(seed), kind: cfg.Kind}
	dst := net.UDPAddrFromAddrPort(cfg.Target)
	msgs := make([]ipv4.Message, batch)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 512)
	}

	// Pace in ticks of 1 ms, or longer at low rates, sending what is due.
	tick := time.Millisecond
	if cfg.Rate < 1000 {
		tick = time.Second / time.Duration(cfg.Rate)
	}
	start := time.Now()
	var sent uint64
	t := time.NewTicker(tick)
	defer t.Stop()
	for n := 0; ; n++ {
		due := uint64(time.Since(start).Seconds() * float64(cfg.Rate))
		for sent < due {
			k := min(int(due-sent), batch)
			for i := range k {
				msgs[i] = ipv4.Message{Buffers: [][]byte{g.next(bufs[i])}, Addr: dst}
			}
			s := socks[n%len(socks)]
			w, err := s.WriteBatch(msgs[:k], 0)
			if err != nil && w == 0 {
				// A full socket buffer: the packet is lost, as it would be
				// on a link. Count it as sent and carry on.
				w = k
			}
			sent += uint64(w)
			n++
		}
		select {
		case <-ctx.Done():
			return sent, nil
		case <-t.C:
		}
	}
}

func inTestNet(a netip.Addr) bool {
	for _, p := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		if netip.MustParsePrefix(p).Contains(a) {
			return true
		}
	}
	return false
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

type gen struct {
	rng  *rand.Rand
	kind Kind
	n    int
}

// next fills buf with the next packet and returns it.
func (g *gen) next(buf []byte) []byte {
	k := g.kind
	if k == Mixed {
		k = Kind(1 + g.n%3)
	}
	g.n++
	switch k {
	case STUN:
		return g.stun(buf)
	case ClientHello:
		return g.clientHello(buf)
	}
	n := 20 + g.rng.IntN(181)
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], g.rng.Uint64())
	}
	return buf[:n]
}

// stun is a binding request whose USERNAME names no session: "rand:rand".
func (g *gen) stun(buf []byte) []byte {
	const user = 8 + 1 + 8
	b := buf[:20+4+20]
	binary.BigEndian.PutUint16(b[0:], 0x0001)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)-20))
	binary.BigEndian.PutUint32(b[4:], 0x2112A442)
	for i := 8; i < 20; i += 4 {
		binary.BigEndian.PutUint32(b[i:], g.rng.Uint32())
	}
	binary.BigEndian.PutUint16(b[20:], 0x0006)
	binary.BigEndian.PutUint16(b[22:], user)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	for i := range user {
		b[24+i] = letters[g.rng.IntN(len(letters))]
	}
	b[24+8] = ':'
	b[24+user], b[24+user+1], b[24+user+2] = 0, 0, 0 // padding
	return b
}

// clientHello is a DTLS 1.2 record carrying a ClientHello of about 150
// bytes with a random client random: what opens every WebRTC handshake.
func (g *gen) clientHello(buf []byte) []byte {
	const body = 12 + 2 + 32 + 1 + 1 + 2 + 8 + 1 + 1 + 2 + 80
	b := buf[:13+body]
	b[0], b[1], b[2] = 22, 0xfe, 0xfd // handshake, DTLS 1.2
	binary.BigEndian.PutUint16(b[3:], 0)
	binary.BigEndian.PutUint32(b[5:], 0)
	binary.BigEndian.PutUint16(b[9:], uint16(g.n))
	binary.BigEndian.PutUint16(b[11:], body)
	h := b[13:]
	h[0] = 1 // client_hello
	putUint24(h[1:], body-12)
	binary.BigEndian.PutUint16(h[4:], 0) // message_seq
	putUint24(h[6:], 0)                  // fragment_offset
	putUint24(h[9:], body-12)            // fragment_length
	p := h[12:]
	p[0], p[1] = 0xfe, 0xfd
	for i := 2; i < 34; i += 4 {
		binary.BigEndian.PutUint32(p[i:], g.rng.Uint32())
	}
	p[34] = 0 // session id
	p[35] = 0 // cookie
	binary.BigEndian.PutUint16(p[36:], 8)
	for i, cs := range []uint16{0xc02b, 0xc02f, 0xc00a, 0xc014} {
		binary.BigEndian.PutUint16(p[38+2*i:], cs)
	}
	p[46], p[47] = 1, 0 // null compression
	binary.BigEndian.PutUint16(p[48:], 80)
	for i := 50; i < 50+80; i++ {
		p[i] = byte(g.rng.IntN(256))
	}
	return b
}

func putUint24(b []byte, v int) {
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}
