//go:build js

package netcode

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

// maxQueuedMessages bounds what a browser channel holds for its read loop.
// The read loop drains it continuously; a backlog this long means the Go
// side has stalled, and the channel fails rather than grow without bound.
const maxQueuedMessages = 1 << 14

// openChannel gives the read loop a blocking Read on dc. In the browser,
// pion's detached channel hands each message from the OnMessage callback to
// the reader through an unbuffered channel, so the callback, and with it
// the browser's event loop, waits for the Go reader every time. Here the
// callback only queues the message and returns.
func openChannel(dc *webrtc.DataChannel) (datachannel.ReadWriteCloser, error) {
	c := &jsChannel{dc: dc, ready: make(chan struct{}, 1), closed: make(chan struct{})}
	dc.OnMessage(c.push)
	dc.OnClose(func() { c.fail(io.EOF) })
	return c, nil
}

type jsChannel struct {
	dc    *webrtc.DataChannel
	ready chan struct{} // a message or an error is waiting

	mu     sync.Mutex
	queue  [][]byte
	err    error
	once   sync.Once
	closed chan struct{}
}

func (c *jsChannel) push(msg webrtc.DataChannelMessage) {
	c.mu.Lock()
	if c.err == nil && len(c.queue) >= maxQueuedMessages {
		c.err = fmt.Errorf("netcode: %s channel: %d messages unread", c.dc.Label(), len(c.queue))
	}
	if c.err == nil {
		c.queue = append(c.queue, msg.Data)
	}
	c.mu.Unlock()
	c.wake()
}

func (c *jsChannel) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.wake()
}

func (c *jsChannel) wake() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// Read returns the next message, io.ErrShortBuffer (and drops the message)
// when it does not fit p, like pion's detached channel.
func (c *jsChannel) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.mu.Unlock()
			if len(m) > len(p) {
				return 0, io.ErrShortBuffer
			}
			return copy(p, m), nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-c.ready:
		case <-c.closed:
			return 0, errClosedChannel
		}
	}
}

var errClosedChannel = errors.New("netcode: data channel closed")

func (c *jsChannel) ReadDataChannel(p []byte) (int, bool, error) {
	n, err := c.Read(p)
	return n, false, err
}

func (c *jsChannel) Write(p []byte) (int, error) {
	if err := c.dc.Send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *jsChannel) WriteDataChannel(p []byte, isString bool) (int, error) {
	if isString {
		return len(p), c.dc.SendText(string(p))
	}
	return c.Write(p)
}

func (c *jsChannel) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.dc.Close()
}
