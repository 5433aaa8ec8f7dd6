//go:build !js

package icemux

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun/v4"
)

// discoverRetry is the wait before a binding request is sent again (RFC
// 8489 starts at 500 ms; a server starting up can afford to be brisker).
const discoverRetry = 250 * time.Millisecond

// Discover asks the STUN server at server which address the port's
// traffic comes from, as seen from outside: through a 1:1 NAT, the public
// address and port that players must be told. The request leaves from the
// mux's own socket, so the answer is the mapping of the port clients reach,
// not of some other socket. It retries until ctx ends.
func (m *Mux) Discover(ctx context.Context, server netip.AddrPort) (netip.AddrPort, error) {
	msg, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("icemux: STUN request: %w", err)
	}
	reply := make(chan []byte, 1)
	m.discMu.Lock()
	m.pending[msg.TransactionID] = reply
	m.nPending.Add(1)
	m.discMu.Unlock()
	defer func() {
		m.discMu.Lock()
		delete(m.pending, msg.TransactionID)
		m.nPending.Add(-1)
		m.discMu.Unlock()
	}()
	dst := net.UDPAddrFromAddrPort(server)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return netip.AddrPort{}, fmt.Errorf("icemux: STUN server %s did not answer: %w", server, ctx.Err())
		case <-m.done:
			return netip.AddrPort{}, ErrClosed
		case <-t.C:
			if _, err := m.socks[0].WriteTo(msg.Raw, dst); err != nil {
				return netip.AddrPort{}, fmt.Errorf("icemux: STUN request to %s: %w", server, err)
			}
			t.Reset(discoverRetry)
		case raw := <-reply:
			res := &stun.Message{Raw: raw}
			if err := res.Decode(); err != nil {
				return netip.AddrPort{}, fmt.Errorf("icemux: STUN answer from %s: %w", server, err)
			}
			if res.Type != stun.BindingSuccess {
				return netip.AddrPort{}, fmt.Errorf("icemux: STUN server %s answered %s", server, res.Type)
			}
			var xa stun.XORMappedAddress
			if err := xa.GetFrom(res); err != nil {
				return netip.AddrPort{}, fmt.Errorf("icemux: STUN answer from %s: %w", server, err)
			}
			ip, ok := netip.AddrFromSlice(xa.IP)
			if !ok {
				return netip.AddrPort{}, fmt.Errorf("icemux: STUN answer from %s: bad address %v", server, xa.IP)
			}
			return netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port)), nil
		}
	}
}

// discovered hands a STUN response to the Discover waiting for it; false
// when none is.
func (m *Mux) discovered(b []byte) bool {
	if m.nPending.Load() == 0 {
		return false // the common case, and a flood of answers costs nothing
	}
	id := transactionID(b)
	m.discMu.Lock()
	reply, ok := m.pending[id]
	if ok {
		delete(m.pending, id)
	}
	m.discMu.Unlock()
	if ok {
		reply <- append([]byte(nil), b...)
	}
	return ok
}
