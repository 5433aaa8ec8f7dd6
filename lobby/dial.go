//go:build !js

package lobby

import (
	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

func dialOptions(c *ClientConfig) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: c.HTTPClient, Subprotocols: []string{proto.Subprotocol}}
}
