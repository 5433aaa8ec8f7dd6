//go:build !js

package netcode

import (
	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

// openChannel gives the read loop a blocking Read on dc: natively, pion's
// detached channel (settings.go turns detaching on).
func openChannel(dc *webrtc.DataChannel) (datachannel.ReadWriteCloser, error) {
	return dc.Detach()
}
