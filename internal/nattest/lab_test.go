//go:build linux

package nattest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nsInode identifies a network namespace: the inode of its nsfs file.
func nsInode(fd int) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// socketNS is the namespace a socket was created in, as the kernel says
// (SIOCGSKNS), whichever thread asks.
func socketNS(t *testing.T, c any) uint64 {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	var nsErr error
	if err := raw.Control(func(fd uintptr) {
		var nsfd int
		if nsfd, nsErr = unix.IoctlRetInt(int(fd), unix.SIOCGSKNS); nsErr == nil {
			ino, nsErr = nsInode(nsfd)
			_ = unix.Close(nsfd)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if nsErr != nil {
		t.Fatalf("SIOCGSKNS: %v", nsErr)
	}
	return ino
}

// ownNS is the namespace of the test process (of any thread not in Do).
func ownNS(t *testing.T) uint64 {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ino, err := nsInode(fd)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

func closeLater(t *testing.T, c io.Closer) {
	t.Cleanup(func() { _ = c.Close() })
}

// TestSocketsLiveInTheNamespace: every socket a Host's Net, Listen,
// ListenPacket and DialContext make is in the host's namespace, as the
// kernel reports it; the interfaces Net lists, and that net.Interfaces
// lists inside Do, are the namespace's own; and no thread is left in a
// namespace afterwards.
func TestSocketsLiveInTheNamespace(t *testing.T) {
	t.Parallel()
	lab := New(t)
	pub := lab.Public("pub")
	priv := lab.Private("priv", NAT{Kind: Filtering})
	home := ownNS(t)
	for _, h := range []*Host{pub, priv, priv.Router} {
		t.Run(h.Name, func(t *testing.T) {
			want, err := nsInode(h.fd)
			if err != nil {
				t.Fatal(err)
			}
			if want == home {
				t.Fatal("the host's namespace is the test's own")
			}
			n := h.Net()
			ip := net.IP(h.IP.AsSlice())
			check := func(what string, c any, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				closeLater(t, c.(io.Closer))
				if got := socketNS(t, c); got != want {
					t.Errorf("%s: socket in namespace %d, want the host's %d (the test's is %d)", what, got, want, home)
				}
			}
			pc, err := n.ListenPacket("udp4", net.JoinHostPort(h.IP.String(), "0"))
			check("Net.ListenPacket", pc, err)
			uc, err := n.ListenUDP("udp4", &net.UDPAddr{IP: ip})
			check("Net.ListenUDP", uc, err)
			tl, err := n.ListenTCP("tcp4", &net.TCPAddr{IP: ip})
			check("Net.ListenTCP", tl, err)
			go func() { // accept what the dials below connect
				for {
					c, err := tl.Accept()
					if err != nil {
						return
					}
					closeLater(t, c)
				}
			}()
			target := tl.Addr().(*net.TCPAddr)
			dc, err := n.Dial("tcp4", target.String())
			check("Net.Dial", dc, err)
			du, err := n.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IP(Gateway.AsSlice()), Port: 9})
			check("Net.DialUDP", du, err)
			dt, err := n.DialTCP("tcp4", nil, target)
			check("Net.DialTCP", dt, err)
			cd, err := n.CreateDialer(&net.Dialer{}).Dial("tcp4", target.String())
			check("Net.CreateDialer().Dial", cd, err)
			lc := n.CreateListenConfig(&net.ListenConfig{})
			ll, err := lc.Listen(context.Background(), "tcp4", h.IP.String()+":0")
			check("Net.CreateListenConfig().Listen", ll, err)
			lp, err := lc.ListenPacket(context.Background(), "udp4", h.IP.String()+":0")
			check("Net.CreateListenConfig().ListenPacket", lp, err)
			hl, err := h.Listen("tcp4", ":0")
			check("Host.Listen", hl, err)
			hp, err := h.ListenPacket("udp4", ":0")
			check("Host.ListenPacket", hp, err)
			hd, err := h.DialContext(context.Background(), "tcp4", target.String())
			check("Host.DialContext", hd, err)

			// The interfaces: the namespace's, through Net and through
			// the standard library inside Do.
			wantNames := []string{"eth0", "lo"}
			if h.LAN.IsValid() {
				wantNames = []string{"lan0", "lo", "wan0"}
			}
			ifs, err := n.Interfaces()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var addrs []string
			for _, ifc := range ifs {
				names = append(names, ifc.Name)
				as, _ := ifc.Addrs()
				for _, a := range as {
					addrs = append(addrs, a.String())
				}
			}
			slices.Sort(names)
			if !slices.Equal(names, wantNames) {
				t.Errorf("Net.Interfaces: %v, want %v", names, wantNames)
			}
			if !slices.Contains(addrs, h.IP.String()+"/24") {
				t.Errorf("Net.Interfaces addresses %v lack %s/24", addrs, h.IP)
			}
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a); err != nil || !p.Addr().Is4() {
					t.Errorf("address %s: IPv6 must be off in the Lab (a path around its NATs)", a)
				}
			}
			var std []string
			if err := h.Do(func() error {
				ifs, err := net.Interfaces()
				for _, ifc := range ifs {
					std = append(std, ifc.Name)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(std)
			if !slices.Equal(std, wantNames) {
				t.Errorf("net.Interfaces inside Do: %v, want %v", std, wantNames)
			}
		})
	}

	// Many switches at once, then many sockets made the ordinary way, on
	// whatever threads the runtime has: all of them in the test's own
	// namespace, so no thread came back from Do still switched.
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if err := priv.Do(func() error { time.Sleep(time.Millisecond); return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for range 64 {
		wg.Go(func() {
			c, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if got := socketNS(t, c); got != home {
				t.Errorf("a socket made outside Do is in namespace %d, not the test's %d", got, home)
			}
		})
	}
	wg.Wait()

	// Do reports fn's error.
	boom := errors.New("boom")
	if err := pub.Do(func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

// udpSock listens for UDP on h's own address.
func udpSock(t *testing.T, h *Host) net.PacketConn {
	t.Helper()
	c, err := h.ListenPacket("udp4", net.JoinHostPort(h.IP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, c)
	return c
}

func send(t *testing.T, from net.PacketConn, to netip.AddrPort, msg string) {
	t.Helper()
	if _, err := from.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatalf("send %q to %v: %v", msg, to, err)
	}
}

// grace is how long a socket is watched, after the datagram it was waiting
// for arrived, for one that must not arrive. Packets sent before that
// datagram on the same path would have arrived before it; this covers
// reordering between CPUs.
const grace = 200 * time.Millisecond

// expect reads from c until msg arrives (the path works) and returns its
// sender; a datagram in deny arriving before it, or within grace after it,
// fails the test. Send the denied packets first, then msg.
func expect(t *testing.T, c net.PacketConn, msg string, deny ...string) netip.AddrPort {
	t.Helper()
	buf := make([]byte, 1500)
	var from netip.AddrPort
	got := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			if got { // the grace ran out
				return from
			}
			t.Fatalf("waiting for %q on %v: %v", msg, c.LocalAddr(), err)
		}
		s := string(buf[:n])
		if slices.Contains(deny, s) {
			t.Fatalf("%q arrived on %v from %v: it should have been dropped", s, c.LocalAddr(), addr)
		}
		if s == msg && !got {
			got = true
			from = addr.(*net.UDPAddr).AddrPort()
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			deadline = time.Now().Add(grace)
		}
	}
}

// quiet fails the test if anything arrives on c within grace. Call it once
// a datagram sent after the ones that must not arrive has arrived.
func quiet(t *testing.T, c net.PacketConn) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(grace))
	if n, addr, err := c.ReadFrom(buf); err == nil {
		t.Fatalf("%q arrived on %v from %v: it should have been dropped", buf[:n], c.LocalAddr(), addr)
	}
}

// tcpBlocked checks that a TCP connection from h to addr does not open.
// The NAT drops the SYN, so the dial runs into its timeout.
func tcpBlocked(t *testing.T, h *Host, addr netip.AddrPort) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if c, err := h.DialContext(ctx, "tcp4", addr.String()); err == nil {
		c.Close()
		t.Fatalf("TCP from %s to %v connected: it should have been dropped", h.Name, addr)
	}
}

// tcpEcho listens on h's address:port (0: any) and echoes one line per
// connection.
func tcpEcho(t *testing.T, h *Host, port int) netip.AddrPort {
	t.Helper()
	ln, err := h.Listen("tcp4", net.JoinHostPort(h.IP.String(), fmt.Sprint(port)))
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = io.Copy(c, io.LimitReader(c, 64))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// tcpWorks connects from h to addr and has a message echoed: the path
// works both ways.
func tcpWorks(t *testing.T, h *Host, addr netip.AddrPort) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp4", addr.String())
	if err != nil {
		t.Fatalf("TCP from %s to %v: %v", h.Name, addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "ping" {
		t.Fatalf("TCP echo from %v: %q, %v", addr, b, err)
	}
}

func addrOf(c net.PacketConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// TestFilteringNAT: behind a Filtering NAT, a host's outbound flow gets
// one mapping on the NAT's public address, the same for every destination
// (endpoint-independent), and only the exact address and port it sent to
// get through to it (address-and-port-dependent filtering); unsolicited
// TCP does not get in either, while the host's own TCP goes out.
func TestFilteringNAT(t *testing.T) {
	t.Parallel()
	lab := New(t)
	a, b := lab.Public("a"), lab.Public("b")
	c := lab.Private("c", NAT{Kind: Filtering})
	cc := udpSock(t, c)
	a1, a2, b1 := udpSock(t, a), udpSock(t, a), udpSock(t, b)

	// An unsolicited packet to where the mapping will be, first: it must
	// neither get in nor leave state on the router that moves the
	// mapping (the router's input drops it before conntrack keeps it).
	send(t, a1, netip.AddrPortFrom(c.PublicIP, addrOf(cc).Port()), "early")
	send(t, cc, addrOf(a1), "out")
	m := expect(t, a1, "out")
	if m.Addr() != c.PublicIP || m.Port() != addrOf(cc).Port() {
		t.Fatalf("mapping %v, want the NAT's address %v and the host's port %d", m, c.PublicIP, addrOf(cc).Port())
	}
	send(t, b1, m, "from another host")
	send(t, a2, m, "from another port")
	send(t, a1, m, "reply")
	expect(t, cc, "reply", "early", "from another host", "from another port")

	// Endpoint-independent mapping: the same mapping towards b, which may
	// then send in too.
	send(t, cc, addrOf(b1), "out to b")
	if mb := expect(t, b1, "out to b"); mb != m {
		t.Fatalf("mapping towards b %v, towards a %v: want the same", mb, m)
	}
	send(t, b1, m, "from b")
	expect(t, cc, "from b")

	tcpBlocked(t, a, netip.AddrPortFrom(c.PublicIP, tcpEcho(t, c, 0).Port()))
	tcpWorks(t, c, tcpEcho(t, a, 0))

	// A neighbour on the bridge that routes the private network through
	// the router gets nothing forwarded to it either: the router filters,
	// beyond what the lack of a mapping does.
	if err := a.ip("route add " + netip.PrefixFrom(c.IP, 24).Masked().String() + " via " + c.PublicIP.String()); err != nil {
		t.Fatal(err)
	}
	send(t, a2, addrOf(cc), "straight to the private address")
	send(t, a1, m, "reply again")
	expect(t, cc, "reply again", "straight to the private address")
}

// TestSymmetricNAT: a Symmetric NAT maps each destination to a port of its
// own, and filters like Filtering.
func TestSymmetricNAT(t *testing.T) {
	t.Parallel()
	lab := New(t)
	a, b := lab.Public("a"), lab.Public("b")
	c := lab.Private("c", NAT{Kind: Symmetric})
	cc := udpSock(t, c)
	dests := []net.PacketConn{udpSock(t, a), udpSock(t, a), udpSock(t, b)}
	ports := map[uint16]bool{}
	var maps []netip.AddrPort
	for i, d := range dests {
		msg := fmt.Sprint("out ", i)
		send(t, cc, addrOf(d), msg)
		m := expect(t, d, msg)
		if m.Addr() != c.PublicIP {
			t.Fatalf("mapping %v, want the NAT's address %v", m, c.PublicIP)
		}
		ports[m.Port()] = true
		maps = append(maps, m)
	}
	// Random ports: all three equal by chance once in about 4e9 runs.
	if len(ports) == 1 {
		t.Fatalf("one mapping %v for three destinations: the NAT is not symmetric", maps)
	}
	// Each destination gets in through its own mapping only (here, when
	// two mappings differ, the third destination's packet to the first
	// destination's mapping is dropped).
	i, j := 0, 2
	if maps[0] == maps[2] {
		j = 1
	}
	send(t, dests[j], maps[i], "through another's mapping")
	send(t, dests[i], maps[i], "reply")
	expect(t, cc, "reply", "through another's mapping")
}

// TestOneToOneNAT: a OneToOne NAT forwards exactly its ports (or all), UDP and TCP,
// from its public address to the host, the sender's address unchanged, and
// the host's replies leave from the public address and the same port.
func TestOneToOneNAT(t *testing.T) {
	t.Parallel()
	lab := New(t)
	p := lab.Public("p")
	s := lab.Private("srv", NAT{Kind: OneToOne, Forward: []Port{UDP(7777), TCP(7777)}})
	open, err := s.ListenPacket("udp4", ":7777")
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, open)
	shut, err := s.ListenPacket("udp4", ":7778")
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, shut)
	pc := udpSock(t, p)

	send(t, pc, netip.AddrPortFrom(s.PublicIP, 7778), "to a port not forwarded")
	send(t, pc, netip.AddrPortFrom(s.PublicIP, 7777), "in")
	if from := expect(t, open, "in"); from != addrOf(pc) {
		t.Fatalf("forwarded datagram from %v, want the sender's own %v", from, addrOf(pc))
	}
	send(t, open, addrOf(pc), "reply")
	if from := expect(t, pc, "reply"); from != netip.AddrPortFrom(s.PublicIP, 7777) {
		t.Fatalf("reply from %v, want %v:7777", from, s.PublicIP)
	}
	quiet(t, shut) // sent before "in", on the same path

	// The host's own new flows leave from the public address, keeping the
	// port: a STUN request from the server's port learns the forwarded
	// address.
	pc2 := udpSock(t, p)
	send(t, open, addrOf(pc2), "server out")
	if from := expect(t, pc2, "server out"); from != netip.AddrPortFrom(s.PublicIP, 7777) {
		t.Fatalf("the host's new flow from port 7777 arrived from %v, want %v:7777", from, s.PublicIP)
	}

	tcpEcho(t, s, 7777)
	closedPort := tcpEcho(t, s, 0).Port()
	tcpWorks(t, p, netip.AddrPortFrom(s.PublicIP, 7777))
	tcpBlocked(t, p, netip.AddrPortFrom(s.PublicIP, closedPort))

	// Without Forward, every port is forwarded.
	all := lab.Private("all", NAT{Kind: OneToOne})
	ac := udpSock(t, all)
	send(t, pc, netip.AddrPortFrom(all.PublicIP, addrOf(ac).Port()), "to any port")
	if from := expect(t, ac, "to any port"); from != addrOf(pc) {
		t.Fatalf("forwarded datagram from %v, want the sender's own %v", from, addrOf(pc))
	}
	tcpWorks(t, p, netip.AddrPortFrom(all.PublicIP, tcpEcho(t, all, 0).Port()))
}

// TestBlockUDP: behind a BlockUDP NAT no UDP gets out or in, and TCP works
// as behind Filtering.
func TestBlockUDP(t *testing.T) {
	t.Parallel()
	lab := New(t)
	p := lab.Public("p")
	c := lab.Private("c", NAT{Kind: BlockUDP})
	cc, pc := udpSock(t, c), udpSock(t, p)
	send(t, cc, addrOf(pc), "out")
	// The mapping UDP would have had, were it let out.
	send(t, pc, netip.AddrPortFrom(c.PublicIP, addrOf(cc).Port()), "in")
	tcpWorks(t, c, tcpEcho(t, p, 0)) // sent after the datagrams: they had time to arrive
	quiet(t, pc)
	quiet(t, cc)
	tcpBlocked(t, p, netip.AddrPortFrom(c.PublicIP, tcpEcho(t, c, 0).Port()))
}

// TestCommand: a program started with Command or InNamespace sees the
// host's interfaces, not the machine's.
func TestCommand(t *testing.T) {
	t.Parallel()
	lab := New(t)
	h := lab.Private("h", NAT{Kind: Filtering})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wrapped := exec.CommandContext(ctx, "ip", "-4", "-o", "addr", "show")
	h.InNamespace(wrapped)
	for name, cmd := range map[string]*exec.Cmd{
		"Command":     h.Command(ctx, "ip", "-4", "-o", "addr", "show"),
		"InNamespace": wrapped,
	} {
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		// Exactly lo and eth0 with the host's address.
		var seen []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				t.Fatalf("%s: unexpected line %q", name, line)
			}
			seen = append(seen, f[1]+" "+f[3])
		}
		slices.Sort(seen)
		if want := []string{"eth0 " + h.IP.String() + "/24", "lo 127.0.0.1/8"}; !slices.Equal(seen, want) {
			t.Errorf("%s: addresses %q, want %q", name, seen, want)
		}
	}
}

func TestNATValidate(t *testing.T) {
	for _, tt := range []struct {
		nat NAT
		ok  bool
	}{
		{NAT{Kind: Filtering}, true},
		{NAT{Kind: Symmetric}, true},
		{NAT{Kind: BlockUDP}, true},
		{NAT{Kind: OneToOne}, true},
		{NAT{Kind: OneToOne, Forward: []Port{UDP(1), TCP(65535)}}, true},
		{NAT{}, false},
		{NAT{Kind: 99}, false},
		{NAT{Kind: Filtering, Forward: []Port{UDP(7777)}}, false},
		{NAT{Kind: OneToOne, Forward: []Port{{"sctp", 7777}}}, false},
		{NAT{Kind: OneToOne, Forward: []Port{UDP(0)}}, false},
	} {
		if err := tt.nat.validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: validate() = %v, want ok %v", tt.nat, err, tt.ok)
		}
	}
}

// TestIPv6: a dual-stack host and an IPv6-only one reach each other over
// IPv6 on the bridge; the IPv6-only host has no IPv4 address, and private
// hosts keep IPv6 off.
func TestIPv6(t *testing.T) {
	lab := New(t)
	dual := lab.PublicDual("dual")
	v6 := lab.PublicV6("vsix")
	priv := lab.Private("priv", NAT{Kind: Filtering})
	if !dual.IP.Is4() || !dual.IP6.Is6() || !v6.IP6.Is6() || v6.IP.IsValid() {
		t.Fatalf("addresses: dual %v %v, v6 %v %v", dual.IP, dual.IP6, v6.IP, v6.IP6)
	}
	srv, err := dual.ListenPacket("udp", ":0") // dual-stack
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, srv)
	c, err := v6.ListenPacket("udp6", ":0")
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, c)
	to := netip.AddrPortFrom(dual.IP6, addrOf(srv).Port())
	if _, err := c.WriteTo([]byte("over six"), net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_ = srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "over six" || from.(*net.UDPAddr).IP.String() != v6.IP6.String() {
		t.Fatalf("got %q from %v (%v), want it from %v", buf[:n], from, err, v6.IP6)
	}
	for _, h := range []*Host{v6, priv} {
		ifaces, err := h.Net().Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, ifc := range ifaces {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				ip := a.(*net.IPNet).IP
				if (h == v6 && ip.To4() != nil && !ip.IsLoopback()) || (h == priv && ip.To4() == nil && !ip.IsLoopback()) {
					t.Errorf("%s has %v", h.Name, a)
				}
			}
		}
	}
}
