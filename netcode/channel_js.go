//go:build js

package netcode

import (
	"errors"
	"fmt"
	"sync"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
)

// rtcChannel is the browser's RTCDataChannel (channel.go is pion's twin).
type rtcChannel struct {
	dc   js.Value
	conn *rtcConn

	once   sync.Once
	closed func(error) // the handler, set by handle
	mu     sync.Mutex
	shut   bool
}

// channelHandlers receive a channel's events, on the browser's event loop,
// one at a time and in order: they must not block.
type channelHandlers struct {
	open func()
	// message gets each message, a slice of its own.
	message func([]byte)
	// closed is called once when the channel fails or closes.
	closed func(error)
}

// errTooBig is a message over what the stack accepts.
var errTooBig = errors.New("netcode: message over the size limit")

var errClosedChannel = errors.New("netcode: data channel closed")

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

// ready says whether the channel takes sends: from its open event on.
func (c *rtcChannel) ready() bool { return c.dc.Get("readyState").String() == "open" }

func (c *rtcChannel) bufferedAmount() uint64 {
	if n := c.dc.Get("bufferedAmount"); n.Type() == js.TypeNumber {
		return uint64(n.Float())
	}
	return 0
}

// handle registers h on the RTCDataChannel's events. A message is copied out
// of its ArrayBuffer in the handler itself, so that messages keep their
// order.
func (c *rtcChannel) handle(h channelHandlers) {
	c.closed = h.closed
	var failed error
	c.conn.on.On(c.dc, "onopen", func(js.Value) { h.open() })
	c.conn.on.On(c.dc, "onmessage", func(ev js.Value) { h.message(browser.Bytes(ev.Get("data"))) })
	c.conn.on.On(c.dc, "onerror", func(ev js.Value) {
		failed = errors.New("channel error")
		if e := ev.Get("error"); e.Type() == js.TypeObject {
			failed = fmt.Errorf("netcode: %s channel: %w", c.label(), browser.Error(e))
		}
	})
	c.conn.on.On(c.dc, "onclose", func(js.Value) { c.fail(failed) })
}

// fail reports the channel closed, once.
func (c *rtcChannel) fail(err error) {
	c.mu.Lock()
	c.shut = true
	c.mu.Unlock()
	c.once.Do(func() {
		if c.closed != nil {
			c.closed(err)
		}
	})
}

// send queues b as one message. It never blocks: the browser queues it,
// and bufferedAmount says how much waits.
func (c *rtcChannel) send(b []byte) error {
	c.mu.Lock()
	shut := c.shut
	c.mu.Unlock()
	if shut {
		return errClosedChannel
	}
	if _, err := browser.Call(c.dc, "send", browser.Uint8Array(b)); err != nil {
		return fmt.Errorf("netcode: %s channel: %w", c.label(), err)
	}
	return nil
}
