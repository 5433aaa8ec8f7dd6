package lobby

import "context"

// transport carries whole protocol messages: a WebSocket between processes
// (ws.go, and in the browser ws_js.go), or an in-memory pipe for a game
// server in the lobby's own process. Both go through the same encoding and
// the same code paths, so the embedded default tests the remote protocol
// too.
type transport interface {
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, b []byte) error
	Ping(ctx context.Context) error
	// Close closes with a WebSocket close code, as PROTOCOL.md lists them.
	Close(code int, reason string) error
}

// maxLobbyMessage bounds a message from the lobby to a player.
const maxLobbyMessage = 1 << 20

// maxGuestAnswer bounds the lobby's answer to POST /v1/guest.
const maxGuestAnswer = 16 << 10
