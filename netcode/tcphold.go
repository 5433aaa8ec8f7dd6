//go:build !js

package netcode

import (
	"net"
	"sync"
	"time"
)

// tcpHold is how long the server holds a new ICE-TCP connection before it
// reads the first check on it, so that UDP wins over ICE-TCP wherever both
// work. The client nominates the first pair to succeed, and a TCP pair that
// happened to succeed first would carry the whole session over TCP, with
// its head-of-line blocking (seen in about one connect in ten on a loaded
// machine). Held here, TCP costs only the players whose UDP is blocked,
// and only once, where holding every direct pair on the client (pion's
// host acceptance wait) made every connect wait out pion's 200 ms
// nomination tick.
const tcpHold = 150 * time.Millisecond

// holdListener hands out connections whose first read waits until hold
// has passed since they were accepted. pion's ICE-TCP mux reads each
// connection on a goroutine of its own, so the wait holds up no other.
type holdListener struct {
	net.Listener
	hold time.Duration
}

func (l holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, until: time.Now().Add(l.hold)}, nil
}

type heldConn struct {
	net.Conn
	until time.Time
	once  sync.Once
}

func (c *heldConn) Read(b []byte) (int, error) {
	c.once.Do(func() { time.Sleep(time.Until(c.until)) })
	return c.Conn.Read(b)
}
