package repl

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// History is how many sent states a Sender keeps: an ack older than the
// newest History states it sent is of no use, and the next state is full.
// A client keeps more (REPLICATION.md), so a base the server picks is
// one the client still has.
const History = 32

// ErrAck means a client acknowledged a tick it was never sent.
var ErrAck = errors.New("ack of a state never sent")

// Sender is the server's side of replication to one client: what it sent
// in its recent states, what the client acknowledged, and the priority
// each waiting entity has built up. It is not safe for concurrent use.
type Sender struct {
	sent   [History]*State // a ring, in send order; nil once an ack passes it
	next   int             // index in sent of the next send
	newest uint64          // newest tick sent
	acked  *State          // newest acknowledged state still of use
	// seen is when each entity the client may see but whose create has not
	// reached it first became one to create: a create's priority grows
	// from then.
	seen    map[uint32]uint64
	tick    uint64 // the tick being encoded
	w       Writer
	cands   []cand
	chosen  []cand
	order   []int32  // candidate indices by priority
	picked  []uint64 // a bit per pos: chosen this tick
	typeBuf []*Type
}

// cand is an entity that differs from the base.
type cand struct {
	id   uint32
	op   uint8
	e    *Entity // the world's, for create and update
	mask uint64  // update: the fields that differ
	bits int     // its size in the payload, at most, but for its id gap
	pri  float64
}

// NewSender is a sender that has sent nothing.
func NewSender() *Sender { return &Sender{seen: make(map[uint32]uint64)} }

// Ack takes the client's acknowledgement of tick.
func (s *Sender) Ack(tick uint64) error {
	if tick == 0 || tick > s.newest {
		return fmt.Errorf("%w: tick %d, newest sent %d", ErrAck, tick, s.newest)
	}
	if s.acked != nil && tick <= s.acked.Tick {
		return nil // late or repeated
	}
	for _, st := range s.sent {
		if st != nil && st.Tick == tick {
			s.acked = st
			// What was sent before it is of no more use as a base: letting
			// it go keeps a client's history at the states in flight, a
			// few at the usual round trips, rather than History whole
			// worlds.
			for i, old := range s.sent {
				if old != nil && old.Tick < tick {
					s.sent[i] = nil
				}
			}
			return nil
		}
	}
	oldest := uint64(math.MaxUint64)
	for _, st := range s.sent {
		if st != nil {
			oldest = min(oldest, st.Tick)
		}
	}
	if tick < oldest || oldest == math.MaxUint64 {
		return nil // too old to be of use
	}
	return fmt.Errorf("%w: tick %d", ErrAck, tick)
}

// Acked is the tick of the base the next state is encoded against, 0 for
// the empty world.
func (s *Sender) Acked() uint64 {
	if b := s.base(); b != nil {
		return b.Tick
	}
	return 0
}

// base is the newest acknowledged state still kept, or nil.
func (s *Sender) base() *State {
	if s.acked == nil {
		return nil
	}
	for _, st := range s.sent {
		if st == s.acked {
			return st
		}
	}
	s.acked = nil // evicted: the client has not acked for History sends
	return nil
}

// Options are what a game decides per client and tick.
type Options struct {
	// Budget is the payload's size limit in bytes.
	Budget int
	// Sees reports whether the client sees the entity; nil sees all.
	Sees func(id uint32, e *Entity) bool
	// Weight is how fast the entity's priority grows for this client; nil
	// is 1 for every entity. Weights not above 0 count as a small one, so
	// that nothing waits for ever.
	Weight func(id uint32, e *Entity) float64
}

// minWeight stands in for a weight that is not positive.
const minWeight = 1e-3

// Encode makes the payload of tick for this client: world as a delta
// against the newest state the client acknowledged, at most o.Budget
// bytes. It returns the payload (valid until the next Encode) and its base
// tick (0 for the empty world). Ticks must grow from call to call.
func (s *Sender) Encode(world *State, tick uint64, o Options) (payload []byte, base uint64, err error) {
	if tick <= s.newest {
		return nil, 0, fmt.Errorf("tick %d after %d", tick, s.newest)
	}
	b := s.base()
	if b == nil {
		b = &State{}
	}
	budget := 8 * o.Budget
	s.tick = tick

	// The types the base lacks go first, as many as fit.
	s.typeBuf = s.typeBuf[:0]
	used := 0
	nTypes := 0
	for _, t := range world.types {
		if t != nil && b.Type(t.ID) == nil {
			nTypes++
		}
	}
	used += VarBits(uint32(nTypes))
	types := b.types
	for _, t := range world.types {
		if t == nil || b.Type(t.ID) != nil {
			continue
		}
		if used+t.defBits() > budget-VarBits(0) {
			break
		}
		used += t.defBits()
		s.typeBuf = append(s.typeBuf, t)
		types = withType(types, t)
	}
	// A shorter type list than announced would be wrong: count again.
	used += VarBits(uint32(len(s.typeBuf))) - VarBits(uint32(nTypes))

	s.collect(b, world, o)
	// Entities gone from the world are forgotten now and then, so that
	// churn does not grow the map.
	if len(s.seen) > world.Len()+64 {
		for id := range s.seen {
			if _, ok := world.Get(id); !ok {
				delete(s.seen, id)
			}
		}
	}
	used += VarBits(uint32(len(s.cands)))
	s.chosen = s.chosen[:0]
	s.picked = slices.Grow(s.picked[:0], len(s.cands)/64+1)[:len(s.cands)/64+1]
	clear(s.picked)
	// By priority: removals first, then the longest waiting (weighted);
	// ties in id order. Indices are sorted, not the candidates themselves.
	s.order = s.order[:0]
	for i := range s.cands {
		s.order = append(s.order, int32(i))
	}
	slices.SortStableFunc(s.order, func(a, b int32) int { return cmp.Compare(s.cands[b].pri, s.cands[a].pri) })
	for _, ci := range s.order {
		c := &s.cands[ci]
		if c.op == opCreate && (int(c.e.Type.ID) >= len(types) || types[c.e.Type.ID] == nil) {
			continue // its type did not fit this time
		}
		// Its id gap is from the nearest chosen id below it. One chosen
		// later between the two only shortens this gap, and never
		// lengthens the one after: the sum stays a bound.
		gap := c.id
		if p := s.pickedBefore(int(ci)); p >= 0 {
			gap = c.id - s.cands[p].id - 1
		}
		bits := VarBits(gap) + c.bits
		if used+bits > budget {
			continue
		}
		used += bits
		s.picked[ci/64] |= 1 << (ci % 64)
	}
	// The chosen, in id order: candidates are collected in id order.
	for pos := range s.cands {
		if s.picked[pos/64]&(1<<(pos%64)) != 0 {
			s.chosen = append(s.chosen, s.cands[pos])
		}
	}

	w := &s.w
	w.Reset()
	w.WriteVar(uint32(len(s.typeBuf)))
	for _, t := range s.typeBuf {
		w.Write(uint32(t.ID), 8)
		w.WriteVar(uint32(len(t.def)))
		w.WriteBytes(t.def)
	}
	w.WriteVar(uint32(len(s.chosen)))
	prev := int64(-1)
	for _, c := range s.chosen {
		w.WriteVar(uint32(int64(c.id) - prev - 1))
		prev = int64(c.id)
		w.Write(uint32(c.op), 2)
		switch c.op {
		case opCreate:
			w.Write(uint32(c.e.Type.ID), 8)
			writeFields(w, c.e, 1<<len(c.e.Type.Fields)-1)
		case opUpdate:
			w.Write64(c.mask, len(c.e.Type.Fields))
			writeFields(w, c.e, c.mask)
		}
	}
	if w.Len() > budget {
		// The estimate bounds the writing; this is a bug, not bad input.
		return nil, 0, fmt.Errorf("repl: %d bits written over a budget of %d", w.Len(), budget)
	}
	s.remember(s.apply(b, tick, types))
	return w.Bytes(), b.Tick, nil
}

// pickedBefore is the highest chosen candidate index below pos, or -1.
// Candidates are in id order, so this is the nearest chosen id below.
func (s *Sender) pickedBefore(pos int) int {
	w := pos / 64
	if m := s.picked[w] & (1<<(pos%64) - 1); m != 0 {
		return w*64 + bits.Len64(m) - 1
	}
	for w--; w >= 0; w-- {
		if s.picked[w] != 0 {
			return w*64 + bits.Len64(s.picked[w]) - 1
		}
	}
	return -1
}

// collect lists in s.cands, in id order, every entity that differs
// between b and what the client should see of world, with its priority.
func (s *Sender) collect(b, world *State, o Options) {
	s.cands = s.cands[:0]
	i, j := 0, 0
	for i < len(b.ids) || j < len(world.ids) {
		var id uint32
		var have, want *Entity
		hi := i // have's index in b
		switch {
		case j == len(world.ids) || i < len(b.ids) && b.ids[i] < world.ids[j]:
			id, have = b.ids[i], b.ents[i]
			i++
		case i == len(b.ids) || world.ids[j] < b.ids[i]:
			id, want = world.ids[j], world.ents[j]
			j++
		default:
			id, have, want = b.ids[i], b.ents[i], world.ents[j]
			i++
			j++
		}
		if want != nil && o.Sees != nil && !o.Sees(id, want) {
			want = nil
		}
		idBits := 2 // the op; the gap comes at selection
		switch {
		case want == nil && have == nil:
		case want == nil, have != nil && have.Type != want.Type:
			// Gone, or out of sight; or its type changed, which only a
			// removal and then a create can say.
			s.cands = append(s.cands, cand{id: id, op: opRemove, bits: idBits, pri: math.Inf(1)})
		case have == nil:
			since, ok := s.seen[id]
			if !ok {
				since = s.tick - 1
				s.seen[id] = since
			}
			s.cands = append(s.cands, cand{id: id, op: opCreate, e: want, bits: idBits + 8 + fieldBits(want, 1<<len(want.Type.Fields)-1), pri: s.priority(id, want, since, o)})
		case have == want:
		default:
			mask := changed(have, want)
			if mask == 0 {
				continue
			}
			s.cands = append(s.cands, cand{id: id, op: opUpdate, e: want, mask: mask, bits: idBits + len(want.Type.Fields) + fieldBits(want, mask), pri: s.priority(id, want, b.orig[hi], o)})
		}
	}
}

// priority is how urgently the client needs entity id: its weight times
// the ticks since the client's copy was sent (since, from the base's
// origins), or since it should have had it at all. This is Fiedler's
// accumulator, weight added each tick waited, reckoned from the base
// rather than kept per entity: with acks a few ticks behind, successive
// states are against different bases, and an entity one base has fresh
// may be old or missing in the next. A priority kept per entity and reset
// when sent would leave it waiting there for ever.
func (s *Sender) priority(id uint32, e *Entity, since uint64, o Options) float64 {
	w := 1.0
	if o.Weight != nil {
		w = o.Weight(id, e)
	}
	if !(w > minWeight) {
		w = minWeight
	}
	return w * float64(s.tick-min(since, s.tick-1))
}

// changed is the mask of the fields that differ between have and want,
// of one type.
func changed(have, want *Entity) uint64 {
	var m uint64
	for i := range want.V {
		if !have.fieldEqual(want, i) {
			m |= 1 << i
		}
	}
	return m
}

// fieldBits is the size of the fields of e in mask.
func fieldBits(e *Entity, mask uint64) int {
	n := 0
	for i := range e.Type.Fields {
		if mask&(1<<i) == 0 {
			continue
		}
		f := &e.Type.Fields[i]
		if f.Kind == KindString || f.Kind == KindBytes {
			n += VarBits(uint32(len(e.S[i]))) + 8*len(e.S[i])
		} else {
			n += f.width()
		}
	}
	return n
}

func writeFields(w *Writer, e *Entity, mask uint64) {
	for i := range e.Type.Fields {
		if mask&(1<<i) == 0 {
			continue
		}
		f := &e.Type.Fields[i]
		if f.Kind == KindString || f.Kind == KindBytes {
			w.WriteVar(uint32(len(e.S[i])))
			w.WriteBytes([]byte(e.S[i]))
		} else {
			w.Write64(e.V[i], f.width())
		}
	}
}

// apply is b with the chosen changes: the state the client has if it
// decodes this tick.
func (s *Sender) apply(b *State, tick uint64, types []*Type) *State {
	n := len(b.ids) + len(s.chosen)
	out := &State{Tick: tick, types: types, ids: make([]uint32, 0, n), ents: make([]*Entity, 0, n), orig: make([]uint64, 0, n)}
	i := 0
	for _, c := range s.chosen {
		for i < len(b.ids) && b.ids[i] < c.id {
			out.ids, out.ents, out.orig = append(out.ids, b.ids[i]), append(out.ents, b.ents[i]), append(out.orig, b.orig[i])
			i++
		}
		if i < len(b.ids) && b.ids[i] == c.id {
			i++
		}
		if c.op != opRemove {
			out.ids, out.ents, out.orig = append(out.ids, c.id), append(out.ents, c.e), append(out.orig, tick)
		}
	}
	out.ids, out.ents, out.orig = append(out.ids, b.ids[i:]...), append(out.ents, b.ents[i:]...), append(out.orig, b.orig[i:]...)
	return out
}

func (s *Sender) remember(st *State) {
	s.sent[s.next] = st
	s.next = (s.next + 1) % History
	s.newest = st.Tick
}
