//go:build !js

package lobby

import (
	"net"
	"sync"
)

// Listener wraps ln so that it counts every connection it accepts against
// its IP address, and closes at once one over Config.MaxTCPConnsPerIP:
// WebSockets, HTTP requests, idle keep-alive connections and refused
// upgrades alike. Serve the lobby's http.Server on it (the lobby command
// does); wrap the raw TCP listener, beneath any TLS, so that a refused
// connection costs no handshake. Stats.TCPConns counts what it holds.
//
// The lobby itself counts only its WebSockets (MaxConnsPerIP), since it
// does not own the listener: without this wrapper an address can hold any
// number of idle HTTP connections, for as long as the http.Server's
// IdleTimeout.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &ipListener{Listener: ln, s: s}
}

type ipListener struct {
	net.Listener
	s *Server
}

// Accept returns the next connection within its address's cap; those over
// it are closed and skipped, so that http.Server does not take them for a
// failing listener.
func (l *ipListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := connIP(c)
		if !l.s.countTCP(ip) {
			l.s.cfg.Logger.Debug("lobby: connection over MaxTCPConnsPerIP closed", "ip", ip)
			_ = c.Close()
			continue
		}
		return &ipConn{Conn: c, s: l.s, ip: ip}, nil
	}
}

func connIP(c net.Conn) string {
	a := c.RemoteAddr()
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// countTCP takes one of ip's connections; false when it has none left.
func (s *Server) countTCP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp[ip] >= s.cfg.MaxTCPConnsPerIP {
		return false
	}
	s.tcp[ip]++
	return true
}

func (s *Server) uncountTCP(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcp[ip]--; s.tcp[ip] <= 0 {
		delete(s.tcp, ip)
	}
}

// ipConn gives its place back once, when it is closed (by the http.Server,
// or by the lobby after a WebSocket took it over).
type ipConn struct {
	net.Conn
	s    *Server
	ip   string
	once sync.Once
}

func (c *ipConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.s.uncountTCP(c.ip) })
	return err
}
