//go:build !js

package icemux

import (
	"errors"
	"net"
	"net/netip"
	"runtime"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batch is how many datagrams one recvmmsg may return. At 64, a flood of
// 200,000 packets a second costs about 3,000 system calls.
const batch = 64

// msgTrunc is Linux's MSG_TRUNC: the datagram was longer than the buffer.
// The batched reader runs on Linux only.
const msgTrunc = 0x20

// batchReader is recvmmsg through x/net: ipv4 and ipv6 PacketConns share
// the method.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

// readLoop reads s until it is closed, in batches where the platform has
// recvmmsg.
func (m *Mux) readLoop(s net.PacketConn) {
	if uc, ok := s.(*net.UDPConn); ok && (runtime.GOOS == "linux" || runtime.GOOS == "android") {
		var br batchReader
		if la, ok := uc.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
			br = ipv4.NewPacketConn(uc)
		} else {
			br = ipv6.NewPacketConn(uc)
		}
		m.readBatches(br)
		return
	}
	m.readOneByOne(s)
}

func (m *Mux) readBatches(br batchReader) {
	pkts := make([]*packet, batch)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		pkts[i] = m.pool.Get().(*packet)
		ms[i].Buffers = [][]byte{pkts[i].buf}
	}
	defer func() {
		for _, p := range pkts {
			m.pool.Put(p)
		}
	}()
	for {
		n, err := br.ReadBatch(ms, 0)
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			m.cfg.Logger.Warn("icemux: read", "err", err)
			continue
		}
		for i := range n {
			ua, ok := ms[i].Addr.(*net.UDPAddr)
			if !ok || ms[i].N > MaxPacket || ms[i].Flags&msgTrunc != 0 {
				continue
			}
			pkts[i].n = ms[i].N
			if m.dispatch(pkts[i], canonical(ua.AddrPort())) {
				pkts[i] = m.pool.Get().(*packet)
				ms[i].Buffers[0] = pkts[i].buf
			}
		}
	}
}

func (m *Mux) readOneByOne(s net.PacketConn) {
	p := m.pool.Get().(*packet)
	defer func() { m.pool.Put(p) }()
	for {
		n, addr, err := s.ReadFrom(p.buf)
		if err != nil {
			if m.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			m.cfg.Logger.Warn("icemux: read", "err", err)
			continue
		}
		ua, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		ap := ua.AddrPort()
		if !ap.IsValid() {
			continue
		}
		p.n = n
		if m.dispatch(p, canonical(netip.AddrPortFrom(ap.Addr(), ap.Port()))) {
			p = m.pool.Get().(*packet)
		}
	}
}

func (m *Mux) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}
