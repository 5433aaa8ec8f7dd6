package repl

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func spaced(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// testTypes are a game's moving thing and an opaque blob.
func testTypes(t testing.TB) []*Type {
	dot, err := NewType(0, "dot", []Field{
		{Name: "x", Kind: KindFloat, Min: -512, Max: 512, Step: 0.01},
		{Name: "y", Kind: KindFloat, Min: -512, Max: 512, Step: 0.01},
		{Name: "heading", Kind: KindAngle, Bits: 10},
		{Name: "hp", Kind: KindInt, Min: 0, Max: 100},
		{Name: "alive", Kind: KindBool},
		{Name: "rot", Kind: KindQuat, Bits: 11},
		{Name: "name", Kind: KindString, MaxLen: 16},
	})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := NewType(2, "blob", []Field{{Name: "data", Kind: KindBytes, MaxLen: 40}})
	if err != nil {
		t.Fatal(err)
	}
	return []*Type{dot, nil, blob}
}

// randomEntity changes some fields of e (or makes one) at random.
func randomEntity(rng *rand.Rand, types []*Type, e *Entity) *Entity {
	if e == nil || rng.IntN(50) == 0 { // new, or now of another type
		t := types[0]
		if rng.IntN(4) == 0 {
			t = types[2]
		}
		e = NewEntity(t)
	} else {
		e = e.Clone()
	}
	for i := range e.Type.Fields {
		if rng.IntN(3) != 0 {
			continue
		}
		f := &e.Type.Fields[i]
		switch f.Kind {
		case KindQuat:
			e.V[i] = f.QuantiseQuat([4]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()})
		case KindString, KindBytes:
			b := make([]byte, rng.IntN(f.MaxLen+1))
			for j := range b {
				b[j] = 'a' + byte(rng.IntN(26))
			}
			e.S[i] = string(b)
		default:
			e.V[i] = f.Quantise(rng.Float64()*1200 - 600)
		}
	}
	return e
}

// world is a server's world as a test drives it.
type world struct {
	types []*Type
	ents  map[uint32]*Entity
}

func (w *world) state(tick uint64) *State {
	ids := make([]uint32, 0, len(w.ents))
	for id := range w.ents {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ents := make([]*Entity, len(ids))
	for i, id := range ids {
		ents[i] = w.ents[id]
	}
	return NewState(tick, w.types, ids, ents)
}

func (w *world) step(rng *rand.Rand, changes int) {
	for range changes {
		id := uint32(rng.IntN(300))
		if rng.IntN(20) == 0 {
			id = uint32(rng.Int64N(1 << 32)) // far ids test big gaps
		}
		if e, ok := w.ents[id]; ok && rng.IntN(8) == 0 {
			delete(w.ents, id)
		} else {
			w.ents[id] = randomEntity(rng, w.types, e)
		}
	}
}

// statesEqual reports how a and b differ, "" if they hold the same world.
func statesEqual(a, b *State) string {
	if len(a.ids) != len(b.ids) {
		return fmt.Sprintf("%d entities, want %d", len(a.ids), len(b.ids))
	}
	for i := range a.ids {
		if a.ids[i] != b.ids[i] {
			return fmt.Sprintf("entity %d at %d, want %d", a.ids[i], i, b.ids[i])
		}
		if a.ents[i].Type.ID != b.ents[i].Type.ID || a.ents[i].Type.Name != b.ents[i].Type.Name {
			return fmt.Sprintf("entity %d of type %d, want %d", a.ids[i], a.ents[i].Type.ID, b.ents[i].Type.ID)
		}
		if !slices.Equal(a.ents[i].V, b.ents[i].V) || !slices.Equal(a.ents[i].S, b.ents[i].S) {
			return fmt.Sprintf("entity %d: %v %q, want %v %q", a.ids[i], a.ents[i].V, a.ents[i].S, b.ents[i].V, b.ents[i].S)
		}
	}
	return ""
}

type packet struct {
	tick, base uint64
	payload    []byte
}

// TestReplicationProperty: under loss, reordering and duplication of
// states and acks, with budgets, interest and churn, every state the
// client decodes is what the server meant it to have, no payload exceeds
// its budget, and once the world stops changing the client converges on
// it.
func TestReplicationProperty(t *testing.T) {
	for seed := range uint64(24) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 17))
			loss := float64(seed%5) * 0.05 // 0 to 20%
			budget := 400 + rng.IntN(800)  // the dot type's definition takes about 300
			w := &world{types: testTypes(t), ents: map[uint32]*Entity{}}
			w.step(rng, 200)
			snd, rcv := NewSender(), NewReceiver()
			// The client sees even ids, or all; what it sees changes.
			parity := uint32(rng.IntN(3))
			sees := func(id uint32, e *Entity) bool { return parity == 2 || id%2 == parity }
			var inflight, acks []uint64
			var states []packet
			deliver := func(p packet) {
				st, err := rcv.Receive(p.tick, p.base, 0, p.payload)
				switch {
				case errors.Is(err, ErrStale), errors.Is(err, ErrNoBase):
					return
				case err != nil:
					t.Fatalf("tick %d against %d: %v", p.tick, p.base, err)
				}
				var meant *State
				for _, s := range snd.sent {
					if s != nil && s.Tick == p.tick {
						meant = s
					}
				}
				if meant == nil {
					t.Fatalf("tick %d decoded but no longer kept by the sender", p.tick)
				}
				if d := statesEqual(st, meant); d != "" {
					t.Fatalf("tick %d against %d: %s", p.tick, p.base, d)
				}
				acks = append(acks, p.tick)
			}
			const ticks = 300
			for tick := uint64(1); tick <= ticks+100; tick++ {
				settle := tick > ticks
				if !settle {
					w.step(rng, rng.IntN(30))
					if rng.IntN(40) == 0 {
						parity = uint32(rng.IntN(3))
					}
				}
				payload, base, err := snd.Encode(w.state(tick), tick, Options{Budget: budget, Sees: sees})
				if err != nil {
					t.Fatal(err)
				}
				if len(payload) > budget {
					t.Fatalf("tick %d: %d bytes over a budget of %d", tick, len(payload), budget)
				}
				states = append(states, packet{tick, base, slices.Clone(payload)})
				_ = inflight
				// The network: loss, duplication, reordering (not while settling).
				rng.Shuffle(len(states), func(i, j int) {
					if !settle {
						states[i], states[j] = states[j], states[i]
					}
				})
				var keep []packet
				for _, p := range states {
					switch r := rng.Float64(); {
					case settle:
						deliver(p)
					case r < loss:
					case r < 0.5:
						deliver(p)
						if rng.IntN(10) == 0 {
							deliver(p) // duplicated
						}
					default:
						keep = append(keep, p) // later
					}
				}
				states = keep
				var keepAcks []uint64
				for _, a := range acks {
					switch r := rng.Float64(); {
					case settle || r > loss+0.3:
						if err := snd.Ack(a); err != nil {
							t.Fatal(err)
						}
					case r < loss:
					default:
						keepAcks = append(keepAcks, a)
					}
				}
				acks = keepAcks
			}
			want := w.state(0)
			var seen []uint32
			var seenEnts []*Entity
			for i := range want.ids {
				if sees(want.ids[i], want.ents[i]) {
					seen, seenEnts = append(seen, want.ids[i]), append(seenEnts, want.ents[i])
				}
			}
			if d := statesEqual(rcv.Newest(), NewState(0, nil, seen, seenEnts)); d != "" {
				t.Fatalf("after settling: %s", d)
			}
		})
	}
}

// TestPriorityNoStarvation: with more changes every tick than the budget
// holds, every entity is still brought up to date within a bounded
// number of ticks, and heavier ones more often.
func TestPriorityNoStarvation(t *testing.T) {
	types := testTypes(t)
	w := &world{types: types, ents: map[uint32]*Entity{}}
	const n = 300
	for id := range uint32(n) {
		w.ents[id] = NewEntity(types[0])
	}
	snd := NewSender()
	rng := rand.New(rand.NewPCG(3, 4))
	lastSent := make(map[uint32]uint64)
	sent := make(map[uint32]int)
	worst := uint64(0)
	weight := func(id uint32, _ *Entity) float64 {
		if id < 10 {
			return 4
		}
		return 1
	}
	for tick := uint64(1); tick <= 400; tick++ {
		for id := range uint32(n) {
			e := w.ents[id].Clone()
			e.V[0] = e.Type.Fields[0].Quantise(rng.Float64() * 100)
			w.ents[id] = e
		}
		st := w.state(tick)
		payload, _, err := snd.Encode(st, tick, Options{Budget: 600, Weight: weight})
		if err != nil {
			t.Fatal(err)
		}
		if len(payload) > 600 {
			t.Fatalf("%d bytes over 600", len(payload))
		}
		if err := snd.Ack(tick); err != nil { // a perfect network
			t.Fatal(err)
		}
		view := snd.acked
		for i, id := range view.ids {
			if e, _ := st.Get(id); view.ents[i] == e {
				if tick > 100 {
					worst = max(worst, tick-lastSent[id])
					sent[id]++
				}
				lastSent[id] = tick
			}
		}
	}
	if worst == 0 || worst > 40 {
		t.Errorf("an entity waited %d ticks", worst)
	}
	heavy, light := 0, 0
	for id, c := range sent {
		if id < 10 {
			heavy += c
		} else {
			light += c
		}
	}
	if ratio := float64(heavy) / 10 / (float64(light) / (n - 10)); ratio < 2 {
		t.Errorf("weight 4 entities sent %.1fx as often as weight 1, want about 4x", ratio)
	}
	t.Logf("longest wait %d ticks", worst)
}

// deliver sends world through snd to rcv as a perfect network would: in
// one datagram's budget, received at once, acknowledged.
func deliver(t testing.TB, snd *Sender, rcv *Receiver, world *State, tick uint64) (payload []byte, base uint64, got *State) {
	t.Helper()
	payload, base, err := snd.Encode(world, tick, Options{Budget: 1200})
	if err != nil {
		t.Fatal(err)
	}
	got, err = rcv.Receive(tick, base, 0, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Ack(tick); err != nil {
		t.Fatal(err)
	}
	return payload, base, got
}

// TestTypeChange: an entity whose type changes is removed and then
// created anew.
func TestTypeChange(t *testing.T) {
	types := testTypes(t)
	snd, rcv := NewSender(), NewReceiver()
	ents := []*Entity{NewEntity(types[0])}
	for tick := uint64(1); tick <= 4; tick++ {
		if tick == 2 {
			ents = []*Entity{NewEntity(types[2])}
		}
		_, _, st := deliver(t, snd, rcv, NewState(tick, types, []uint32{7}, ents), tick)
		e, ok := st.Get(7)
		switch tick {
		case 1:
			if !ok || e.Type.Name != "dot" {
				t.Fatalf("tick 1: %v %v", ok, e)
			}
		case 2:
			if ok {
				t.Fatalf("tick 2: entity still there, of type %s", e.Type.Name)
			}
		case 3, 4:
			if !ok || e.Type.Name != "blob" {
				t.Fatalf("tick %d: %v %v", tick, ok, e)
			}
		}
	}
}

func TestAckErrors(t *testing.T) {
	types := testTypes(t)
	snd := NewSender()
	if err := snd.Ack(1); !errors.Is(err, ErrAck) {
		t.Errorf("ack before any send: %v", err)
	}
	for _, tick := range []uint64{2, 4} {
		if _, _, err := snd.Encode(NewState(tick, types, nil, nil), tick, Options{Budget: 1200}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		tick uint64
		ok   bool
	}{{3, false}, {5, false}, {0, false}, {2, true}, {4, true}, {2, true}} {
		if err := snd.Ack(tt.tick); (err == nil) != tt.ok {
			t.Errorf("ack %d: %v", tt.tick, err)
		}
	}
	if snd.Acked() != 4 {
		t.Errorf("acked %d, want 4", snd.Acked())
	}
	if _, _, err := snd.Encode(NewState(4, types, nil, nil), 4, Options{Budget: 1200}); err == nil {
		t.Error("a tick not after the last was encoded")
	}
}

// TestHistoryFallsBack: a client that acks nothing for longer than the
// sender's history gets full states again.
func TestHistoryFallsBack(t *testing.T) {
	types := testTypes(t)
	snd := NewSender()
	st := NewState(0, types, []uint32{1}, []*Entity{NewEntity(types[0])})
	for tick := uint64(1); tick <= History+2; tick++ {
		_, base, err := snd.Encode(st, tick, Options{Budget: 1200})
		if err != nil {
			t.Fatal(err)
		}
		if tick == 1 {
			if err := snd.Ack(1); err != nil {
				t.Fatal(err)
			}
		}
		want := uint64(1)
		if tick == 1 || tick > History+1 {
			want = 0
		}
		if base != want {
			t.Fatalf("tick %d against %d, want %d", tick, base, want)
		}
	}
	_ = math.Pi
}

// TestSteadyLag: acks that come a steady few ticks late make successive
// states deltas against different bases. With more changes each tick
// than the budget holds (256 entities moving among 1024), every entity
// still reaches the client within a bounded number of ticks, and the
// client's state ends up holding the whole world.
func TestSteadyLag(t *testing.T) {
	types := testTypes(t)
	for _, lag := range []uint64{1, 2, 3, 5} {
		t.Run(fmt.Sprint(lag), func(t *testing.T) {
			w := &world{types: types, ents: map[uint32]*Entity{}}
			for id := range uint32(1024) {
				e := NewEntity(types[0])
				e.V[0] = e.Type.Fields[0].Quantise(float64(id % 100))
				w.ents[id] = e
			}
			snd := NewSender()
			carried := map[uint32]uint64{} // the newest tick that carried each entity
			worst := uint64(0)
			const ticks = 400
			for tick := uint64(1); tick <= ticks; tick++ {
				for id := range uint32(256) { // the movers
					e := w.ents[id].Clone()
					e.V[0] = e.Type.Fields[0].Quantise(float64(id%100) + float64(tick%1000)*0.3)
					e.V[1] = e.Type.Fields[1].Quantise(float64(tick%1000) * 0.5)
					w.ents[id] = e
				}
				if tick > lag {
					if err := snd.Ack(tick - lag); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := snd.Encode(w.state(tick), tick, Options{Budget: 1165}); err != nil {
					t.Fatal(err)
				}
				for _, c := range snd.chosen {
					carried[c.id] = tick
				}
				if tick > 100 {
					for id := range uint32(1024) {
						if id < 256 {
							worst = max(worst, tick-carried[id])
						}
					}
				}
			}
			if len(carried) != 1024 {
				t.Errorf("%d of 1024 entities ever sent", len(carried))
			}
			if worst > 60 {
				t.Errorf("a moving entity went %d ticks without being sent", worst)
			}
			if n := snd.sent[(snd.next+History-1)%History].Len(); n != 1024 {
				t.Errorf("the client's newest state holds %d of 1024 entities", n)
			}
			t.Logf("lag %d: a mover waited at most %d ticks", lag, worst)
		})
	}
}
