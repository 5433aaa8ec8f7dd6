//go:build linux

package nattest

import (
	"context"
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// nsNet is a host's transport.Net: the standard library's network, with
// every socket created in the host's namespace. pion creates sockets
// lazily, on goroutines of its own (gathering, TURN allocations, ICE-TCP),
// so a namespace switch around a constructor call would miss most of them;
// here each creation switches for itself. The interface list is stdnet's,
// read inside the namespace.
type nsNet struct {
	*stdnet.Net // interfaces and address resolution
	h           *Host
}

var _ transport.Net = (*nsNet)(nil)

func newNSNet(h *Host) (*nsNet, error) {
	std, err := doValue(h, stdnet.NewNet)
	if err != nil {
		return nil, err
	}
	return &nsNet{Net: std, h: h}, nil
}

func (n *nsNet) ListenPacket(network, address string) (net.PacketConn, error) {
	return doValue(n.h, func() (net.PacketConn, error) { return n.Net.ListenPacket(network, address) })
}

func (n *nsNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	return doValue(n.h, func() (transport.UDPConn, error) { return n.Net.ListenUDP(network, laddr) })
}

func (n *nsNet) ListenTCP(network string, laddr *net.TCPAddr) (transport.TCPListener, error) {
	return doValue(n.h, func() (transport.TCPListener, error) { return n.Net.ListenTCP(network, laddr) })
}

func (n *nsNet) Dial(network, address string) (net.Conn, error) {
	return doValue(n.h, func() (net.Conn, error) { return n.Net.Dial(network, address) })
}

func (n *nsNet) DialUDP(network string, laddr, raddr *net.UDPAddr) (transport.UDPConn, error) {
	return doValue(n.h, func() (transport.UDPConn, error) { return n.Net.DialUDP(network, laddr, raddr) })
}

func (n *nsNet) DialTCP(network string, laddr, raddr *net.TCPAddr) (transport.TCPConn, error) {
	return doValue(n.h, func() (transport.TCPConn, error) { return n.Net.DialTCP(network, laddr, raddr) })
}

func (n *nsNet) CreateDialer(d *net.Dialer) transport.Dialer {
	return nsDialer{h: n.h, d: d}
}

func (n *nsNet) CreateListenConfig(lc *net.ListenConfig) transport.ListenConfig {
	return nsListenConfig{h: n.h, lc: lc}
}

type nsDialer struct {
	h *Host
	d *net.Dialer
}

func (d nsDialer) Dial(network, address string) (net.Conn, error) {
	return doValue(d.h, func() (net.Conn, error) { return d.d.Dial(network, address) })
}

type nsListenConfig struct {
	h  *Host
	lc *net.ListenConfig
}

func (l nsListenConfig) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	return doValue(l.h, func() (net.Listener, error) { return l.lc.Listen(ctx, network, address) })
}

func (l nsListenConfig) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	return doValue(l.h, func() (net.PacketConn, error) { return l.lc.ListenPacket(ctx, network, address) })
}
