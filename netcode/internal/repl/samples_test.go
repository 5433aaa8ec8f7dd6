package repl

import (
	"testing"
	"time"
)

// TestSamplesNeverStepBack: with acks two ticks late and a budget that
// takes half the movers each tick, successive states hold older values of
// some movers than the state before; played out per entity from what
// states carried, every mover still only moves forward.
func TestSamplesNeverStepBack(t *testing.T) {
	types := testTypes(t)
	const movers, lag = 64, 2
	tick := func(n uint64) time.Duration { return time.Duration(n) * 33 * time.Millisecond }
	snd, rcv, smp := NewSender(), NewReceiver(), NewSamples()
	w := &world{types: types, ents: map[uint32]*Entity{}}
	stepBack, played := 0, 0
	last := map[uint32]float64{}
	regressed := 0 // states holding an older value of a mover than the state before
	for n := uint64(1); n <= 200; n++ {
		for id := range uint32(movers) {
			e := NewEntity(types[0])
			e.V[0] = e.Type.Fields[0].Quantise(float64(n) * 0.5) // x grows with the tick
			e.V[1] = e.Type.Fields[1].Quantise(float64(id))
			w.ents[id] = e
		}
		if n > lag {
			if err := snd.Ack(n - lag); err != nil {
				t.Fatal(err)
			}
		}
		p, base, err := snd.Encode(w.state(n), n, Options{Budget: 400})
		if err != nil {
			t.Fatal(err)
		}
		prev := rcv.Newest()
		st, err := rcv.Receive(n, base, tick(n), p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range st.Len() {
			id, e := st.At(i)
			if pe, ok := prev.Get(id); ok && e.Float(0) < pe.Float(0) {
				regressed++
			}
		}
		smp.Add(st)
		// Two frames a tick, three ticks behind.
		for _, at := range []time.Duration{tick(n) - 3*tick(1), tick(n) - 3*tick(1) + tick(1)/2} {
			for i := range st.Len() {
				id, _ := st.At(i)
				from, to, alpha := smp.At(st, i, at)
				x := to.Float(0)
				if from != nil {
					x = from.Float(0) + (to.Float(0)-from.Float(0))*alpha
				}
				// From the tenth tick, when the frames are past every mover's
				// first sample (before it, the first value holds).
				if n > 10 && x < last[id]-1e-9 {
					if stepBack < 3 {
						t.Logf("tick %d id %d at %v: x %v after %v (origin %d)", n, id, at, x, last[id], st.orig[i])
					}
					stepBack++
				}
				last[id] = x
				played++
			}
		}
	}
	if regressed == 0 {
		t.Fatal("no state held an older value than the one before: the test does not exercise alternating bases")
	}
	if stepBack > 0 {
		t.Errorf("%d of %d played-out positions stepped back (%d regressions in whole states)", stepBack, played, regressed)
	}
	t.Logf("%d regressions in whole states, none played out of %d", regressed, played)
}

// TestSamplesWindow: a sample newer than the newest state's origin for an
// entity counts for SampleWindow ticks; after that the newest state, the
// server's word, wins (the entity went back to an older value).
func TestSamplesWindow(t *testing.T) {
	types := testTypes(t)
	mk := func(x float64) *Entity {
		e := NewEntity(types[0])
		e.V[0] = e.Type.Fields[0].Quantise(x)
		return e
	}
	closed, open := mk(0), mk(1)
	smp := NewSamples()
	at := func(n uint64) time.Duration { return time.Duration(n) * time.Millisecond }
	// Tick 1 carries "closed", tick 2 (another chain) "open".
	s1 := &State{Tick: 1, Time: at(1), ids: []uint32{5}, ents: []*Entity{closed}, orig: []uint64{1}}
	s2 := &State{Tick: 2, Time: at(2), ids: []uint32{5}, ents: []*Entity{open}, orig: []uint64{2}}
	smp.Add(s1)
	smp.Add(s2)
	for _, tt := range []struct {
		newest uint64
		want   float64
	}{{3, 1}, {2 + SampleWindow, 1}, {3 + SampleWindow, 0}} {
		// The newest state holds "closed", carried at tick 1.
		st := &State{Tick: tt.newest, Time: at(tt.newest), ids: []uint32{5}, ents: []*Entity{closed}, orig: []uint64{1}}
		from, to, alpha := smp.At(st, 0, at(2))
		x := to.Float(0)
		if from != nil {
			x = from.Float(0) + (to.Float(0)-from.Float(0))*alpha
		}
		if x != tt.want {
			t.Errorf("newest at tick %d: x = %v, want %v", tt.newest, x, tt.want)
		}
	}
}
