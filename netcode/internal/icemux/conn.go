//go:build !js

package icemux

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// packet is one received datagram on its way to an agent.
type packet struct {
	buf  []byte // MaxPacket bytes
	n    int
	from netip.AddrPort
}

// ufragConn is the receive side of one agent (one ufrag and address
// family): a bounded queue its handles read from.
type ufragConn struct {
	m   *Mux
	key connKey

	// Under Mux.mu.
	refs          int
	learnt, named int
	addrs         []netip.AddrPort
	gone          bool

	mu     sync.Mutex
	q      []*packet // ring of Config.Queue slots
	head   int
	n      int
	closed bool
	notify chan struct{} // wakes one reader
	done   chan struct{} // closed with the conn
}

func newUfragConn(m *Mux, k connKey) *ufragConn {
	return &ufragConn{
		m: m, key: k,
		q:      make([]*packet, m.cfg.Queue),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

// push queues p; false when the queue is full or closed.
func (c *ufragConn) push(p *packet) bool {
	c.mu.Lock()
	if c.closed || c.n == len(c.q) {
		c.mu.Unlock()
		return false
	}
	c.q[(c.head+c.n)%len(c.q)] = p
	c.n++
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest packet, or nil; closed reports the conn is gone.
func (c *ufragConn) pop() (p *packet, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return nil, c.closed
	}
	p = c.q[c.head]
	c.q[c.head] = nil
	c.head = (c.head + 1) % len(c.q)
	c.n--
	if c.n > 0 {
		// Another handle may be waiting: several candidates of one agent
		// read the same queue.
		select {
		case c.notify <- struct{}{}:
		default:
		}
	}
	return p, false
}

// close drops what is queued and ends every read. The Mux has already
// forgotten c.
func (c *ufragConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for c.n > 0 {
		c.m.pool.Put(c.q[c.head])
		c.q[c.head] = nil
		c.head = (c.head + 1) % len(c.q)
		c.n--
	}
	close(c.done)
}

// release is a handle's Close: the last one removes the conn.
func (c *ufragConn) release() {
	m := c.m
	m.mu.Lock()
	c.refs--
	last := c.refs == 0 && !c.gone
	if last {
		m.dropLocked(c)
	}
	m.mu.Unlock()
	if last {
		c.close()
	}
}

// handle is what GetConn returns: a net.PacketConn (and pion's
// allocation-free AddrPortReaderWriter) over a ufragConn.
type handle struct {
	c     *ufragConn
	local *net.UDPAddr
	once  sync.Once
	done  chan struct{}
}

func newHandle(c *ufragConn, local *net.UDPAddr) *handle {
	return &handle{c: c, local: local, done: make(chan struct{})}
}

// ReadFromAddrPort waits for the next packet of the agent.
func (h *handle) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		p, closed := h.c.pop()
		if p != nil {
			n := copy(b, p.buf[:p.n])
			from := p.from
			short := len(b) < p.n
			h.c.m.pool.Put(p)
			if short {
				return n, from, io.ErrShortBuffer
			}
			return n, from, nil
		}
		if closed {
			return 0, netip.AddrPort{}, io.EOF
		}
		select {
		case <-h.c.notify:
		case <-h.c.done:
		case <-h.done:
			return 0, netip.AddrPort{}, io.EOF
		}
	}
}

func (h *handle) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := h.ReadFromAddrPort(b)
	if !from.IsValid() {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), err
}

func (h *handle) WriteToAddrPort(b []byte, dst netip.AddrPort) (int, error) {
	if h.isClosed() {
		return 0, io.ErrClosedPipe
	}
	return h.c.m.writeTo(h.c, b, canonical(dst))
}

func (h *handle) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: net.UnknownNetworkError(addr.Network())}
	}
	return h.WriteToAddrPort(b, ua.AddrPort())
}

func (h *handle) isClosed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// Close releases this handle; reads on it end with io.EOF.
func (h *handle) Close() error {
	h.once.Do(func() {
		close(h.done)
		h.c.release()
	})
	return nil
}

func (h *handle) LocalAddr() net.Addr { return h.local }

// Deadlines are not supported, as on pion's own muxed connections: pion
// ends reads by closing.
func (h *handle) SetDeadline(time.Time) error      { return nil }
func (h *handle) SetReadDeadline(time.Time) error  { return nil }
func (h *handle) SetWriteDeadline(time.Time) error { return nil }

// canonical unmaps an IPv4-mapped IPv6 address, as a dual-stack socket
// reports IPv4 peers, so that one peer has one key.
func canonical(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}
