//go:build js && wasm

package main

import (
	"context"
	"syscall/js"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// The replicated world (netcode.Replica) for tickwire.js's game.world: the
// entities cross as JSON, one JSON.parse for a whole frame, as the other
// values do (values.go).

// entityJSON is an entity as tickwire.d.ts declares it. Bytes names the
// fields whose values are bytes: JSON carries them as base64, which
// tickwire.js turns into Uint8Arrays.
type entityJSON struct {
	ID     uint32         `json:"id"`
	Type   string         `json:"type"`
	Fields map[string]any `json:"fields"`
	Bytes  []string       `json:"bytes,omitempty"`
}

func toEntityJSON(e netcode.Entity) entityJSON {
	out := entityJSON{ID: e.ID, Type: e.Type(), Fields: map[string]any{}}
	for _, name := range e.Fields() {
		v := e.Value(name)
		if _, ok := v.([]byte); ok {
			out.Bytes = append(out.Bytes, name)
		}
		out.Fields[name] = v
	}
	return out
}

// changeJSON is a netcode.WorldUpdate as tickwire.d.ts declares it.
type changeJSON struct {
	Tick    uint64   `json:"tick"`
	Created []uint32 `json:"created"`
	Changed []uint32 `json:"changed"`
	Removed []uint32 `json:"removed"`
}

// apiWorld answers game.world's synchronous calls: worldCall(game, op,
// arg) with op "entities" (the newest state's), "get" (arg: an id; JSON
// null when absent), "at" (arg: performance.now() milliseconds) or
// "playout"; JSON text or an Error.
func apiWorld(args []js.Value) any {
	g, err := games.get(arg(args, 0))
	if err != nil {
		return errorToJS(err)
	}
	op, err := str(args, 1, "op")
	if err != nil {
		return errorToJS(err)
	}
	w := g.c.World()
	var v any
	switch op {
	case "entities":
		v = entitiesJSON(w.Entities(), w.Entity)
	case "get":
		id := arg(args, 2)
		if id.Type() != js.TypeNumber {
			return errorToJS(badArg("world.get needs a numeric id"))
		}
		if e, ok := w.Entity(uint32(id.Int())); ok {
			v = toEntityJSON(e)
		}
	case "at":
		ms := arg(args, 2)
		if ms.Type() != js.TypeNumber {
			return errorToJS(badArg("world.at needs a time in milliseconds (performance.now())"))
		}
		f := w.At(g.localTime(ms.Float()))
		v = entitiesJSON(f.Entities(), f.Entity)
	case "playout":
		p := w.Playout()
		v = map[string]any{"tick": w.Tick(), "delay": durationMs(p.Delay), "targetDelay": durationMs(p.TargetDelay), "jitter": durationMs(p.Jitter), "interval": durationMs(p.Interval)}
	default:
		return errorToJS(badArg("world: unknown op %q", op))
	}
	return jsonOrError(v)
}

func entitiesJSON(ids []uint32, get func(uint32) (netcode.Entity, bool)) []entityJSON {
	out := make([]entityJSON, 0, len(ids))
	for _, id := range ids {
		if e, ok := get(id); ok {
			out = append(out, toEntityJSON(e))
		}
	}
	return out
}

// localTime is the Go clock's time at a performance.now() reading: the
// two clocks' readings when the game opened tie them together.
func (g *gameHandle) localTime(perfMs float64) time.Time {
	return g.goEpoch.Add(time.Duration((perfMs - g.perfEpoch) * float64(time.Millisecond)))
}

// pumpWorld hands the sink each update of the world, as netcode's
// Replica.Next reports it: states that arrive between two deliveries come
// as one.
func (g *gameHandle) pumpWorld(cb js.Value) {
	defer g.pumps.Done()
	w := g.c.World()
	for {
		u, err := w.Next(context.Background())
		if err != nil {
			return
		}
		text, err := jsonText(changeJSON{Tick: u.Tick, Created: nonNil(u.Created), Changed: nonNil(u.Changed), Removed: nonNil(u.Removed)})
		if err != nil {
			continue
		}
		invoke(cb, text)
	}
}
