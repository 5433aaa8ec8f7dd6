//go:build !js

package icemux

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5/stdnet"
	"github.com/tickwire/tickwire/internal/stuntest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// plainConn hides *net.UDPConn, so the mux reads one datagram at a time
// as it does on a virtual network.
type plainConn struct{ net.PacketConn }

// readers are the two read paths every behaviour test runs on.
var readers = []struct {
	name string
	wrap func(*net.UDPConn) net.PacketConn
}{
	{"batched", func(c *net.UDPConn) net.PacketConn { return c }},
	{"one by one", func(c *net.UDPConn) net.PacketConn { return plainConn{c} }},
}

func forEachReader(t *testing.T, f func(t *testing.T, wrap func(*net.UDPConn) net.PacketConn)) {
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) { f(t, r.wrap) })
	}
}

func newMux(t *testing.T, wrap func(*net.UDPConn) net.PacketConn, cfg Config) *Mux {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Conns = []net.PacketConn{wrap(uc)}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// peer is a remote socket on loopback.
func peer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrPort(c net.PacketConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func bindingRequest(t testing.TB, username string) *stun.Message {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(username), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func bindingSuccess(t testing.TB, id [12]byte) []byte {
	t.Helper()
	m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.BindingSuccess, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

func send(t *testing.T, from *net.UDPConn, to *Mux, b []byte) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort(b, to.local.AddrPort()); err != nil {
		t.Fatal(err)
	}
}

// read returns the next packet on c, or fails after a while.
func read(t *testing.T, c net.PacketConn) ([]byte, netip.AddrPort) {
	t.Helper()
	type res struct {
		b    []byte
		from netip.AddrPort
		err  error
	}
	got := make(chan res, 1)
	go func() {
		buf := make([]byte, MaxPacket)
		n, from, err := c.(*handle).ReadFromAddrPort(buf)
		got <- res{buf[:n], from, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("read: %v", r.err)
		}
		return r.b, r.from
	case <-time.After(5 * time.Second):
		t.Fatal("no packet within 5 s")
	}
	return nil, netip.AddrPort{}
}

// waitStats polls until cond holds on the mux's counters.
func waitStats(t *testing.T, m *Mux, what string, cond func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := m.Stats()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// getConn is the IPv4 connection of ufrag's agent.
func getConn(t *testing.T, m *Mux, ufrag string) net.PacketConn {
	t.Helper()
	c, err := m.GetConn(ufrag, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: m.local.Port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRouting(t *testing.T) {
	forEachReader(t, func(t *testing.T, wrap func(*net.UDPConn) net.PacketConn) {
		m := newMux(t, wrap, Config{})
		a, b := getConn(t, m, "ufragA"), getConn(t, m, "ufragB")
		pa, pb, stranger := peer(t), peer(t), peer(t)

		// A check names its agent; later packets from that address follow.
		req := bindingRequest(t, "ufragA:remote")
		send(t, pa, m, req.Raw)
		got, from := read(t, a)
		if !bytes.Equal(got, req.Raw) || from != addrPort(pa) {
			t.Fatalf("agent A got %d bytes from %v, want the check from %v", len(got), from, addrPort(pa))
		}
		send(t, pa, m, []byte{23, 254, 253, 1, 2, 3}) // DTLS-looking
		if got, _ := read(t, a); got[0] != 23 {
			t.Fatalf("agent A got %x, want the DTLS record", got)
		}
		send(t, pb, m, bindingRequest(t, "ufragB:remote").Raw)
		if _, from := read(t, b); from != addrPort(pb) {
			t.Fatalf("agent B's check came from %v", from)
		}

		// Neither a known address nor a known ufrag: dropped unread.
		before := m.Stats().Unknown
		send(t, stranger, m, []byte("garbage"))
		send(t, stranger, m, bindingRequest(t, "nobody:remote").Raw)
		send(t, stranger, m, []byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // a ClientHello's header
		waitStats(t, m, "three unknown packets", func(s Stats) bool { return s.Unknown == before+3 })

		// A check for B from A's address moves the address to B (an ICE
		// restart from behind the same NAT mapping).
		send(t, pa, m, bindingRequest(t, "ufragB:remote2").Raw)
		if _, from := read(t, b); from != addrPort(pa) {
			t.Fatalf("the moved address's check came from %v", from)
		}
		send(t, pa, m, []byte{23, 1})
		if got, _ := read(t, b); !bytes.Equal(got, []byte{23, 1}) {
			t.Fatalf("after the move agent B got %x", got)
		}
	})
}

func TestMaxLearnt(t *testing.T) {
	forEachReader(t, func(t *testing.T, wrap func(*net.UDPConn) net.PacketConn) {
		const max, extra = 3, 4
		m := newMux(t, wrap, Config{MaxLearnt: max})
		a := getConn(t, m, "A")
		var peers []*net.UDPConn
		for range max + extra {
			p := peer(t)
			peers = append(peers, p)
			send(t, p, m, bindingRequest(t, "A:x").Raw)
		}
		waitStats(t, m, "every check handled", func(s Stats) bool { return s.Delivered+s.OverLearnt == max+extra })
		if st := m.Stats(); st.OverLearnt != extra {
			t.Fatalf("OverLearnt %d, want %d", st.OverLearnt, extra)
		}
		seen := map[netip.AddrPort]bool{}
		for range max {
			_, from := read(t, a)
			seen[from] = true
		}
		for i, p := range peers {
			if seen[addrPort(p)] != (i < max) {
				t.Fatalf("peer %d delivered: %v; only the first %d should be", i, seen[addrPort(p)], max)
			}
		}
		// A learnt address keeps working; a refused one stays refused.
		send(t, peers[0], m, []byte{23, 9})
		if got, _ := read(t, a); !bytes.Equal(got, []byte{23, 9}) {
			t.Fatalf("got %x", got)
		}
		before := m.Stats().Unknown
		send(t, peers[max], m, []byte{23, 9})
		waitStats(t, m, "the refused address's packet dropped", func(s Stats) bool { return s.Unknown == before+1 })
	})
}

// countingPeer counts the datagrams a socket receives.
type countingPeer struct {
	c    *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
	done chan struct{}
}

func newCountingPeer(t *testing.T) *countingPeer {
	p := &countingPeer{c: peer(t), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, MaxPacket)
		for {
			n, _, err := p.c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.got = append(p.got, append([]byte(nil), buf[:n]...))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = p.c.Close(); <-p.done })
	return p
}

func (p *countingPeer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

func TestUnansweredBudget(t *testing.T) {
	forEachReader(t, func(t *testing.T, wrap func(*net.UDPConn) net.PacketConn) {
		const budget = 3
		m := newMux(t, wrap, Config{Unanswered: budget})
		a := getConn(t, m, "A").(*handle)
		victim := newCountingPeer(t)

		// Checks to an address that never answers: budget of them leave.
		var checks []*stun.Message
		for range 10 {
			req := bindingRequest(t, "remote:A")
			checks = append(checks, req)
			if n, err := a.WriteToAddrPort(req.Raw, addrPort(victim.c)); err != nil || n != len(req.Raw) {
				t.Fatalf("write: %d, %v", n, err)
			}
		}
		waitStats(t, m, "writes counted", func(s Stats) bool { return s.Written == budget && s.Suppressed == 10-budget })
		time.Sleep(50 * time.Millisecond)
		if n := victim.count(); n != budget {
			t.Fatalf("the silent address received %d packets, want %d", n, budget)
		}

		// A forged answer (a transaction we never sent) changes nothing.
		var forged [12]byte
		forged[0] = 1
		send(t, victim.c, m, bindingSuccess(t, forged))
		read(t, a) // delivered to the agent all the same, which ignores it
		_, _ = a.WriteToAddrPort([]byte{23, 0}, addrPort(victim.c))
		waitStats(t, m, "still suppressed", func(s Stats) bool { return s.Suppressed == 10-budget+1 })

		// Answers to its own checks always go, and each check it sends
		// earns one packet more, no more.
		req := bindingRequest(t, "A:remote")
		send(t, victim.c, m, req.Raw)
		read(t, a)
		if _, err := a.WriteToAddrPort(bindingSuccess(t, req.TransactionID), addrPort(victim.c)); err != nil {
			t.Fatal(err)
		}
		_, _ = a.WriteToAddrPort(bindingRequest(t, "remote:A").Raw, addrPort(victim.c))
		_, _ = a.WriteToAddrPort(bindingRequest(t, "remote:A").Raw, addrPort(victim.c))
		waitStats(t, m, "the answer and one check written, one suppressed", func(s Stats) bool {
			return s.Written == budget+2 && s.Suppressed == 10-budget+2
		})

		// A real answer to one of the checks that left opens the address.
		send(t, victim.c, m, bindingSuccess(t, checks[budget-1].TransactionID))
		read(t, a)
		for range 20 {
			_, _ = a.WriteToAddrPort([]byte{23, 1}, addrPort(victim.c))
		}
		waitStats(t, m, "20 more written", func(s Stats) bool { return s.Written == budget+2+20 })
		deadline := time.Now().Add(5 * time.Second)
		for victim.count() != budget+2+20 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := victim.count(); n != budget+2+20 {
			t.Fatalf("after its answer the address received %d packets in all, want %d", n, budget+2+20)
		}
	})
}

func TestMaxNamed(t *testing.T) {
	m := newMux(t, readers[0].wrap, Config{MaxNamed: 2})
	a := getConn(t, m, "A").(*handle)
	var ps []*countingPeer
	for range 4 {
		p := newCountingPeer(t)
		ps = append(ps, p)
		_, _ = a.WriteToAddrPort([]byte{0}, addrPort(p.c))
	}
	waitStats(t, m, "writes", func(s Stats) bool { return s.Written == 2 && s.Suppressed == 2 })
	// A second agent has a budget of its own.
	b := getConn(t, m, "B").(*handle)
	q := newCountingPeer(t)
	_, _ = b.WriteToAddrPort([]byte{0}, addrPort(q.c))
	waitStats(t, m, "B's write", func(s Stats) bool { return s.Written == 3 })
}

func TestQueueBound(t *testing.T) {
	const queue = 8
	m := newMux(t, readers[0].wrap, Config{Queue: queue})
	a := getConn(t, m, "A")
	p := peer(t)
	send(t, p, m, bindingRequest(t, "A:x").Raw)
	for i := range 2 * queue {
		send(t, p, m, []byte{23, byte(i)})
	}
	st := waitStats(t, m, "all read", func(s Stats) bool { return s.Delivered+s.QueueFull == 2*queue+1 })
	if st.Delivered != queue || st.QueueFull != queue+1 {
		t.Fatalf("delivered %d, dropped %d; want %d and %d", st.Delivered, st.QueueFull, queue, queue+1)
	}
	// Oldest first.
	if got, _ := read(t, a); got[0] != 0 || got[1] != 1 {
		t.Fatalf("first queued packet %x, want the check", got[:2])
	}
	for i := range queue - 1 {
		if got, _ := read(t, a); got[1] != byte(i) {
			t.Fatalf("packet %d: %x", i, got)
		}
	}
}

func TestClose(t *testing.T) {
	m := newMux(t, readers[0].wrap, Config{})
	readErr := func(c net.PacketConn) chan error {
		ch := make(chan error, 1)
		go func() {
			_, _, err := c.ReadFrom(make([]byte, MaxPacket))
			ch <- err
		}()
		return ch
	}
	wantEOF := func(what string, ch chan error) {
		t.Helper()
		select {
		case err := <-ch:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: read ended with %v, want io.EOF", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: read still blocked", what)
		}
	}

	// Two handles of one agent (two candidates): closing one ends its
	// read only; the agent stays until the last goes.
	h1, _ := m.GetConn("A", m.local)
	h2, _ := m.GetConn("A", m.local)
	r1, r2 := readErr(h1), readErr(h2)
	_ = h1.Close()
	wantEOF("closed handle", r1)
	p := peer(t)
	send(t, p, m, bindingRequest(t, "A:x").Raw)
	waitStats(t, m, "delivered to the open handle", func(s Stats) bool { return s.Delivered == 1 })
	if err := <-r2; err != nil {
		t.Fatalf("open handle: %v", err)
	}
	_ = h2.Close()
	send(t, p, m, []byte{23})
	waitStats(t, m, "agent gone: its address forgotten", func(s Stats) bool { return s.Unknown == 1 })
	if _, err := h2.WriteTo([]byte{1}, p.LocalAddr()); err == nil {
		t.Fatal("write on a closed handle succeeded")
	}

	// RemoveConnByUfrag ends reads; Close ends the rest and GetConn fails.
	h3 := getConn(t, m, "B")
	h4 := getConn(t, m, "C")
	r3, r4 := readErr(h3), readErr(h4)
	m.RemoveConnByUfrag("B")
	wantEOF("removed ufrag", r3)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantEOF("closed mux", r4)
	if _, err := m.GetConn("D", m.local); err == nil {
		t.Fatal("GetConn after Close succeeded")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDualStack(t *testing.T) {
	uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skipf("no dual-stack socket here: %v", err)
	}
	m, err := New(Config{Conns: []net.PacketConn{uc}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// GetConn's address picks the family: an IPv4 peer reaches the agent's
	// IPv4 connection, as a mapped address unmapped.
	v4b := getConn(t, m, "A")
	if _, err := m.GetConn("A", &net.UDPAddr{IP: net.IPv6loopback, Port: m.local.Port}); err != nil {
		t.Fatal(err)
	}
	p := peer(t)
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(m.local.Port))
	if _, err := p.WriteToUDPAddrPort(bindingRequest(t, "A:x").Raw, dst); err != nil {
		t.Fatal(err)
	}
	_, from := read(t, v4b)
	if !from.Addr().Is4() || from != addrPort(p) {
		t.Fatalf("IPv4 peer seen as %v, want %v (unmapped)", from, addrPort(p))
	}
	// Replies reach it through the dual-stack socket.
	if _, err := v4b.(*handle).WriteToAddrPort([]byte{23}, from); err != nil {
		t.Fatal(err)
	}
	_ = p.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	if n, _, err := p.ReadFromUDPAddrPort(buf); err != nil || n != 1 {
		t.Fatalf("reply: %d bytes, %v", n, err)
	}
}

func TestListenAddresses(t *testing.T) {
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	m := newMux(t, readers[0].wrap, Config{Net: n})
	if got := m.GetListenAddresses(); len(got) != 1 || got[0].String() != m.local.String() {
		t.Fatalf("bound to %v: listen addresses %v", m.local, got)
	}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Conns: []net.PacketConn{uc}, Net: n, IncludeLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sawLoopback := false
	for _, a := range w.GetListenAddresses() {
		ua := a.(*net.UDPAddr)
		if ua.IP.To4() == nil || ua.Port != w.local.Port || ua.IP.IsUnspecified() {
			t.Fatalf("wildcard udp4 socket lists %v", ua)
		}
		sawLoopback = sawLoopback || ua.IP.IsLoopback()
	}
	if !sawLoopback {
		t.Fatal("IncludeLoopback: no loopback address listed")
	}
}

// stunServer runs a STUN server (stuntest) for the test: it answers with
// mapped, or with the address it saw when mapped is the zero AddrPort.
func stunServer(t *testing.T, mapped netip.AddrPort) netip.AddrPort {
	t.Helper()
	s, err := stuntest.New(mapped)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

func TestDiscover(t *testing.T) {
	forEachReader(t, func(t *testing.T, wrap func(*net.UDPConn) net.PacketConn) {
		m := newMux(t, wrap, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := m.Discover(ctx, stunServer(t, netip.AddrPort{}))
		if err != nil || got != m.local.AddrPort() {
			t.Fatalf("Discover: %v, %v; want the mux's own address %v", got, err, m.local)
		}
		public := netip.MustParseAddrPort("203.0.113.7:7777")
		if got, err := m.Discover(ctx, stunServer(t, public)); err != nil || got != public {
			t.Fatalf("Discover behind a NAT: %v, %v; want %v", got, err, public)
		}
		// A server that never answers: the context ends it.
		silent := peer(t)
		short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel2()
		if _, err := m.Discover(short, addrPort(silent)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Discover of a silent server: %v", err)
		}
	})
}
