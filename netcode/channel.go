//go:build !js

package netcode

import (
	"io"

	"github.com/pion/webrtc/v4"
)

// rtcChannel is one data channel as a link uses it: pion's here, the
// browser's RTCDataChannel in channel_js.go.
type rtcChannel struct {
	dc *webrtc.DataChannel
}

func (c *rtcChannel) label() string { return c.dc.Label() }

// info reports the parameters pion negotiated.
func (c *rtcChannel) info() ChannelInfo {
	return ChannelInfo{Label: c.dc.Label(), Protocol: c.dc.Protocol(), Ordered: c.dc.Ordered(), MaxRetransmits: c.dc.MaxRetransmits()}
}

func (c *rtcChannel) bufferedAmount() uint64 { return c.dc.BufferedAmount() }

// onOpen calls f once the channel is open, with a blocking reader and
// writer on it: pion's detached channel (settings.go turns detaching on).
// A detached channel must be read, or an unreliable one stays reliable
// (FIELD-NOTES.md, "pion traps"): the link starts its read loops at once.
func (c *rtcChannel) onOpen(f func(io.ReadWriteCloser, error)) {
	c.dc.OnOpen(func() {
		rw, err := c.dc.Detach()
		f(rw, err)
	})
}
