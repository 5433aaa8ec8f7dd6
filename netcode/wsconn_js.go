//go:build js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
)

// wsClientConn is a client's signaling WebSocket on the browser's own
// WebSocket (wsconn.go is coder/websocket's twin, which in the browser
// would bring net/http, megabytes of .wasm, with it). Handlers only queue
// what arrives; reads wait in Go.
type wsClientConn struct {
	ws js.Value
	on browser.Handlers
	in *browser.Inbox // ends with the close, or a failure
}

// maxQueuedSignals bounds what waits for the session's signal reader,
// which drains it continuously; a server that sends more is broken.
const maxQueuedSignals = 1024

// errWSBroken is a WebSocket that closed without a closing handshake
// (status 1006): the network, not the server, ended it.
var errWSBroken = errors.New("websocket signaling: connection lost")

// dialSigConn opens a signaling WebSocket to url.
func dialSigConn(ctx context.Context, url string) (sigConn, error) {
	ctor, err := browser.Global("WebSocket")
	if err == nil {
		ctor, err = browser.New(ctor, url, []any{signalSubprotocol})
	}
	if err != nil {
		return nil, fmt.Errorf("%w: websocket %s: %v", ErrSignaling, url, err)
	}
	w := &wsClientConn{ws: ctor, in: browser.NewInbox(maxQueuedSignals)}
	opened := make(chan struct{}, 1)
	closed := make(chan struct{})
	w.on.On(w.ws, "onopen", func(js.Value) { opened <- struct{}{} })
	w.on.On(w.ws, "onmessage", func(ev js.Value) {
		data := ev.Get("data")
		if data.Type() != js.TypeString {
			w.fail(fmt.Errorf("%w: binary message; signals are JSON text", ErrProtocol))
			return
		}
		b := []byte(data.String())
		if len(b) > maxSignalMessage {
			w.fail(fmt.Errorf("%w: message of %d bytes, limit %d", ErrProtocol, len(b), maxSignalMessage))
			return
		}
		if err := w.in.Push(b); errors.Is(err, browser.ErrBacklog) {
			w.fail(fmt.Errorf("%w: %v", ErrProtocol, err))
		}
	})
	w.on.On(w.ws, "onclose", func(ev js.Value) {
		// A close event without a clean closing handshake (1006) is a
		// connection that broke; with one, the server closed it.
		if code := ev.Get("code").Int(); ev.Get("wasClean").Bool() && code != 1006 {
			w.in.Fail(&wsCloseError{code: code, reason: ev.Get("reason").String()})
		} else {
			w.in.Fail(errWSBroken)
		}
		close(closed)
		w.on.Release()
	})
	// An error event is always followed by the close event, which says
	// more; the browser tells a page nothing else about it.
	select {
	case <-opened:
	case <-closed:
		return nil, fmt.Errorf("%w: websocket %s: %v", ErrSignaling, url, w.in.Err())
	case <-ctx.Done():
		w.close()
		return nil, fmt.Errorf("%w: websocket %s: %w", ErrSignaling, url, ctx.Err())
	}
	if got := w.ws.Get("protocol").String(); got != signalSubprotocol {
		w.close()
		return nil, fmt.Errorf("%w: websocket %s speaks subprotocol %q, want %q", ErrSignaling, url, got, signalSubprotocol)
	}
	return w, nil
}

// fail ends the inbox with err and closes the WebSocket.
func (w *wsClientConn) fail(err error) {
	w.in.Fail(err)
	w.close()
}

func (w *wsClientConn) read(ctx context.Context) ([]byte, error) {
	b, err := w.in.Next(ctx.Done())
	if errors.Is(err, browser.ErrDone) {
		return nil, ctx.Err()
	}
	return b, err
}

// write never blocks: the browser queues the message.
func (w *wsClientConn) write(_ context.Context, b []byte) error {
	if err := w.in.Err(); err != nil {
		return err
	}
	if _, err := browser.Call(w.ws, "send", string(b)); err != nil {
		return fmt.Errorf("websocket signaling: send: %w", err)
	}
	return nil
}

// close starts the closing handshake and releases the handlers: nothing
// more is read, and reads end.
func (w *wsClientConn) close() {
	w.in.Fail(fmt.Errorf("websocket signaling: %w", ErrClosed))
	_, _ = browser.Call(w.ws, "close", wsNormal, "")
	w.on.Release()
}
