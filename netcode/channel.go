//go:build !js

package netcode

import (
	"errors"
	"io"
	"sync"

	"github.com/pion/webrtc/v4"
)

// rtcChannel is one data channel as a link uses it: pion's here, the
// browser's RTCDataChannel in channel_js.go.
type rtcChannel struct {
	dc *webrtc.DataChannel
	// local: this side created it (the client), and it opens as soon as
	// the peer is dialed, not a round trip later when the peer's ack
	// arrives, as pion's OnOpen has it: the protocol lets the opener send
	// at once (RFC 8832, section 6), and a connect is that much faster.
	local bool
}

// channelHandlers receive a channel's events. They run on the stack's own
// goroutine for the channel (pion's read loop; the browser's event loop),
// one at a time and in order, so they must not block.
type channelHandlers struct {
	open func()
	// message gets each message, a slice of its own.
	message func([]byte)
	// closed is called once when the channel fails or closes; errTooBig
	// when the peer sent a message over the stack's size limit.
	closed func(error)
}

var errClosedChannel = errors.New("netcode: data channel closed")

// errTooBig is a message over what the stack accepts (its SCTP max message
// size, set from the session's own limits).
var errTooBig = errors.New("netcode: message over the size limit")

func (c *rtcChannel) label() string { return c.dc.Label() }

// info reports the parameters pion negotiated.
func (c *rtcChannel) info() ChannelInfo {
	return ChannelInfo{Label: c.dc.Label(), Protocol: c.dc.Protocol(), Ordered: c.dc.Ordered(), MaxRetransmits: c.dc.MaxRetransmits()}
}

func (c *rtcChannel) bufferedAmount() uint64 { return c.dc.BufferedAmount() }

// ready says whether the channel takes sends.
func (c *rtcChannel) ready() bool { return c.dc.ReadyState() == webrtc.DataChannelStateOpen }

// handle registers h. pion reads the channel itself and calls h.message,
// so every channel is read, and an unreliable one is really unreliable: a
// channel that is detached and never read stays reliable on the sending
// side, as the acknowledgement that switches it is read with the data.
func (c *rtcChannel) handle(h channelHandlers) {
	if c.local {
		// pion dials, calls this, and then marks the channel open: the
		// run loop waits for ready before it sends.
		c.dc.OnDial(h.open)
	} else {
		c.dc.OnOpen(h.open)
	}
	c.dc.OnMessage(func(m webrtc.DataChannelMessage) { h.message(m.Data) })
	var mu sync.Mutex
	var failed error
	c.dc.OnError(func(err error) {
		// pion's read loop reports a message too large for its buffer as a
		// short buffer, then closes.
		mu.Lock()
		failed = err
		mu.Unlock()
	})
	var once sync.Once
	c.dc.OnClose(func() {
		once.Do(func() {
			mu.Lock()
			err := failed
			mu.Unlock()
			if errors.Is(err, io.ErrShortBuffer) {
				err = errTooBig
			}
			h.closed(err)
		})
	})
}

// send queues b as one message. It never blocks: pion queues it for the
// association's writer, and bufferedAmount says how much waits.
func (c *rtcChannel) send(b []byte) error { return c.dc.Send(b) }
