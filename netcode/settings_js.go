//go:build js

package netcode

import "github.com/pion/webrtc/v4"

// newClientAPI is the browser twin of settings.go: the browser owns ICE,
// timers and interfaces, so detaching is all there is to set. Config fields
// documented as not applicable in the browser are ignored here.
func newClientAPI(cfg *Config) *webrtc.API {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}
