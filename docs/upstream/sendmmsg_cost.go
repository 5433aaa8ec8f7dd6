//go:build ignore

// Command sendmmsg_cost measures what one 250-byte UDP datagram costs its
// sender on loopback, sent alone (sendto, as pion's write path sends every
// packet) and in batches of 64 (sendmmsg, through golang.org/x/net), to 64
// receiving sockets read by goroutines of their own. README.md section 7
// uses it to bound what batched writes could save a Tickwire server. Run it
// as go run ./docs/upstream/sendmmsg_cost.go.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/ipv4"
)

const size, batch = 250, 64

func main() {
	rounds := flag.Int("rounds", 3, "measurements of each")
	flag.Parse()
	s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var dst []netip.AddrPort
	for range batch {
		r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			log.Fatal(err)
		}
		defer r.Close()
		_ = r.SetReadBuffer(8 << 20)
		dst = append(dst, r.LocalAddr().(*net.UDPAddr).AddrPort())
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := r.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	msg := make([]byte, size)
	pc := ipv4.NewPacketConn(s)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i] = ipv4.Message{Buffers: [][]byte{msg}, Addr: net.UDPAddrFromAddrPort(dst[i])}
	}
	sendto := func(b *testing.B) {
		for i := range b.N {
			if _, err := s.WriteToUDPAddrPort(msg, dst[i%batch]); err != nil {
				b.Fatal(err)
			}
		}
	}
	sendmmsg := func(b *testing.B) {
		for i := 0; i < b.N; i += batch {
			if _, err := pc.WriteBatch(ms, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	for range *rounds {
		one := testing.Benchmark(sendto)
		many := testing.Benchmark(sendmmsg)
		fmt.Printf("per datagram: sendto %d ns, sendmmsg of %d %d ns (%.2fx)\n",
			one.NsPerOp(), batch, many.NsPerOp(), float64(many.NsPerOp())/float64(one.NsPerOp()))
	}
}
