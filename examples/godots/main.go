//go:build js && wasm

// Command godots is a browser game written in Go: the dots demo of the
// lobby command (`make run`, then http://127.0.0.1:8080/go/), compiled to
// WebAssembly, on the same lobby and netcode Go API a native client uses.
// It gets a guest token, creates a room (or, with ?play=quick, queues for
// one), opens its channels to the game server, draws the replicated world
// (players' dots and the bots') on a canvas at the display's frame rate,
// interpolated between the server's ticks, and sends a Move 30 times a
// second while an arrow key or WASD is held.
//
// For games in JavaScript, @tickwire/client (js/) is the smaller choice;
// this is for games whose code is Go. Build it with
//
//	GOOS=js GOARCH=wasm go build -o godots.wasm ./examples/godots
//
// and serve godots.wasm next to index.html and Go's wasm_exec.js.
package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"syscall/js"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

var (
	doc    = js.Global().Get("document")
	window = js.Global()
)

// state is what the page shows, shared by the network goroutines and the
// frame callback; window.__godots mirrors it for tests.
type state struct {
	mu    sync.Mutex
	phase string // connecting, playing, closed
	room  string
	me    uint16
	names map[uint16]string
	world *netcode.Replica // once playing
	tick  uint64
	err   string
	keys  map[string]bool
}

func main() {
	s := &state{phase: "connecting", names: map[uint16]string{}, keys: map[string]bool{}}
	canvas := doc.Call("getElementById", "arena")
	ctx2d := canvas.Call("getContext", "2d")
	s.listenKeys()
	s.frames(canvas, ctx2d)

	if err := s.play(); err != nil {
		s.mu.Lock()
		s.phase, s.err = "closed", err.Error()
		s.mu.Unlock()
		status("error: " + err.Error())
	}
	select {} // the callbacks run on
}

func status(text string) {
	doc.Call("getElementById", "status").Set("textContent", text)
}

// play connects through the lobby serving this page and plays until the
// game ends.
func (s *state) play() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	origin := window.Get("location").Get("origin").String()
	params := js.Global().Get("URLSearchParams").New(window.Get("location").Get("search"))
	name := "gopher"
	if n := params.Call("get", "name"); n.Truthy() {
		name = n.String()
	}
	status("getting a guest token…")
	token, err := lobby.GuestToken(ctx, origin, name)
	if err != nil {
		return err
	}
	lc, err := lobby.Dial(ctx, origin, token, nil)
	if err != nil {
		return err
	}
	var m *lobby.Match
	if params.Call("get", "play").String() == "quick" {
		status("waiting for another player…")
		if _, err := lc.Queue(ctx, "default", "", 0); err != nil {
			return err
		}
		if m, err = lc.WaitMatch(context.Background()); err != nil {
			return err
		}
	} else if m, err = lc.CreateRoom(ctx, lobby.RoomOptions{Mode: "default", Name: lc.Name() + "'s room", Public: true}); err != nil {
		return err
	}
	status("connecting to room " + m.Room + "…")
	c, err := lc.Connect(ctx, m, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.phase, s.room, s.world = "playing", m.Room, c.World()
	s.mu.Unlock()
	status(fmt.Sprintf("playing in room %s (join code %s): move with the arrow keys or WASD", m.Room, m.Code))

	go s.readEvents(c)
	go s.sendMoves(c)
	for {
		u, err := c.World().Next(context.Background())
		if err != nil {
			s.mu.Lock()
			s.phase = "closed"
			s.mu.Unlock()
			status("the game ended: " + err.Error())
			return nil
		}
		s.mu.Lock()
		s.tick = u.Tick
		s.mu.Unlock()
	}
}

// readEvents learns this player's dot and the others' names.
func (s *state) readEvents(c *netcode.Client) {
	for {
		b, err := c.ReadEvent(context.Background())
		if err != nil {
			return
		}
		ev, err := dots.DecodeEvent(b)
		if err != nil {
			continue
		}
		s.mu.Lock()
		switch ev.Type {
		case dots.EventWelcome:
			s.me = ev.ID
			s.names[ev.ID] = ev.Name
		case dots.EventJoined:
			s.names[ev.ID] = ev.Name
		case dots.EventLeft:
			delete(s.names, ev.ID)
		}
		s.mu.Unlock()
	}
}

// sendMoves sends the held keys as a Move 30 times a second.
func (s *state) sendMoves(c *netcode.Client) {
	t := time.NewTicker(time.Second / 30)
	defer t.Stop()
	for {
		select {
		case <-c.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		var mv dots.Move
		if s.keys["ArrowLeft"] || s.keys["KeyA"] {
			mv.DX--
		}
		if s.keys["ArrowRight"] || s.keys["KeyD"] {
			mv.DX++
		}
		if s.keys["ArrowUp"] || s.keys["KeyW"] {
			mv.DY--
		}
		if s.keys["ArrowDown"] || s.keys["KeyS"] {
			mv.DY++
		}
		s.mu.Unlock()
		if mv == (dots.Move{}) {
			continue
		}
		if b, err := dots.EncodeMove(mv); err == nil {
			_ = c.SendInput(b) // unreliable: a dropped one is superseded by the next
		}
	}
}

func (s *state) listenKeys() {
	key := func(down bool) js.Func {
		return js.FuncOf(func(_ js.Value, args []js.Value) any {
			code := args[0].Get("code").String()
			switch code {
			case "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "KeyW", "KeyA", "KeyS", "KeyD":
				args[0].Call("preventDefault")
				s.mu.Lock()
				s.keys[code] = down
				s.mu.Unlock()
			}
			return nil
		})
	}
	window.Call("addEventListener", "keydown", key(true))
	window.Call("addEventListener", "keyup", key(false))
}

// frames draws the world at every animation frame. A frame callback must
// not block: it reads the state under its lock, and the replica's frame.
func (s *state) frames(canvas, g js.Value) {
	var frame js.Func
	frame = js.FuncOf(func(js.Value, []js.Value) any {
		s.draw(canvas, g)
		window.Call("requestAnimationFrame", frame)
		return nil
	})
	window.Call("requestAnimationFrame", frame)
}

func (s *state) draw(canvas, g js.Value) {
	s.mu.Lock()
	world, me, phase, room, errText, tick := s.world, s.me, s.phase, s.room, s.err, s.tick
	type dot struct {
		id     uint32
		x, y   float64
		name   string
		player bool
	}
	var ds []dot
	var players []any
	var delay time.Duration
	if world != nil {
		// The world as it was a little while ago, between two ticks, so
		// that the dots glide rather than jump 30 times a second.
		f := world.At(time.Now())
		delay = f.Delay
		for _, id := range f.Entities() {
			e, _ := f.Entity(id)
			var d dots.Dot
			if e.Decode(&d) != nil {
				continue
			}
			ds = append(ds, dot{id, d.X, d.Y, s.names[uint16(id)], d.Player})
			if d.Player {
				players = append(players, []any{int(id), d.X, d.Y})
			}
		}
	}
	s.mu.Unlock()
	// Bots first, so that the players' dots are drawn over them.
	slices.SortStableFunc(ds, func(a, b dot) int {
		switch {
		case a.player == b.player:
			return 0
		case b.player:
			return -1
		}
		return 1
	})

	w, h := canvas.Get("width").Float(), canvas.Get("height").Float()
	g.Set("fillStyle", "#0b0e13")
	g.Call("fillRect", 0, 0, w, h)
	scale := (w - 40) / (2 * dots.Arena)
	for _, d := range ds {
		x, y := w/2+d.x*scale, h/2+d.y*scale
		if !d.player {
			g.Set("fillStyle", "#3a4656")
			g.Call("beginPath")
			g.Call("arc", x, y, 3, 0, 2*math.Pi)
			g.Call("fill")
			continue
		}
		hue := float64(d.id) * 137.5
		g.Set("fillStyle", fmt.Sprintf("hsl(%.0f 70%% 60%%)", math.Mod(hue, 360)))
		g.Call("beginPath")
		g.Call("arc", x, y, 9, 0, 2*math.Pi)
		g.Call("fill")
		if d.id == uint32(me) {
			g.Set("strokeStyle", "#ffffff")
			g.Set("lineWidth", 2)
			g.Call("beginPath")
			g.Call("arc", x, y, 14, 0, 2*math.Pi)
			g.Call("stroke")
		}
		if d.name != "" {
			g.Set("fillStyle", "#dde3ec")
			g.Set("font", "12px system-ui, sans-serif")
			g.Call("fillText", d.name, x+16, y+4)
		}
	}
	// For tests and the curious: what the canvas shows.
	o := js.Global().Get("Object").New()
	o.Set("phase", phase)
	o.Set("room", room)
	o.Set("me", int(me))
	o.Set("tick", int(tick))
	o.Set("dots", players)
	o.Set("entities", len(ds))
	o.Set("delayMs", delay.Seconds()*1000)
	o.Set("error", errText)
	window.Set("__godots", o)
}
