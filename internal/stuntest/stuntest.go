// Package stuntest is a STUN server for tests, on loopback: it answers
// binding requests with the address it saw them from, or with a fixed one,
// as a STUN server outside a 1:1 NAT sees the NAT's public side.
package stuntest

import (
	"net"
	"net/netip"
	"sync"

	"github.com/pion/stun/v4"
)

// Server answers STUN binding requests until Close.
type Server struct {
	c    *net.UDPConn
	done chan struct{}
	once sync.Once
}

// New starts a server on 127.0.0.1 that answers with mapped, or with the
// request's own source when mapped is the zero AddrPort.
func New(mapped netip.AddrPort) (*Server, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	s := &Server{c: c, done: make(chan struct{})}
	go s.serve(mapped)
	return s, nil
}

func (s *Server) serve(mapped netip.AddrPort) {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if req.Decode() != nil || req.Type != stun.BindingRequest {
			continue
		}
		addr := from
		if mapped.IsValid() {
			addr = mapped
		}
		res, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: addr.Addr().AsSlice(), Port: int(addr.Port())}, stun.Fingerprint)
		if err == nil {
			_, _ = s.c.WriteToUDPAddrPort(res.Raw, from)
		}
	}
}

// Addr is where the server listens.
func (s *Server) Addr() netip.AddrPort { return s.c.LocalAddr().(*net.UDPAddr).AddrPort() }

// URL is the server's stun: URL.
func (s *Server) URL() string { return "stun:" + s.Addr().String() }

// Close stops the server and waits for it.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() { err = s.c.Close() })
	<-s.done
	return err
}
