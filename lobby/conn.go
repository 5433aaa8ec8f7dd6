//go:build !js

package lobby

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/proto"
	"golang.org/x/time/rate"
)

// Timeouts of a lobby connection's writer.
const (
	writeTimeout = 10 * time.Second
	pingInterval = 20 * time.Second
	flushTimeout = time.Second
)

// conn is one player's or game server's connection as the lobby sees it
// (and, in gameserver.go, the game server's link as it sees the lobby). Its
// reader is the HTTP handler's goroutine (serve), its writer the writeLoop
// goroutine; all protocol state lives in the hub, which talks to a conn only
// by queueing messages (send) and closing it.
//
// A conn is one of two kinds. A player's queue is bounded: a player that
// does not read is closed (1008) rather than buffered for without bound. A
// link to a game server is flow-controlled instead: it is never closed for
// being behind, since every room on the server would go with it. Senders
// that can wait (the readers that feed the hub messages for the link)
// reserve a place first and wait while limit places are taken; senders that
// cannot (the hub) always queue, and what they queue is bounded by what the
// waiting senders let through.
type conn struct {
	t    transport
	ip   string
	done chan struct{}
	once sync.Once
	// code and reason are set once, before done is closed.
	code   int
	reason string

	lim, ipLim *rate.Limiter // nil for game servers
	full       func()        // called when a player's queue overflows (1008), for the metrics

	// id names the connection in a shared store (node.go), and who the
	// player or game server it belongs to; set by its reader as it attaches,
	// read by that reader only.
	id  string
	who string

	link  bool // flow-controlled (a game-server link)
	limit int  // player: more waiting closes it; link: reservations wait here

	mu       sync.Mutex
	q        [][]byte      // waiting for the writer
	reserved int           // link: places held by senders about to queue
	roomC    chan struct{} // link: closed when a waiting sender may go on
	wake     chan struct{} // one slot: there is something to write

	// route is the game-server link a player's signals go to, set by the
	// hub as the player is seated, so that the player's reader can wait for
	// room on it before passing a signal on.
	route atomic.Pointer[conn]

	// Owned by the hub goroutine.
	player *player
	gs     *gameServer
}

func newConn(t transport, ip string, queue int) *conn {
	return &conn{t: t, ip: ip, limit: queue, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// newLink is a flow-controlled conn to or from a game server; senders that
// reserve wait while queue messages are waiting.
func newLink(t transport, ip string, queue int) *conn {
	c := newConn(t, ip, queue)
	c.link = true
	return c
}

// send queues one message without blocking (see conn).
func (c *conn) send(typ string, msg any) {
	b, err := proto.Encode(typ, msg)
	if err != nil {
		c.close(proto.CloseInternal, "internal encoding error")
		return
	}
	c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) {
	c.mu.Lock()
	if c.closed() {
		c.mu.Unlock()
		return
	}
	if !c.link && len(c.q) >= c.limit {
		c.mu.Unlock()
		if c.full != nil && !c.closed() {
			c.full()
		}
		c.close(proto.ClosePolicy, "not reading: send queue full")
		return
	}
	c.q = append(c.q, b)
	c.mu.Unlock()
	notify(c.wake)
}

// sendError answers a request with an error code.
func (c *conn) sendError(id, code, msg string) {
	c.send(proto.TypeError, &proto.Error{Envelope: proto.Envelope{ID: id}, Code: code, Message: msg})
}

// reserve waits until the link has room for one more message and holds a
// place for it, which unreserve or sendReserved give back. It returns false
// without a place when the link closes or stop or stop2 ends first.
func (c *conn) reserve(stop, stop2 <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.closed() {
			c.mu.Unlock()
			return false
		}
		if len(c.q)+c.reserved < c.limit {
			c.reserved++
			c.mu.Unlock()
			return true
		}
		if c.roomC == nil {
			c.roomC = make(chan struct{})
		}
		wait := c.roomC
		c.mu.Unlock()
		select {
		case <-wait:
		case <-c.done:
			return false
		case <-stop:
			return false
		case <-stop2:
			return false
		}
	}
}

// unreserve gives back a place taken by reserve.
func (c *conn) unreserve() {
	c.mu.Lock()
	c.reserved--
	c.roomLocked()
	c.mu.Unlock()
}

// sendReserved queues b in the place reserve took for it.
func (c *conn) sendReserved(b []byte) {
	c.mu.Lock()
	c.reserved--
	if c.closed() {
		c.mu.Unlock()
		return
	}
	c.q = append(c.q, b)
	c.mu.Unlock()
	notify(c.wake)
}

// roomLocked lets waiting senders go on once there is room.
func (c *conn) roomLocked() {
	if c.roomC != nil && len(c.q)+c.reserved < c.limit {
		close(c.roomC)
		c.roomC = nil
	}
}

// pop takes the oldest waiting message.
func (c *conn) pop() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.q) == 0 {
		return nil, false
	}
	b := c.q[0]
	c.q[0] = nil
	c.q = c.q[1:]
	if len(c.q) == 0 {
		c.q = nil // let a burst's backing array go
	}
	c.roomLocked()
	return b, true
}

// queued is how many messages wait for the writer.
func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q)
}

// close ends the connection with a WebSocket close code once the messages
// already queued (typically the error that explains the close) are written.
func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.code, c.reason = code, reason
		close(c.done)
		if c.roomC != nil {
			close(c.roomC)
			c.roomC = nil
		}
		c.mu.Unlock()
	})
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// writeLoop owns writing to the transport and its final close.
func (c *conn) writeLoop() {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		// A busy queue still gets its pings and its close.
		select {
		case <-c.done:
			c.flush()
			_ = c.t.Close(c.code, c.reason)
			return
		case <-ping.C:
			c.ping()
			continue
		default:
		}
		if b, ok := c.pop(); ok {
			if err := c.write(b, writeTimeout); err != nil {
				c.close(proto.CloseGoingAway, "write failed")
			}
			continue
		}
		select {
		case <-c.wake:
		case <-ping.C:
			c.ping()
		case <-c.done:
		}
	}
}

func (c *conn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err := c.t.Ping(ctx)
	cancel()
	if err != nil {
		c.close(proto.CloseGoingAway, "ping failed")
	}
}

// flush writes what was queued before the close, within flushTimeout.
func (c *conn) flush() {
	deadline := time.Now().Add(flushTimeout)
	for {
		b, ok := c.pop()
		if !ok {
			return
		}
		left := time.Until(deadline)
		if left <= 0 || c.write(b, left) != nil {
			return
		}
	}
}

func (c *conn) write(b []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.t.Write(ctx, b)
}

// notify sets a one-slot wake-up channel without blocking.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
