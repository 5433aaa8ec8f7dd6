package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tickwire/tickwire/netcode"
)

// maxSignalSize bounds one signaling message; netcode refuses offers over
// 64 KiB, and candidates are tiny.
const maxSignalSize = 128 << 10

// wsSignaler carries netcode signals as JSON text messages on a WebSocket,
// as a lobby does, reduced to one client-server pair. ccu uses it because
// its clients live in other processes than the server.
type wsSignaler struct {
	c *websocket.Conn
}

func newWSSignaler(c *websocket.Conn) *wsSignaler {
	c.SetReadLimit(maxSignalSize)
	return &wsSignaler{c: c}
}

func (s *wsSignaler) WriteSignal(ctx context.Context, sig netcode.Signal) error {
	if err := wsjson.Write(ctx, s.c, sig); err != nil {
		return fmt.Errorf("websocket signaling: %w", err)
	}
	return nil
}

// ReadSignal returns the next signal. Note that coder/websocket closes the
// connection when ctx ends during a read; netcode reads with a context that
// ends only when the connection closes anyway.
func (s *wsSignaler) ReadSignal(ctx context.Context) (netcode.Signal, error) {
	var sig netcode.Signal
	if err := wsjson.Read(ctx, s.c, &sig); err != nil {
		return netcode.Signal{}, fmt.Errorf("websocket signaling: %w", err)
	}
	return sig, nil
}

// Close drops the connection without the closing handshake, which would
// wait up to five seconds for a peer that is itself closing.
func (s *wsSignaler) Close() error {
	_ = s.c.CloseNow()
	return nil
}

// serveSignaling serves WebSocket signaling on loopback, each connection
// to handle, which owns the signaler it gets; stop closes the server and
// waits for the handlers.
func serveSignaling(handle func(sig *wsSignaler)) (url string, stop func(), err error) {
	var handlers tracker
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !handlers.enter() {
			return
		}
		defer handlers.exit()
		c, err := websocket.Accept(w, req, nil)
		if err != nil {
			return
		}
		handle(newWSSignaler(c))
	})}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("signaling listen: %w", err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln)
	}()
	return "ws://" + ln.Addr().String() + "/", func() {
		_ = hs.Close()
		<-served
		handlers.closeAndWait()
	}, nil
}

// dialSignaling opens a WebSocket signaling connection to url.
func dialSignaling(ctx context.Context, url string) (*wsSignaler, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("signaling dial: %w", err)
	}
	return newWSSignaler(c), nil
}

// tracker counts running HTTP handlers so that shutdown can wait for them:
// http.Server.Close does not wait for hijacked connections.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers a handler; false means shutdown has begun.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) exit() { t.wg.Done() }

func (t *tracker) closeAndWait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
