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
//
// Closing it ends the waits at once, with an error: pion's mux registers a
// connection whose first read returns without taking note that the mux
// has closed meanwhile, and its Close then waits for that connection for
// ever (pion/ice v4.4.8 tcp_mux.go, handleConn against Close). The server
// closes this listener as its shutdown starts, long before the mux, so
// that no held read returns across the mux's Close.
type holdListener struct {
	net.Listener
	hold    time.Duration
	closing chan struct{}
	once    sync.Once
}

func newHoldListener(l net.Listener, hold time.Duration) *holdListener {
	return &holdListener{Listener: l, hold: hold, closing: make(chan struct{})}
}

func (l *holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &heldConn{Conn: c, until: time.Now().Add(l.hold), closing: l.closing}, nil
}

// Close stops accepting and ends every wait; it may be called again.
func (l *holdListener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.closing)
		err = l.Listener.Close()
	})
	return err
}

type heldConn struct {
	net.Conn
	until   time.Time
	closing <-chan struct{}
	once    sync.Once
}

func (c *heldConn) Read(b []byte) (int, error) {
	var err error
	c.once.Do(func() {
		t := time.NewTimer(time.Until(c.until))
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.closing:
			err = net.ErrClosed
		}
	})
	if err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}
