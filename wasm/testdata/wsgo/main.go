//go:build js

// Command wsgo is a Go game client compiled to WebAssembly that reaches its
// game server without a lobby: netcode.DialSignaler on the browser's own
// WebSocket, then netcode.Dial. TestBrowserWSSignaler loads it. It reports
// in window.__wsgo (JSON): once connected, then every 50 ms, its state and
// counters, until the test sets window.__wsgoClose; then it closes the
// client and reports done (and closeError if the close was not clean).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := map[string]any{}
	report := func() {
		b, _ := json.Marshal(out)
		js.Global().Set("__wsgo", string(b))
	}
	c, err := connect(ctx, out)
	if err != nil {
		out["error"] = err.Error()
		report()
		return
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !js.Global().Get("__wsgoClose").Truthy() && ctx.Err() == nil {
		st := c.Stats()
		out["restarts"], out["state"] = st.Restarts, c.State().String()
		if err := c.Err(); err != nil {
			out["closed"] = err.Error()
		}
		report()
		<-t.C
	}
	t.Stop()
	// A clean close: nil, again nil, and the client is closed locally.
	if err := c.Close(); err != nil {
		out["closeError"] = err.Error()
	}
	if err := c.Close(); err != nil {
		out["closeError"] = "second Close: " + err.Error()
	}
	var ce *netcode.CloseError
	if err := c.Err(); !errors.As(err, &ce) || ce.Remote || ce.Code != netcode.CloseNormal {
		out["closeError"] = fmt.Sprintf("after Close, Err() = %v", err)
	}
	if err := c.SendEvent([]byte("late")); !errors.Is(err, netcode.ErrClosed) {
		out["closeError"] = fmt.Sprintf("SendEvent after Close = %v, want ErrClosed", err)
	}
	out["done"] = true
	report()
	// Returning would exit while the runtime may still have a timeout
	// scheduled in the page, which then throws "Go program has already
	// exited" (wasm_exec.js): the program stays, idle, until the tab closes.
	select {}
}

// connect dials the game server this page came from and plays one round:
// an event each way and a snapshot.
func connect(ctx context.Context, out map[string]any) (*netcode.Client, error) {
	loc := js.Global().Get("location")
	url := strings.Replace(loc.Get("origin").String(), "http", "ws", 1) + "/play?name=wasm"
	// A URL that is not a signaling one: an error, not a hang.
	if _, err := netcode.DialSignaler(ctx, "ftp://nowhere", nil); err == nil {
		return nil, errors.New("DialSignaler took an ftp URL")
	}
	sig, err := netcode.DialSignaler(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c, err := netcode.Dial(ctx, sig, nil)
	if err != nil {
		return nil, err
	}
	if err := c.SendEvent([]byte("hello")); err != nil {
		return nil, err
	}
	ev, err := c.ReadEvent(ctx)
	if err != nil {
		return nil, err
	}
	out["event"] = string(ev)
	snap, err := c.ReadSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	out["snapshot"] = string(snap.Payload)
	out["connected"] = true
	return c, nil
}
