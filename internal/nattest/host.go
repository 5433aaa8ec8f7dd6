//go:build linux

package nattest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/pion/transport/v5"
	"golang.org/x/sys/unix"
)

// Host is one network namespace of a Lab: a public host, a private host
// behind a NAT, or the NAT router itself (Host.Router).
type Host struct {
	// Name is the name given to Public or Private; a router's is its
	// host's with "-nat" appended.
	Name string
	// NS is the namespace's name, for `ip netns exec NS ...`.
	NS string
	// IP is the address on the host's own interface: public on the
	// bridge, private (10.N.0.2) behind a NAT. A router's is its WAN
	// address.
	IP netip.Addr
	// PublicIP is where the rest of the Lab sees the host: IP for a public
	// host, its router's WAN address for a private one.
	PublicIP netip.Addr
	// IP6 is the host's IPv6 address on the bridge (2001:db8::/64), for
	// hosts made by PublicDual and PublicV6; the zero Addr otherwise.
	IP6 netip.Addr
	// Router is the NAT router in front of a private host, nil for others.
	Router *Host
	// LAN is a router's address on its private LAN (10.N.0.1); the zero
	// Addr for other hosts.
	LAN netip.Addr

	lab *Lab
	fd  int // an open /run/netns/NS, for setns
	net *nsNet
}

// Do runs fn on an OS thread switched into the host's namespace, and
// returns its error. Sockets fn creates belong to the namespace for their
// whole life, whichever thread uses them later; goroutines fn starts do not
// run in the namespace. The thread is switched back afterwards; if that
// fails, it is left locked to its goroutine, which then ends, so that the
// runtime retires the thread rather than reuse it in the wrong namespace.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The namespace to come back to is this thread's own, which
		// (every unlocked thread being in it) is the process's.
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("nattest: open own namespace: %w", err)
			return
		}
		defer unix.Close(home)
		if err := unix.Setns(h.fd, unix.CLONE_NEWNET); err != nil {
			// Setns either switched or did not: nothing half-done to
			// undo, but the thread is not trusted any more either.
			errc <- fmt.Errorf("nattest: enter namespace %s: %w", h.NS, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("nattest: leave namespace %s: %w", h.NS, err))
			return // still locked: the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// doValue is Do for a function with a result. On an error the result is
// T's zero value, never a typed nil in an interface.
func doValue[T any](h *Host, fn func() (T, error)) (T, error) {
	var v T
	err := h.Do(func() error {
		var err error
		v, err = fn()
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Net is the host's network for pion: netcode.NativeConfig.Net,
// lobby.TURNServerConfig.Net, webrtc.SettingEngine.SetNet. Its sockets are
// made in the namespace and its interfaces are the namespace's, as they
// were when the host was set up.
func (h *Host) Net() transport.Net { return h.net }

// Listen is net.Listen in the host's namespace: a TCP listener for an
// HTTP lobby that a browser in the Lab reaches, say.
func (h *Host) Listen(network, address string) (net.Listener, error) {
	return doValue(h, func() (net.Listener, error) { return net.Listen(network, address) })
}

// ListenPacket is net.ListenPacket in the host's namespace.
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	return doValue(h, func() (net.PacketConn, error) { return net.ListenPacket(network, address) })
}

// DialContext is net.Dialer.DialContext from the host's namespace; it fits
// http.Transport.DialContext and websocket dialers.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return doValue(h, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	})
}

// Command is exec.CommandContext for a program that runs in the host's
// namespace, through `ip netns exec`: a browser, a server binary.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// InNamespace rewrites cmd, made elsewhere and not yet started, to run in
// the host's namespace through `ip netns exec`, which then execs the
// program itself: the process id, signals and exit status stay the
// program's. It fits chromedp.ModifyCmdFunc.
func (h *Host) InNamespace(cmd *exec.Cmd) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		cmd.Err = err
		return
	}
	prog := cmd.Path
	args := []string{"ip", "netns", "exec", h.NS, prog}
	if len(cmd.Args) > 1 {
		args = append(args, cmd.Args[1:]...)
	}
	cmd.Path, cmd.Args = ip, args
}

// ip runs ip commands (without the leading "ip") in the namespace, in one
// process.
func (h *Host) ip(cmds ...string) error {
	c := exec.Command("ip", "-n", h.NS, "-batch", "-")
	c.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("nattest: ip -n %s: %v: %s (commands: %q)", h.NS, err, bytes.TrimSpace(out), cmds)
	}
	return nil
}

// nft loads a ruleset into the namespace, atomically.
func (h *Host) nft(ruleset string) error {
	c := exec.Command("ip", "netns", "exec", h.NS, "nft", "-f", "-")
	c.Stdin = strings.NewReader(ruleset)
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("nattest: nft in %s: %v: %s\nruleset:\n%s", h.NS, err, bytes.TrimSpace(out), ruleset)
	}
	return nil
}

// sysctl sets a net sysctl such as "net/ipv4/ip_forward" in the
// namespace: /proc/sys/net is the namespace of the thread that opens it.
func (h *Host) sysctl(knob, value string) error {
	return h.Do(func() error {
		if err := os.WriteFile("/proc/sys/"+knob, []byte(value), 0); err != nil {
			return fmt.Errorf("nattest: sysctl %s in %s: %w", knob, h.NS, err)
		}
		return nil
	})
}

// loadNet makes the host's transport.Net once its interfaces are set up.
func (h *Host) loadNet() error {
	n, err := newNSNet(h)
	h.net = n
	return err
}
