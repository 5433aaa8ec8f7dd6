//go:build !js

package lobby

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// streamLimits bound a streamListener's connections.
type streamLimits struct {
	// max is how many connections may be open at once, so that a flood of
	// them cannot take every file descriptor of the lobby's process.
	max int
	// idle closes a connection that sent nothing for this long.
	idle time.Duration
	// write closes a connection that took in nothing for this long while
	// the server had something to send it: a client that stopped reading
	// would otherwise hold a relay's goroutine in a blocked write.
	write time.Duration
	// handshake bounds a TLS handshake.
	handshake time.Duration
}

// defaultStreamLimits are a TURNServer's. A client with an allocation
// refreshes it within its lifetime (10 minutes, pion's and coturn's
// default) and its permissions every 5 minutes at the latest, and a live
// connection carries ICE checks every few seconds, so a connection quiet
// for 11 minutes holds nothing.
func defaultStreamLimits() streamLimits {
	return streamLimits{max: 1024, idle: 11 * time.Minute, write: 10 * time.Second, handshake: 10 * time.Second}
}

// streamListener hands pion/turn the connections of a TCP or TLS listener,
// and owns what pion leaves alone: pion does not close a connection whose
// TLS handshake failed, nor, when it stops, the connections it is reading,
// and it reads without a deadline. Here the TLS handshake happens before
// pion sees the connection (pion's own HandshakeContext then returns at
// once), a quiet connection is closed, only so many are open at once
// (streamLimits), and Close closes them all.
type streamListener struct {
	ln     net.Listener
	tls    *tls.Config // nil: plain TCP
	log    *slog.Logger
	limits streamLimits
	out    chan net.Conn // ready connections, for Accept
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	open    map[net.Conn]struct{} // accepted raw connections not yet closed
	remotes map[string]int        // their remote addresses, counted
}

func newStreamListener(ln net.Listener, tlsConf *tls.Config, log *slog.Logger, limits streamLimits) *streamListener {
	l := &streamListener{
		ln: ln, tls: tlsConf, log: log, limits: limits,
		out: make(chan net.Conn), done: make(chan struct{}),
		open: map[net.Conn]struct{}{}, remotes: map[string]int{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *streamListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.log.Debug("TURN accept", "err", err)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
				return
			}
		}
		backoff = 0
		if !l.track(c) {
			l.log.Debug("TURN connection refused: too many open", "client", c.RemoteAddr())
			_ = c.Close()
			continue
		}
		l.wg.Add(1)
		go l.prepare(c)
	}
}

// prepare shakes hands (TLS) and hands the connection to Accept.
func (l *streamListener) prepare(raw net.Conn) {
	defer l.wg.Done()
	var c net.Conn = &idleConn{Conn: raw, l: l}
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		// On timeout the handshake closes the connection.
		ctx, cancel := context.WithTimeout(context.Background(), l.limits.handshake)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			l.log.Debug("TURN TLS handshake failed", "client", raw.RemoteAddr(), "err", err)
			_ = c.Close()
			return
		}
		c = tc
	}
	select {
	case l.out <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// track registers a new connection, unless closed or full.
func (l *streamListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.open) >= l.limits.max {
		return false
	}
	l.open[c] = struct{}{}
	l.remotes[c.RemoteAddr().String()]++
	return true
}

func (l *streamListener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[c]; !ok {
		return
	}
	delete(l.open, c)
	k := c.RemoteAddr().String()
	if l.remotes[k]--; l.remotes[k] <= 0 {
		delete(l.remotes, k)
	}
}

// has tells whether a client address is one of this listener's open
// connections.
func (l *streamListener) has(a net.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remotes[a.String()] > 0
}

// Accept is pion's: the next connection ready for TURN.
func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.out:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes every connection and waits for the
// listener's goroutines. pion's, reading the connections, end as their
// reads fail.
func (l *streamListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.ln.Close()
		l.mu.Lock()
		l.closed = true
		conns := make([]net.Conn, 0, len(l.open))
		for c := range l.open {
			conns = append(conns, c)
		}
		l.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	l.wg.Wait()
	return err
}

// idleConn is an accepted connection: each Read waits for the idle limit
// at most, each Write for the write limit, and Close forgets it.
type idleConn struct {
	net.Conn
	l *streamListener
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.l.limits.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.l.limits.write)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		// A partial write has broken the message framing: nothing more
		// can be sent on this connection.
		_ = c.Close()
	}
	return n, err
}

func (c *idleConn) Close() error {
	c.l.untrack(c.Conn)
	return c.Conn.Close()
}
