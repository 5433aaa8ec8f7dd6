//go:build !js

// Package icemux is the UDP side of a Tickwire server: one port for every
// client, demultiplexed by ICE username fragment, as pion's UDPMuxDefault
// does, but built for a server on the internet (SECURITY.md):
//
//   - A packet that is neither STUN for a known ufrag nor from a known
//     address costs one map lookup and is dropped where it was read; nothing
//     is parsed, allocated or queued for it.
//   - Reads are batched (recvmmsg) where the socket allows, and several
//     sockets may share the port (SO_REUSEPORT), each with its own reader.
//   - Each session's remote addresses are bounded: the addresses that may
//     check in with a session's ufrag (peer-reflexive candidates), and the
//     addresses pion may send to.
//   - An address that has never answered one of our checks gets a few
//     packets and then nothing, so a candidate naming a third party turns
//     the server into no more than a small, bounded reflector.
//   - Every session's receive queue is bounded.
//
// It implements ice.UDPMux; pion's agents call GetConn for each ufrag they
// gather with, and read and write through the returned connections.
package icemux

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
)

// Defaults of Config.
const (
	DefaultMaxLearnt  = 8
	DefaultMaxNamed   = 32
	DefaultUnanswered = 2
	DefaultQueue      = 512
	// MaxPacket is the largest datagram read whole; larger ones are
	// dropped. pion's DTLS and SCTP keep to 1200 bytes, browsers to their
	// path MTU; a ClientHello with a post-quantum key share is fragmented
	// by DTLS itself.
	MaxPacket = 4096
)

// Config configures a Mux. Zero fields mean the defaults above.
type Config struct {
	// Conns are the sockets of the port, all bound to the same address
	// (one, or several sharing it with SO_REUSEPORT). The mux owns them and
	// reads each on a goroutine of its own.
	Conns []net.PacketConn
	// Net lists the local interfaces, for a socket bound to a wildcard
	// address.
	Net transport.Net
	// IncludeLoopback lists loopback addresses too when the socket is bound
	// to a wildcard address.
	IncludeLoopback bool
	// MaxLearnt bounds the addresses that may check in with one ufrag
	// (each becomes a peer-reflexive candidate in pion's agent). Checks
	// from further addresses are dropped unread.
	MaxLearnt int
	// MaxNamed bounds the addresses one ufrag's agent may send to without
	// having heard from them: the candidates its peer named.
	MaxNamed int
	// Unanswered is how many packets go to an address before it answers a
	// STUN check of ours; further ones are dropped silently. Answers to
	// its own checks are not counted, and each check it sends earns it one
	// packet more.
	Unanswered int
	// Queue is how many received packets may wait for one ufrag's agent;
	// further ones are dropped.
	Queue int
	// Logger receives the mux's rare warnings.
	Logger *slog.Logger
}

// Stats counts what the mux did with the packets it read.
type Stats struct {
	Read       uint64 // datagrams read from the sockets
	Delivered  uint64 // handed to an agent
	Unknown    uint64 // neither STUN for a known ufrag nor from a known address
	OverLearnt uint64 // checks from an address past Config.MaxLearnt
	QueueFull  uint64 // dropped because the agent's queue was full
	Suppressed uint64 // writes dropped: to an address that never answered, or past MaxNamed
	Written    uint64 // datagrams written
}

// ErrClosed is returned once the mux is closed.
var ErrClosed = errors.New("icemux: closed")

// Mux demultiplexes one UDP port among ICE agents.
type Mux struct {
	cfg   Config
	socks []net.PacketConn
	local *net.UDPAddr // the address the sockets are bound to

	mu     sync.RWMutex
	closed bool
	ufrags map[connKey]*ufragConn
	addrs  map[netip.AddrPort]*entry

	discMu   sync.Mutex
	pending  map[[12]byte]chan []byte // STUN transactions of Discover
	nPending atomic.Int32

	pool sync.Pool // of *packet

	read, delivered, unknown, overLearnt, queueFull, suppressed, written atomic.Uint64

	done chan struct{}
	wg   sync.WaitGroup
}

type connKey struct {
	ufrag string
	v6    bool
}

// entry is one remote address the mux knows: the agent it belongs to, and
// whether it has proved that it wants our packets.
type entry struct {
	owner *ufragConn // under Mux.mu
	// learnt: it checked in with the owner's ufrag (named: pion wrote to it
	// first). Under Mux.mu.
	learnt bool
	// answered: it sent a STUN response to a check of ours, so it is a
	// peer that wants this traffic; until then it gets Config.Unanswered
	// packets, and one more for each check it sends.
	answered atomic.Bool
	sent     atomic.Int32

	txMu sync.Mutex
	tx   [4][12]byte // the latest checks sent to it, until it answers
	txN  int
}

// New starts a mux reading cfg.Conns.
func New(cfg Config) (*Mux, error) {
	if len(cfg.Conns) == 0 {
		return nil, errors.New("icemux: no sockets")
	}
	local, ok := cfg.Conns[0].LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("icemux: socket address %v is not UDP", cfg.Conns[0].LocalAddr())
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxLearnt, DefaultMaxLearnt)
	def(&cfg.MaxNamed, DefaultMaxNamed)
	def(&cfg.Unanswered, DefaultUnanswered)
	def(&cfg.Queue, DefaultQueue)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Mux{
		cfg:     cfg,
		socks:   cfg.Conns,
		local:   local,
		ufrags:  map[connKey]*ufragConn{},
		addrs:   map[netip.AddrPort]*entry{},
		pending: map[[12]byte]chan []byte{},
		done:    make(chan struct{}),
	}
	m.pool.New = func() any { return &packet{buf: make([]byte, MaxPacket)} }
	for _, s := range m.socks {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.readLoop(s)
		}()
	}
	return m, nil
}

// LocalAddr is the address the sockets are bound to.
func (m *Mux) LocalAddr() *net.UDPAddr { return m.local }

// Stats reports the counters so far.
func (m *Mux) Stats() Stats {
	return Stats{
		Read: m.read.Load(), Delivered: m.delivered.Load(), Unknown: m.unknown.Load(),
		OverLearnt: m.overLearnt.Load(), QueueFull: m.queueFull.Load(),
		Suppressed: m.suppressed.Load(), Written: m.written.Load(),
	}
}

// GetListenAddresses is ice.UDPMux's: the addresses to make host
// candidates of. A socket bound to one address gives that address; a
// wildcard one every interface address of its families.
func (m *Mux) GetListenAddresses() []net.Addr {
	if !m.local.IP.IsUnspecified() {
		return []net.Addr{m.local}
	}
	v4only := m.local.IP.To4() != nil
	var out []net.Addr
	if m.cfg.Net == nil {
		return []net.Addr{m.local}
	}
	ifaces, err := m.cfg.Net.Interfaces()
	if err != nil {
		m.cfg.Logger.Warn("icemux: listing interfaces", "err", err)
		return []net.Addr{m.local}
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (ifc.Flags&net.FlagLoopback != 0 && !m.cfg.IncludeLoopback) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			var ip net.IP
			switch a := a.(type) {
			case *net.IPNet:
				ip = a.IP
			case *net.IPAddr:
				ip = a.IP
			default:
				continue
			}
			if ip.IsLinkLocalUnicast() || ip.IsMulticast() || (ip.IsLoopback() && !m.cfg.IncludeLoopback) {
				continue
			}
			if v4only && ip.To4() == nil {
				continue
			}
			out = append(out, &net.UDPAddr{IP: ip, Port: m.local.Port})
		}
	}
	if len(out) == 0 {
		return []net.Addr{m.local}
	}
	return out
}

// GetConn is ice.UDPMux's: a connection for the agent gathering with
// ufrag on the address family of addr. Each call returns a handle of its
// own, closed on its own; the ufrag's queue goes when the last closes or
// RemoveConnByUfrag is called.
func (m *Mux) GetConn(ufrag string, addr net.Addr) (net.PacketConn, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("icemux: address %v is not UDP", addr)
	}
	k := connKey{ufrag: ufrag, v6: ua.IP.To4() == nil}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, io.ErrClosedPipe
	}
	c := m.ufrags[k]
	if c == nil {
		c = newUfragConn(m, k)
		m.ufrags[k] = c
	}
	c.refs++
	return newHandle(c, ua), nil
}

// RemoveConnByUfrag is ice.UDPMux's: the agent of ufrag is gone.
func (m *Mux) RemoveConnByUfrag(ufrag string) {
	m.mu.Lock()
	var gone []*ufragConn
	for _, v6 := range []bool{false, true} {
		k := connKey{ufrag, v6}
		if c := m.ufrags[k]; c != nil {
			m.dropLocked(c)
			gone = append(gone, c)
		}
	}
	m.mu.Unlock()
	for _, c := range gone {
		c.close()
	}
}

// dropLocked forgets c and every address it owns. Under mu.
func (m *Mux) dropLocked(c *ufragConn) {
	if m.ufrags[c.key] == c {
		delete(m.ufrags, c.key)
	}
	for _, a := range c.addrs {
		if e := m.addrs[a]; e != nil && e.owner == c {
			delete(m.addrs, a)
		}
	}
	c.addrs, c.gone = nil, true
}

// Close stops the readers, closes the sockets and every connection, and
// waits for the readers. Idempotent.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return nil
	}
	m.closed = true
	close(m.done)
	var gone []*ufragConn
	for _, c := range m.ufrags {
		m.dropLocked(c)
		gone = append(gone, c)
	}
	m.mu.Unlock()
	for _, c := range gone {
		c.close()
	}
	var err error
	for _, s := range m.socks {
		err = errors.Join(err, s.Close())
	}
	m.wg.Wait()
	return err
}

// dispatch routes one datagram read from src. It reports whether p was
// handed on (and so must not be reused by the reader).
func (m *Mux) dispatch(p *packet, src netip.AddrPort) bool {
	m.read.Add(1)
	b := p.buf[:p.n]
	typ, body, isSTUN := stunHeader(b)
	if isSTUN && typ == stunBindingRequest {
		// A check: routed by the ufrag it names, which also lets an
		// address move to a new agent (an ICE restart or a resume from
		// behind the same NAT mapping).
		uf := localUfrag(body)
		m.mu.RLock()
		c := m.ufrags[connKey{string(uf), src.Addr().Is6()}]
		e := m.addrs[src]
		m.mu.RUnlock()
		if c == nil {
			m.unknown.Add(1)
			return false
		}
		if e == nil || e.owner != c {
			if !m.learn(c, src) {
				m.overLearnt.Add(1)
				return false
			}
		} else {
			// Each check from a peer earns it a check back (pion's
			// triggered check), whatever the budget: a peer behind a
			// lossy path or a TURN relay that checks in late is never
			// cut off, and a spoofed check buys one packet, no more.
			e.credit()
		}
		return m.deliver(c, p, src)
	}
	if isSTUN && (typ == stunBindingSuccess || typ == stunBindingError) && m.discovered(b) {
		return false
	}
	m.mu.RLock()
	e := m.addrs[src]
	var c *ufragConn
	if e != nil {
		c = e.owner
	}
	m.mu.RUnlock()
	if c == nil {
		m.unknown.Add(1)
		return false
	}
	if isSTUN && typ == stunBindingSuccess && !e.answered.Load() && e.sentCheck(transactionID(b)) {
		e.answered.Store(true)
	}
	return m.deliver(c, p, src)
}

// learn makes src an address of c, as its peer checked in from it; false
// when c has learnt all it may.
func (m *Mux) learn(c *ufragConn, src netip.AddrPort) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.gone {
		return false
	}
	if e := m.addrs[src]; e != nil && e.owner == c {
		return true
	}
	if c.learnt >= m.cfg.MaxLearnt {
		return false
	}
	c.learnt++
	m.addrs[src] = &entry{owner: c, learnt: true}
	c.addrs = append(c.addrs, src)
	return true
}

func (m *Mux) deliver(c *ufragConn, p *packet, src netip.AddrPort) bool {
	p.from = src
	if !c.push(p) {
		m.queueFull.Add(1)
		return false
	}
	m.delivered.Add(1)
	return true
}

// allowWrite decides whether c's agent may send b to dst now.
func (m *Mux) allowWrite(c *ufragConn, b []byte, dst netip.AddrPort) bool {
	m.mu.RLock()
	e := m.addrs[dst]
	m.mu.RUnlock()
	if e == nil {
		m.mu.Lock()
		if e = m.addrs[dst]; e == nil {
			if c.gone || c.named >= m.cfg.MaxNamed {
				m.mu.Unlock()
				return false
			}
			c.named++
			e = &entry{owner: c}
			m.addrs[dst] = e
			c.addrs = append(c.addrs, dst)
		}
		m.mu.Unlock()
	}
	if e.answered.Load() {
		return true
	}
	typ, _, isSTUN := stunHeader(b)
	if isSTUN && (typ == stunBindingSuccess || typ == stunBindingError) {
		// The answer to a check from there: one for one.
		return true
	}
	if e.sent.Add(1) > int32(m.cfg.Unanswered) {
		e.sent.Add(-1)
		return false
	}
	if isSTUN && typ == stunBindingRequest {
		e.recordCheck(transactionID(b))
	}
	return true
}

// credit gives back one packet of the unanswered budget.
func (e *entry) credit() {
	for {
		n := e.sent.Load()
		if n <= 0 || e.sent.CompareAndSwap(n, n-1) {
			return
		}
	}
}

func (e *entry) recordCheck(id [12]byte) {
	e.txMu.Lock()
	e.tx[e.txN%len(e.tx)] = id
	e.txN++
	e.txMu.Unlock()
}

func (e *entry) sentCheck(id [12]byte) bool {
	e.txMu.Lock()
	defer e.txMu.Unlock()
	for i := 0; i < min(e.txN, len(e.tx)); i++ {
		if e.tx[i] == id {
			return true
		}
	}
	return false
}

// writeTo sends b to dst on the port, if allowed. Writes that are not
// allowed report success: to pion they are checks that went unanswered.
func (m *Mux) writeTo(c *ufragConn, b []byte, dst netip.AddrPort) (int, error) {
	if !m.allowWrite(c, b, dst) {
		m.suppressed.Add(1)
		return len(b), nil
	}
	var err error
	switch s := m.socks[0].(type) {
	case *net.UDPConn:
		_, err = s.WriteToUDPAddrPort(b, dst)
	default:
		_, err = s.WriteTo(b, net.UDPAddrFromAddrPort(dst))
	}
	if err != nil {
		return 0, err
	}
	m.written.Add(1)
	return len(b), nil
}
