//go:build linux

package nattest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The Lab's public network: TEST-NET-3, which is never routed on the
// Internet, so a packet that escaped would go nowhere.
var (
	// Gateway is the internet namespace's own address on the bridge, every
	// public host's and NAT router's default route.
	Gateway = netip.MustParseAddr("203.0.113.1")
	// firstPublic is the first address handed to a host or router on the bridge.
	firstPublic = netip.MustParseAddr("203.0.113.10")
)

// nsPrefix starts every namespace a Lab creates, followed by the creating
// process's id, so that the namespaces of a test binary that was killed
// before its cleanups ran can be recognised and swept (see sweep).
const nsPrefix = "twnat"

// T is what a Lab needs of its test: testing.TB has it all, and the bench
// tool (go run ./bench paths) has its own.
type T interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Lab is one small internet in network namespaces: a bridge, the hosts on
// it, and the NATs in front of private hosts. Make one per test with New;
// it deletes all of it when the test ends. Its methods call t.Fatal, so
// call them from the test's goroutine.
type Lab struct {
	t  T
	id string // nsPrefix, pid and a random tag: the prefix of every namespace

	mu      sync.Mutex
	inet    *Host // the internet: the bridge br0 and Gateway
	hosts   []*Host
	names   map[string]bool
	public  netip.Addr // the next free address on the bridge
	lans    int        // private LANs made so far: the next is 10.<lans+1>.0.0/24
	ifIndex int        // the next bridge port name, p<ifIndex>
	v6      bool       // the bridge has Gateway6
	v6Next  int        // IPv6 hosts made so far
}

// New makes the internet of a Lab for t: a namespace with a bridge on
// 203.0.113.0/24 whose own address, Gateway, every host routes through.
// Without root, ip or nft, or where namespaces cannot be made, it skips t,
// saying what to install, or fails it when CI=true.
func New(t T) *Lab {
	t.Helper()
	Require(t)
	sweep()
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	l := &Lab{
		t:      t,
		id:     fmt.Sprintf("%s%d-%s", nsPrefix, os.Getpid(), hex.EncodeToString(tag[:])),
		names:  map[string]bool{},
		public: firstPublic,
	}
	t.Cleanup(l.close)
	inet, err := l.newNamespace("internet") // longer than any host name, so never taken
	if err != nil {
		// Require found the tools; a machine that still cannot make a
		// namespace (a container without CAP_SYS_ADMIN) lacks a
		// prerequisite too, rather than the Lab having a bug.
		if strings.Contains(err.Error(), "Operation not permitted") || strings.Contains(err.Error(), "Permission denied") {
			missing(t, "the right to create network namespaces ("+err.Error()+")")
		}
		t.Fatal(err)
	}
	l.inet = inet
	inet.IP = Gateway
	inet.PublicIP = Gateway
	if err := inet.ip(
		"link add br0 type bridge",
		"addr add "+Gateway.String()+"/24 dev br0",
		"link set br0 up",
	); err != nil {
		t.Fatal(err)
	}
	return l
}

// Require skips t, or fails it when CI=true, unless this process is root
// and has ip and nft: what New needs.
func Require(t T) {
	t.Helper()
	var need []string
	if os.Geteuid() != 0 {
		need = append(need, "root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			need = append(need, tool)
		}
	}
	if len(need) > 0 {
		missing(t, strings.Join(need, ", "))
	}
}

func missing(t T, what string) {
	t.Helper()
	const how = "run as root with iproute2 and nftables installed (apt-get install -y iproute2 nftables)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("network namespace test needs %s: %s", what, how)
	}
	t.Skipf("network namespace test needs %s: %s", what, how)
}

// hostName keeps a host's name short and plain: it goes into namespace
// names, and a router is named after its host with "-nat" appended, which
// no host name can collide with.
var hostName = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// Public attaches a new host to the bridge with the next free public
// address, its default route through Gateway: a server with a public IP
// on its interface, a STUN or TURN server, a lobby.
func (l *Lab) Public(name string) *Host {
	l.t.Helper()
	if !hostName.MatchString(name) {
		l.t.Fatalf("nattest: host name %q: want a lower-case letter then up to 11 letters or digits", name)
	}
	h, err := l.attach(name, "eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	if err := h.ip("route add default via " + Gateway.String()); err != nil {
		l.t.Fatal(err)
	}
	if err := h.loadNet(); err != nil {
		l.t.Fatal(err)
	}
	return h
}

// The Lab's IPv6 network: the documentation prefix, on the same bridge.
var (
	// Gateway6 is the internet namespace's IPv6 address on the bridge.
	Gateway6 = netip.MustParseAddr("2001:db8::1")
)

// PublicDual attaches a host to the bridge with a public IPv4 address, as
// Public does, and an IPv6 one (IP6): a dual-stack server.
func (l *Lab) PublicDual(name string) *Host {
	l.t.Helper()
	h := l.Public(name)
	l.addIPv6(h, "eth0")
	return h
}

// PublicV6 attaches a host to the bridge with an IPv6 address only (IP6;
// IP and PublicIP stay the zero Addr): a player on an IPv6-only network.
func (l *Lab) PublicV6(name string) *Host {
	l.t.Helper()
	if !hostName.MatchString(name) {
		l.t.Fatalf("nattest: host name %q: want a lower-case letter then up to 11 letters or digits", name)
	}
	h, err := l.newNamespace(name)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.ifIndex++
	port := "p" + strconv.Itoa(l.ifIndex)
	l.mu.Unlock()
	if err := l.inet.ip(
		"link add "+port+" type veth peer name eth0 netns "+h.NS,
		"link set "+port+" master br0",
		"link set "+port+" up",
	); err != nil {
		l.t.Fatal(err)
	}
	if err := h.ip("link set eth0 up"); err != nil {
		l.t.Fatal(err)
	}
	l.addIPv6(h, "eth0")
	if err := h.loadNet(); err != nil {
		l.t.Fatal(err)
	}
	return h
}

// addIPv6 turns IPv6 on in h's namespace and gives ifname the next address
// of 2001:db8::/64, the bridge's IPv6 network, without duplicate address
// detection's wait. The internet namespace gets Gateway6 the first time.
func (l *Lab) addIPv6(h *Host, ifname string) {
	l.t.Helper()
	l.mu.Lock()
	first := !l.v6
	l.v6 = true
	l.v6Next++
	n := l.v6Next
	l.mu.Unlock()
	enable := func(h *Host) error {
		return errors.Join(h.sysctl("net/ipv6/conf/all/disable_ipv6", "0"), h.sysctl("net/ipv6/conf/default/disable_ipv6", "0"))
	}
	if first {
		if err := errors.Join(enable(l.inet), l.inet.ip("addr add "+Gateway6.String()+"/64 dev br0 nodad")); err != nil {
			l.t.Fatal(err)
		}
	}
	a := Gateway6.As16()
	a[14], a[15] = byte((n+9)>>8), byte(n+9)
	h.IP6 = netip.AddrFrom16(a)
	if err := errors.Join(
		enable(h),
		h.sysctl("net/ipv6/conf/"+ifname+"/disable_ipv6", "0"),
		h.ip("addr add "+h.IP6.String()+"/64 dev "+ifname+" nodad", "route add default via "+Gateway6.String()),
	); err != nil {
		l.t.Fatal(err)
	}
	if err := h.loadNet(); err != nil {
		l.t.Fatal(err)
	}
}

// Private makes a host on a LAN of its own, 10.N.0.2/24, behind a new NAT
// router of the given kind at 10.N.0.1 whose WAN side has the next free
// public address (the host's PublicIP). Private addresses never leave
// the Lab's namespaces, and each LAN has its own N, so no two private
// hosts share an address.
func (l *Lab) Private(name string, nat NAT) *Host {
	l.t.Helper()
	if !hostName.MatchString(name) {
		l.t.Fatalf("nattest: host name %q: want a lower-case letter then up to 11 letters or digits", name)
	}
	if err := nat.validate(); err != nil {
		l.t.Fatal(err)
	}
	r, err := l.attach(name+"-nat", "wan0")
	if err != nil {
		l.t.Fatal(err)
	}
	h, err := l.newNamespace(name)
	if err != nil {
		l.t.Fatal(err)
	}
	l.mu.Lock()
	l.lans++
	n := l.lans
	l.mu.Unlock()
	if n > 250 {
		l.t.Fatal("nattest: more than 250 private hosts in one Lab")
	}
	lanRouter := netip.AddrFrom4([4]byte{10, byte(n), 0, 1})
	h.IP = netip.AddrFrom4([4]byte{10, byte(n), 0, 2})
	h.PublicIP = r.IP
	h.Router = r
	r.LAN = lanRouter
	steps := []error{
		r.ip(
			"link add lan0 type veth peer name eth0 netns "+h.NS,
			"addr add "+lanRouter.String()+"/24 dev lan0",
			"link set lan0 up",
			"route add default via "+Gateway.String(),
		),
		h.ip(
			"addr add "+h.IP.String()+"/24 dev eth0",
			"link set eth0 up",
			"route add default via "+lanRouter.String(),
		),
		r.sysctl("net/ipv4/ip_forward", "1"),
		r.nft(nat.ruleset(r.IP, h.IP)),
		h.loadNet(),
		r.loadNet(),
	}
	if err := errors.Join(steps...); err != nil {
		l.t.Fatal(err)
	}
	return h
}

// attach makes a namespace with a veth named ifname on the bridge and the
// next free public address.
func (l *Lab) attach(name, ifname string) (*Host, error) {
	h, err := l.newNamespace(name)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	addr := l.public
	l.public = l.public.Next()
	l.ifIndex++
	port := "p" + strconv.Itoa(l.ifIndex)
	l.mu.Unlock()
	if !addr.Is4() || addr.As4()[3] == 255 {
		return nil, errors.New("nattest: the Lab's public network is full")
	}
	h.IP, h.PublicIP = addr, addr
	err = errors.Join(
		l.inet.ip(
			"link add "+port+" type veth peer name "+ifname+" netns "+h.NS,
			"link set "+port+" master br0",
			"link set "+port+" up",
		),
		h.ip(
			"addr add "+addr.String()+"/24 dev "+ifname,
			"link set "+ifname+" up",
		),
	)
	return h, err
}

// newNamespace creates the namespace <id>-<name> with its loopback up and
// IPv6 off: the Lab's NATs are IPv4 ones, and link-local IPv6 between
// hosts on the bridge would be a path around them.
func (l *Lab) newNamespace(name string) (*Host, error) {
	l.mu.Lock()
	dup := l.names[name]
	l.names[name] = true
	l.mu.Unlock()
	if dup {
		return nil, fmt.Errorf("nattest: two hosts named %q", name)
	}
	h := &Host{Name: name, NS: l.id + "-" + name, lab: l, fd: -1}
	if out, err := exec.Command("ip", "netns", "add", h.NS).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nattest: ip netns add %s: %v: %s", h.NS, err, bytes.TrimSpace(out))
	}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	fd, err := unix.Open("/run/netns/"+h.NS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("nattest: open namespace %s: %w", h.NS, err)
	}
	h.fd = fd
	for _, knob := range []string{"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"} {
		if err := h.sysctl(knob, "1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return h, h.ip("link set lo up")
}

// close deletes every namespace of the Lab, the internet last; with them go
// their veths, bridge, rules and conntrack tables. When the test failed, it
// first logs each router's rules with their counters: which rule dropped
// what.
func (l *Lab) close() {
	l.mu.Lock()
	hosts := l.hosts
	l.hosts = nil
	l.mu.Unlock()
	if l.t.Failed() {
		for _, h := range hosts {
			if h.LAN.IsValid() {
				out, err := exec.Command("ip", "netns", "exec", h.NS, "nft", "list", "ruleset").CombinedOutput()
				l.t.Logf("nattest: NAT router %s (WAN %s, LAN %s), nft list ruleset (%v):\n%s", h.Name, h.IP, h.LAN, err, out)
			}
		}
	}
	for i := len(hosts) - 1; i >= 0; i-- {
		h := hosts[i]
		if h.fd >= 0 {
			_ = unix.Close(h.fd)
		}
		if out, err := exec.Command("ip", "netns", "del", h.NS).CombinedOutput(); err != nil {
			l.t.Errorf("nattest: ip netns del %s: %v: %s", h.NS, err, bytes.TrimSpace(out))
		}
	}
}

// sweep deletes the namespaces of Labs whose process is gone: a test binary
// killed by a timeout runs no cleanups. Only names this package makes are
// touched, and only when no process of that id exists.
func sweep() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + pidStr); errors.Is(err, os.ErrNotExist) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}
