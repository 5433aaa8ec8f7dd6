package repl

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// benchDot is the reference scene's entity (go run ./bench replication):
// positions to the centimetre within ±1000, a 10-bit heading, hit points
// and a flag.
type benchDot struct {
	X, Y    float64 `tw:"float,min=-1000,max=1000,step=0.01"`
	Heading float64 `tw:"angle,bits=10"`
	HP      int     `tw:"int,min=0,max=100"`
	Alive   bool
}

// benchWorlds are consecutive ticks of the reference scene as World makes
// them: 1024 entities, every fourth moving on a circle at 0.5 a tick, the
// others at rest (the same *Entity from tick to tick, as World keeps an
// unchanged entity).
func benchWorlds(b *testing.B, ticks int) []*State {
	st, err := NewStructType(0, "dot", reflect.TypeFor[benchDot]())
	if err != nil {
		b.Fatal(err)
	}
	types := []*Type{st.Type}
	const n = 1024
	ids := make([]uint32, n)
	ents := make([]*Entity, n)
	for i := range n {
		ids[i] = uint32(i + 1)
		d := benchDot{X: -900 + float64(i%40)*45, Y: -900 + float64(i/40)*70, HP: 100 - i%50, Alive: i%9 != 0}
		if ents[i], err = st.Entity(reflect.ValueOf(d)); err != nil {
			b.Fatal(err)
		}
	}
	var out []*State
	for tick := range ticks {
		for i := 0; i < n; i += 4 {
			k := float64(i / 4)
			r := 20 + float64(i/4%7)*5
			a := k*0.7 + float64(tick)*0.5/r
			d := benchDot{X: -750 + float64(i/4%16)*100 + r*math.Cos(a), Y: -750 + float64(i/4/16)*100 + r*math.Sin(a),
				Heading: math.Mod(a+math.Pi/2, 2*math.Pi), HP: 100 - i%50, Alive: i%9 != 0}
			if ents[i], err = st.Entity(reflect.ValueOf(d)); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, NewState(0, types, ids, ents))
	}
	return out
}

// BenchmarkSenderEncode is the server's work for one client and one tick
// of the reference scene, in the steady state: the client acknowledges
// each state 3 ticks later (a 50 ms round trip at 30 Hz), the budget is
// one datagram less the state message's header, and the changes do not
// all fit. "callbacks" passes Sees and Weight functions as World does
// (every entity seen, its weight looked up in a map).
func BenchmarkSenderEncode(b *testing.B) {
	worlds := benchWorlds(b, 64)
	weights := make(map[uint32]float64, 1024)
	for i := range 1024 {
		weights[uint32(i+1)] = 1
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{Budget: 1200 - 35}},
		{"callbacks", Options{Budget: 1200 - 35,
			Sees:   func(uint32, *Entity) bool { return true },
			Weight: func(id uint32, _ *Entity) float64 { return weights[id] }}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const lag = 3
			s := NewSender()
			tick := uint64(0)
			encode := func() int {
				tick++
				if tick > lag {
					if err := s.Ack(tick - lag); err != nil {
						b.Fatal(err)
					}
				}
				p, _, err := s.Encode(worlds[int(tick)%len(worlds)], tick, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				return len(p)
			}
			for range 2 * len(worlds) { // past the full state, into the steady state
				encode()
			}
			bytes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				bytes += encode()
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "payload-B/op")
		})
	}
}

// BenchmarkNewState is World's per-tick cost of making the world's state
// from its entities, which it keeps in a map (so unsorted): once a tick
// after a change, for all clients.
func BenchmarkNewState(b *testing.B) {
	w := benchWorlds(b, 1)[0]
	ids := make([]uint32, w.Len())
	ents := make([]*Entity, w.Len())
	for i := range ids {
		ids[i], ents[i] = w.At(i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ids), func(i, j int) {
		ids[i], ids[j] = ids[j], ids[i]
		ents[i], ents[j] = ents[j], ents[i]
	})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		NewState(0, w.Types(), ids, ents)
	}
}
