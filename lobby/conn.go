//go:build !js

package lobby

import (
	"context"
	"sync"
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

// conn is one player's or game server's connection as the lobby sees it.
// Its reader is the HTTP handler's goroutine (serve), its writer the
// writeLoop goroutine; all protocol state lives in the hub, which talks to a
// conn only by queueing messages (send) and closing it.
type conn struct {
	t    transport
	ip   string
	out  chan []byte
	done chan struct{}
	once sync.Once
	// code and reason are set once, before done is closed.
	code   int
	reason string

	lim, ipLim *rate.Limiter // nil for game servers

	// Owned by the hub goroutine.
	player *player
	gs     *gameServer
}

func newConn(t transport, ip string, queue int) *conn {
	return &conn{t: t, ip: ip, out: make(chan []byte, queue), done: make(chan struct{})}
}

// send queues one message without blocking. A connection whose queue is
// full is closed: the lobby will not buffer without bound for a reader that
// does not read, nor stall everyone else waiting for it.
func (c *conn) send(typ string, msg any) {
	b, err := proto.Encode(typ, msg)
	if err != nil {
		c.close(proto.CloseInternal, "internal encoding error")
		return
	}
	c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- b:
	default:
		c.close(proto.ClosePolicy, "not reading: send queue full")
	}
}

// sendError answers a request with an error code.
func (c *conn) sendError(id, code, msg string) {
	c.send(proto.TypeError, &proto.Error{Envelope: proto.Envelope{ID: id}, Code: code, Message: msg})
}

// close ends the connection with a WebSocket close code once the messages
// already queued (typically the error that explains the close) are written.
func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
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
		select {
		case b := <-c.out:
			if err := c.write(b, writeTimeout); err != nil {
				c.close(proto.CloseGoingAway, "write failed")
			}
		case <-ping.C:
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			err := c.t.Ping(ctx)
			cancel()
			if err != nil {
				c.close(proto.CloseGoingAway, "ping failed")
			}
		case <-c.done:
			c.flush()
			_ = c.t.Close(c.code, c.reason)
			return
		}
	}
}

// flush writes what was queued before the close, within flushTimeout.
func (c *conn) flush() {
	deadline := time.Now().Add(flushTimeout)
	for {
		select {
		case b := <-c.out:
			left := time.Until(deadline)
			if left <= 0 || c.write(b, left) != nil {
				return
			}
		default:
			return
		}
	}
}

func (c *conn) write(b []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.t.Write(ctx, b)
}
