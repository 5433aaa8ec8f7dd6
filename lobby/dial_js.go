package lobby

import (
	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// dialOptions in the browser: the browser makes the handshake, so only the
// subprotocol applies.
func dialOptions(*ClientConfig) *websocket.DialOptions {
	return &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}}
}
