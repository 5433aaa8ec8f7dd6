//go:build js

package netcode

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
)

// maxQueuedMessages bounds what a browser channel holds for its read loop.
// The read loop drains it continuously; a backlog this long means the Go
// side has stalled, and the channel fails rather than grow without bound.
const maxQueuedMessages = 1 << 14

// rtcChannel is the browser's RTCDataChannel (channel.go is pion's twin).
type rtcChannel struct {
	dc   js.Value
	conn *rtcConn

	mu sync.Mutex
	r  *jsChannel // once open
}

func (c *rtcChannel) label() string { return c.dc.Get("label").String() }

// info reports the parameters as the browser's RTCDataChannel has them.
func (c *rtcChannel) info() ChannelInfo {
	info := ChannelInfo{Label: c.label(), Protocol: c.dc.Get("protocol").String(), Ordered: c.dc.Get("ordered").Bool()}
	if mr := c.dc.Get("maxRetransmits"); mr.Type() == js.TypeNumber {
		n := uint16(mr.Int())
		info.MaxRetransmits = &n
	}
	return info
}

func (c *rtcChannel) bufferedAmount() uint64 {
	if n := c.dc.Get("bufferedAmount"); n.Type() == js.TypeNumber {
		return uint64(n.Float())
	}
	return 0
}

// onOpen calls f once the channel is open, with a blocking reader and
// writer on it. The message handler only copies the message into a queue
// and returns: the browser's event loop never waits for the Go reader.
func (c *rtcChannel) onOpen(f func(io.ReadWriteCloser, error)) {
	c.conn.on.On(c.dc, "onopen", func(js.Value) {
		r := &jsChannel{ch: c, in: browser.NewInbox(maxQueuedMessages), closed: make(chan struct{})}
		c.mu.Lock()
		c.r = r
		c.mu.Unlock()
		c.conn.on.On(c.dc, "onmessage", func(ev js.Value) { r.push(browser.Bytes(ev.Get("data"))) })
		c.conn.on.On(c.dc, "onclose", func(js.Value) { r.in.Fail(io.EOF) })
		c.conn.on.On(c.dc, "onerror", func(ev js.Value) {
			err := errors.New("channel error")
			if e := ev.Get("error"); e.Type() == js.TypeObject {
				err = browser.Error(e)
			}
			r.in.Fail(fmt.Errorf("netcode: %s channel: %w", c.label(), err))
		})
		f(r, nil)
	})
}

// shut fails the reader's pending and future reads: the PeerConnection is
// closed, and the browser says nothing more about the channel.
func (c *rtcChannel) shut() {
	c.mu.Lock()
	r := c.r
	c.mu.Unlock()
	if r != nil {
		r.shut()
	}
}

// jsChannel is an open RTCDataChannel as a blocking reader and writer, for
// the link's read loops.
type jsChannel struct {
	ch     *rtcChannel
	in     *browser.Inbox
	once   sync.Once
	closed chan struct{}
}

// push queues a message for the read loop; a backlog fails the channel.
func (c *jsChannel) push(msg []byte) {
	if err := c.in.Push(msg); errors.Is(err, browser.ErrBacklog) {
		c.in.Fail(fmt.Errorf("netcode: %s channel: %w", c.ch.label(), err))
	}
}

// Read returns the next message, io.ErrShortBuffer (and drops the message)
// when it does not fit p, like pion's detached channel.
func (c *jsChannel) Read(p []byte) (int, error) {
	m, err := c.in.Next(c.closed)
	switch {
	case errors.Is(err, browser.ErrDone):
		return 0, errClosedChannel
	case err != nil:
		return 0, err
	case len(m) > len(p):
		return 0, io.ErrShortBuffer
	}
	return copy(p, m), nil
}

var errClosedChannel = errors.New("netcode: data channel closed")

// Write sends p as one message. It never blocks: the browser queues it,
// and bufferedAmount says how much is queued.
func (c *jsChannel) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, errClosedChannel
	default:
	}
	if _, err := browser.Call(c.ch.dc, "send", browser.Uint8Array(p)); err != nil {
		return 0, fmt.Errorf("netcode: %s channel: %w", c.ch.label(), err)
	}
	return len(p), nil
}

func (c *jsChannel) shut() { c.once.Do(func() { close(c.closed) }) }

// Close closes the channel; pending and later reads fail.
func (c *jsChannel) Close() error {
	c.shut()
	_, err := browser.Call(c.ch.dc, "close")
	return err
}
