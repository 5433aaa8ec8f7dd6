//go:build js

package netcode

// NativeConfig is empty in the browser build: the page's own WebRTC stack
// runs ICE, DTLS and SCTP with timers of its own and gathers candidates on
// the networks it picks, and offers nothing to set them with. It exists so
// that Config has the same shape in both builds; browser code that sets a
// native-only field fails to compile rather than being silently ignored.
type NativeConfig struct{}

// resolve has nothing to fill in or check.
func (*NativeConfig) resolve() error { return nil }
