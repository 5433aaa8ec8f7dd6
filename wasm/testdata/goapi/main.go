//go:build js

// Command goapi is a Go game client compiled to WebAssembly that uses the
// lobby and netcode Go APIs directly, without tickwire.js: the browser twin
// files (lobby's WebSocket and fetch, netcode's RTCPeerConnection) under
// the same API as natively. TestBrowserGoAPI loads it and reads
// window.__goapi, a JSON report; the program then sends an input every
// 50 ms until the test sets window.__goapiClose.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"
	"time"

	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
	"github.com/vmihailenco/msgpack/v5"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]any{}
	nc, err := run(ctx, out)
	if err != nil {
		out["error"] = err.Error()
	}
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	js.Global().Set("__goapi", string(b))
	if nc == nil {
		return
	}
	// Inputs are unreliable: one might be lost, so send until told to stop.
	in, _ := msgpack.Marshal(map[string]any{"x": 1})
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !js.Global().Get("__goapiClose").Truthy() && ctx.Err() == nil {
		_ = nc.SendInput(in)
		<-t.C
	}
	_ = nc.Close()
}

// run plays until the echo of its event, and returns the game client, or
// nil after an error.
func run(ctx context.Context, out map[string]any) (*netcode.Client, error) {
	origin := js.Global().Get("location").Get("origin").String()

	// A lobby URL with nothing behind it: an error, not a hang or a panic.
	if _, err := lobby.GuestToken(ctx, origin+"/nowhere", "gopher"); err != nil {
		out["guestError"] = err.Error()
	} else {
		return nil, errors.New("a guest token from a path with no lobby")
	}
	tok, err := lobby.GuestToken(ctx, origin, "gopher")
	if err != nil {
		return nil, err
	}
	lc, err := lobby.Dial(ctx, origin, tok, nil)
	if err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, func() { _ = lc.Close() })
	out["player"], out["name"] = lc.Player(), lc.Name()
	if _, err := lc.Queue(ctx, "solo", "", 0); err != nil {
		return nil, err
	}
	m, err := lc.WaitMatch(ctx)
	if err != nil {
		return nil, err
	}
	out["room"] = m.Room
	start := time.Now()
	nc, err := lc.Connect(ctx, m, nil)
	if err != nil {
		return nil, err
	}
	out["connectMs"] = time.Since(start).Milliseconds()
	out["channels"] = nc.Channels()

	snap, err := nc.ReadSnapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var state map[string]any
	if err := msgpack.Unmarshal(snap.Payload, &state); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	out["snapshot"] = state

	ev, _ := msgpack.Marshal(map[string]any{"kind": "hello", "from": "go"})
	if err := nc.SendEvent(ev); err != nil {
		return nil, err
	}
	reply, err := nc.ReadEvent(ctx)
	if err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	var echo map[string]any
	if err := msgpack.Unmarshal(reply, &echo); err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	out["echo"] = echo
	out["stats"] = nc.Stats()
	return nc, nil
}
