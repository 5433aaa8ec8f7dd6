//go:build !js

package flood

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func TestKinds(t *testing.T) {
	g := &gen{rng: newRand(1)}
	buf := make([]byte, 512)
	for _, tt := range []struct {
		kind  Kind
		check func([]byte) bool
	}{
		{STUN, func(b []byte) bool {
			m := &stun.Message{Raw: append([]byte(nil), b...)}
			if m.Decode() != nil || m.Type != stun.BindingRequest {
				return false
			}
			u, err := m.Get(stun.AttrUsername)
			return err == nil && len(u) == 17 && u[8] == ':'
		}},
		{ClientHello, func(b []byte) bool { return b[0] == 22 && b[13] == 1 && int(b[11])<<8|int(b[12]) == len(b)-13 }},
		{Random, func(b []byte) bool { return len(b) >= 20 && len(b) <= 200 }},
	} {
		g.kind = tt.kind
		for range 100 {
			if b := g.next(buf); !tt.check(b) {
				t.Fatalf("kind %d: bad packet %x", tt.kind, b)
			}
		}
	}
}

func TestRun(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	got := make(chan int)
	go func() {
		n := 0
		buf := make([]byte, 2048)
		for {
			if _, _, err := rx.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sent, err := Run(ctx, Config{Target: rx.LocalAddr().(*net.UDPAddr).AddrPort(), Rate: 10000, Sources: 4})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_ = rx.Close()
	n := <-got
	if sent < 2000 || sent > 6000 || n == 0 {
		t.Fatalf("500 ms at 10,000/s: sent %d, received %d", sent, n)
	}

	if _, err := Run(ctx, Config{Target: netip.MustParseAddrPort("192.168.1.1:9"), Rate: 1}); err == nil {
		t.Fatal("flood toward a private address started")
	}
}
