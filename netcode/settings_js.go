//go:build js

package netcode

import "github.com/pion/webrtc/v4"

// newClientAPI is the browser twin of settings.go: the browser owns ICE,
// timers and interfaces, and channels are read through OnMessage
// (channel_js.go), so there is nothing to set. Config fields documented as
// not applicable in the browser are ignored here.
func newClientAPI(*Config) *webrtc.API {
	return webrtc.NewAPI()
}
