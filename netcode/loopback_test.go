//go:build !js

package netcode

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pion/transport/v5/stdnet"
)

// TestLoopbackLast checks the order loopbackLast lists the machine's
// interfaces in: the same ones as the machine's, each loopback after every
// other, the rest in the machine's order.
func TestLoopbackLast(t *testing.T) {
	machine, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := machine.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var others, loopbacks []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			loopbacks = append(loopbacks, i.Name)
		} else {
			others = append(others, i.Name)
		}
	}
	n, err := newLoopbackLast()
	if err != nil {
		t.Fatal(err)
	}
	ifs, err = n.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range ifs {
		got = append(got, i.Name)
	}
	if want := append(others, loopbacks...); !slices.Equal(got, want) {
		t.Errorf("interfaces in the order %v, want %v", got, want)
	}
}

// TestClientGathersLoopbackLast checks the order a client's UDP host
// candidates come in, which is the order pion forms their pairs in:
// loopback after every other interface's (loopback.go says why it
// matters).
func TestClientGathersLoopbackLast(t *testing.T) {
	srv := newTestServer(t, nil)
	var mu sync.Mutex
	var hosts []netip.Addr
	sig := func(s Signaler) Signaler {
		return &recordingSignaler{Signaler: s, after: func(s Signal) {
			if s.Type != SignalCandidate || s.Candidate == nil {
				return
			}
			// candidate:<foundation> <component> <protocol> <priority> <address> <port> typ <type> ...
			f := strings.Fields(s.Candidate.Candidate)
			if len(f) < 8 || !strings.EqualFold(f[2], "udp") || f[7] != "host" {
				return
			}
			if a, err := netip.ParseAddr(f[4]); err == nil {
				mu.Lock()
				hosts = append(hosts, a)
				mu.Unlock()
			}
		}}
	}
	connectWrapped(t, srv, nil, sig)
	mu.Lock()
	defer mu.Unlock()
	first := slices.IndexFunc(hosts, netip.Addr.IsLoopback)
	if first < 0 {
		t.Fatalf("no loopback host candidate among %v", hosts)
	}
	if !slices.ContainsFunc(hosts, func(a netip.Addr) bool { return !a.IsLoopback() }) {
		t.Skipf("only loopback host candidates (%v): this machine has no other interface to order them against", hosts)
	}
	for _, a := range hosts[first:] {
		if !a.IsLoopback() {
			t.Fatalf("host candidates in the order %v: loopback before %v", hosts, a)
		}
	}
}
