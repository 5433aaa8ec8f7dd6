//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"
)

// wsClientConn is a client's signaling WebSocket on coder/websocket;
// wsconn_js.go is the browser's twin.
type wsClientConn struct{ c *websocket.Conn }

// dialSigConn opens a signaling WebSocket to url.
func dialSigConn(ctx context.Context, url string) (sigConn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{signalSubprotocol}})
	if err != nil {
		// Both wrapped: a ctx that ended is told apart from a refusal.
		return nil, fmt.Errorf("%w: websocket %s: %w", ErrSignaling, url, err)
	}
	if c.Subprotocol() != signalSubprotocol {
		_ = c.Close(wsPolicy, "subprotocol "+signalSubprotocol+" required")
		return nil, fmt.Errorf("%w: websocket %s speaks subprotocol %q, want %q", ErrSignaling, url, c.Subprotocol(), signalSubprotocol)
	}
	c.SetReadLimit(maxSignalMessage)
	return wsClientConn{c}, nil
}

func (w wsClientConn) read(ctx context.Context) ([]byte, error) {
	typ, b, err := w.c.Read(ctx)
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		return nil, &wsCloseError{code: int(ce.Code), reason: ce.Reason}
	case err != nil:
		return nil, err
	case typ != websocket.MessageText:
		_ = w.c.CloseNow()
		return nil, fmt.Errorf("%w: binary message; signals are JSON text", ErrProtocol)
	}
	return b, nil
}

func (w wsClientConn) write(ctx context.Context, b []byte) error {
	return w.c.Write(ctx, websocket.MessageText, b)
}

// close skips the closing handshake, which waits up to 10 s for the other
// side: the server learns nothing from it that the session does not tell.
func (w wsClientConn) close() { _ = w.c.CloseNow() }
