//go:build js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// wsTransport is the browser's own WebSocket (ws.go is coder/websocket's
// twin, which in the browser would bring net/http, megabytes of .wasm,
// with it). Handlers only queue what arrives; reads wait in Go.
type wsTransport struct {
	ws js.Value
	on browser.Handlers
	in *browser.Inbox // ends with the close, or a failure
}

// maxQueuedLobbyMessages bounds what waits for the read loop, which drains
// it continuously.
const maxQueuedLobbyMessages = 1024

// closeError is how the browser's WebSocket reports its close.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("websocket closed: status %d, reason %q", e.code, e.reason)
}

// dialWS opens the player's WebSocket to the lobby at u.
func dialWS(ctx context.Context, u string) (transport, error) {
	ctor, err := browser.Global("WebSocket")
	if err == nil {
		ctor, err = browser.New(ctor, u, []any{proto.Subprotocol})
	}
	if err != nil {
		return nil, err
	}
	t := &wsTransport{ws: ctor, in: browser.NewInbox(maxQueuedLobbyMessages)}
	opened := make(chan struct{}, 1)
	closed := make(chan struct{})
	t.on.On(t.ws, "onopen", func(js.Value) { opened <- struct{}{} })
	t.on.On(t.ws, "onmessage", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			t.fail(fmt.Errorf("%w: binary message; the protocol is JSON text", ErrProtocol), proto.CloseProtocol)
			return
		}
		b := []byte(data.String())
		if len(b) > maxLobbyMessage {
			t.fail(fmt.Errorf("%w: message of %d bytes from the lobby, limit %d", ErrProtocol, len(b), maxLobbyMessage), proto.CloseProtocol)
			return
		}
		// Once the transport has failed, Push refuses quietly.
		if err := t.in.Push(b); errors.Is(err, browser.ErrBacklog) {
			t.fail(fmt.Errorf("lobby: %w", err), proto.CloseProtocol)
		}
	})
	t.on.On(t.ws, "onclose", func(ev js.Value) {
		t.fail(&closeError{code: ev.Get("code").Int(), reason: ev.Get("reason").String()}, 0)
		close(closed)
		// Nothing follows a close event. A connection the lobby dropped
		// is not closed by the client, which dials a new one: its
		// handlers are released here.
		t.on.Release()
	})
	// An error event is always followed by the close event, which says
	// more; the browser tells a page nothing else about it.
	select {
	case <-opened:
	case <-closed:
		return nil, t.in.Err()
	case <-ctx.Done():
		t.close(proto.CloseNormal, "")
		return nil, ctx.Err()
	}
	if got := t.ws.Get("protocol").String(); got != proto.Subprotocol {
		t.close(proto.CloseProtocol, "")
		return nil, fmt.Errorf("%w: the lobby speaks subprotocol %q, want %q", ErrProtocol, got, proto.Subprotocol)
	}
	return t, nil
}

// fail records err as the end of the stream, and closes with code if not 0.
func (t *wsTransport) fail(err error, code int) {
	t.in.Fail(err)
	if code != 0 {
		_ = t.close(code, "")
	}
}

// close starts the closing handshake and releases the handlers: nothing
// more is read. Browsers accept only 1000 and 3000-4999 from a page.
func (t *wsTransport) close(code int, reason string) error {
	if code != 1000 && (code < 3000 || code > 4999) {
		code = 1000
	}
	_, err := browser.Call(t.ws, "close", code, reason)
	t.on.Release()
	return err
}

func (t *wsTransport) Read(ctx context.Context) ([]byte, error) {
	b, err := t.in.Next(ctx.Done())
	if errors.Is(err, browser.ErrDone) {
		return nil, ctx.Err()
	}
	return b, err
}

// Write never blocks: the browser queues the message.
func (t *wsTransport) Write(_ context.Context, b []byte) error {
	if err := t.in.Err(); err != nil {
		return err
	}
	if _, err := browser.Call(t.ws, "send", string(b)); err != nil {
		return fmt.Errorf("lobby: send: %w", err)
	}
	return nil
}

// Ping does nothing: a page cannot send WebSocket pings; the browser
// answers the lobby's.
func (t *wsTransport) Ping(context.Context) error { return nil }

// Close closes with code; reads then fail.
func (t *wsTransport) Close(code int, reason string) error {
	t.fail(&closeError{code: code, reason: reason}, 0)
	return t.close(code, reason)
}

// closeCode reports the close code in err, or -1.
func closeCode(err error) int {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.code
	}
	return -1
}
