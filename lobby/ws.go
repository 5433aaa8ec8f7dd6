//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// wsTransport is a WebSocket through coder/websocket; ws_js.go is the
// browser's twin.
type wsTransport struct{ c *websocket.Conn }

// dialWS opens the player's WebSocket to the lobby at u.
func dialWS(ctx context.Context, u string) (transport, error) {
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(maxLobbyMessage)
	return wsTransport{ws}, nil
}

func (t wsTransport) Read(ctx context.Context) ([]byte, error) {
	typ, b, err := t.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, fmt.Errorf("%w: binary message; the protocol is JSON text", ErrProtocol)
	}
	return b, nil
}

func (t wsTransport) Write(ctx context.Context, b []byte) error {
	return t.c.Write(ctx, websocket.MessageText, b)
}

func (t wsTransport) Ping(ctx context.Context) error { return t.c.Ping(ctx) }

func (t wsTransport) Close(code int, reason string) error {
	return t.c.Close(websocket.StatusCode(code), reason)
}

// memPipe returns two connected in-memory transports. Closing either end
// closes both, and reads then fail with the close code, like a WebSocket.
func memPipe() (a, b transport) {
	p := &mem{done: make(chan struct{})}
	x := make(chan []byte, 256)
	y := make(chan []byte, 256)
	return &memEnd{p: p, in: x, out: y}, &memEnd{p: p, in: y, out: x}
}

type mem struct {
	once sync.Once
	done chan struct{}
	err  error // a websocket.CloseError, set before done is closed
}

type memEnd struct {
	p       *mem
	in, out chan []byte
}

func (e *memEnd) Read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-e.in:
		return b, nil
	case <-e.p.done:
		// Deliver what was written before the close, as a WebSocket would.
		select {
		case b := <-e.in:
			return b, nil
		default:
		}
		return nil, e.p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *memEnd) Write(ctx context.Context, b []byte) error {
	select {
	case <-e.p.done:
		return e.p.err
	default:
	}
	select {
	case e.out <- b:
		return nil
	case <-e.p.done:
		return e.p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *memEnd) Ping(context.Context) error {
	select {
	case <-e.p.done:
		return e.p.err
	default:
		return nil
	}
}

func (e *memEnd) Close(code int, reason string) error {
	e.p.once.Do(func() {
		e.p.err = websocket.CloseError{Code: websocket.StatusCode(code), Reason: reason}
		close(e.p.done)
	})
	return nil
}

// closeCode reports the close code in err, or -1.
func closeCode(err error) int {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code)
	}
	return -1
}
