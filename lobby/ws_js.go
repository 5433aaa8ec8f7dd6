//go:build js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

	ready chan struct{} // a message or the close is waiting

	mu    sync.Mutex
	queue [][]byte
	err   error // set once: the close, or a failure
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
func dialWS(ctx context.Context, u string, _ *ClientConfig) (transport, error) {
	ctor, err := browser.Global("WebSocket")
	if err == nil {
		ctor, err = browser.New(ctor, u, []any{proto.Subprotocol})
	}
	if err != nil {
		return nil, err
	}
	t := &wsTransport{ws: ctor, ready: make(chan struct{}, 1)}
	opened := make(chan struct{}, 1)
	t.on.On(t.ws, "onopen", func(js.Value) { opened <- struct{}{} })
	t.on.On(t.ws, "onmessage", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			t.fail(fmt.Errorf("%w: binary message; the protocol is JSON text", ErrProtocol), proto.CloseProtocol)
			return
		}
		b := []byte(data.String())
		t.mu.Lock()
		switch {
		case t.err != nil:
		case len(b) > maxLobbyMessage:
			t.err = fmt.Errorf("%w: message of %d bytes from the lobby, limit %d", ErrProtocol, len(b), maxLobbyMessage)
		case len(t.queue) >= maxQueuedLobbyMessages:
			t.err = fmt.Errorf("lobby: %d messages unread", len(t.queue))
		default:
			t.queue = append(t.queue, b)
		}
		failed := t.err != nil
		t.mu.Unlock()
		if failed {
			t.close(proto.CloseProtocol, "")
		}
		t.wake()
	})
	t.on.On(t.ws, "onclose", func(ev js.Value) {
		t.fail(&closeError{code: ev.Get("code").Int(), reason: ev.Get("reason").String()}, 0)
	})
	// An error event is always followed by the close event, which says
	// more; the browser tells a page nothing else about it.
	select {
	case <-opened:
	case <-t.ready:
		t.mu.Lock()
		err := t.err
		t.mu.Unlock()
		t.on.Release()
		return nil, err
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

func (t *wsTransport) wake() {
	select {
	case t.ready <- struct{}{}:
	default:
	}
}

// fail records err as the end of the stream, and closes with code if not 0.
func (t *wsTransport) fail(err error, code int) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	if code != 0 {
		t.close(code, "")
	}
	t.wake()
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
	for {
		t.mu.Lock()
		if len(t.queue) > 0 {
			b := t.queue[0]
			t.queue[0] = nil
			t.queue = t.queue[1:]
			t.mu.Unlock()
			return b, nil
		}
		err := t.err
		t.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-t.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Write never blocks: the browser queues the message.
func (t *wsTransport) Write(_ context.Context, b []byte) error {
	t.mu.Lock()
	err := t.err
	t.mu.Unlock()
	if err != nil {
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
