package repl

import (
	"cmp"
	"slices"
	"time"
)

// State is a world at one tick: its types and its entities in id order.
// It is immutable once made; states made from one another share their
// unchanged entities and types.
type State struct {
	Tick uint64
	// Time is the server's clock at the tick (a client's states; REPLICATION.md).
	Time  time.Duration
	types []*Type // by type id; shorter when the high ids are unused
	ids   []uint32
	ents  []*Entity
	// orig is, for each entity, the tick of the state that carried its
	// value (sent or decoded states; nil in a world's own).
	orig []uint64
}

// Empty is the state a full state is a delta against: no types, no
// entities.
func Empty() *State { return &State{} }

// NewState makes a state of the given entities (ids need not be sorted;
// each at most once) and types (indexed by their ids).
func NewState(tick uint64, types []*Type, ids []uint32, ents []*Entity) *State {
	s := &State{Tick: tick, types: types, ids: slices.Clone(ids), ents: slices.Clone(ents)}
	if !slices.IsSorted(s.ids) {
		idx := make([]int, len(s.ids))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
		for i, j := range idx {
			s.ids[i], s.ents[i] = ids[j], ents[j]
		}
	}
	return s
}

// Len is the number of entities.
func (s *State) Len() int { return len(s.ids) }

// At is the i-th entity in id order.
func (s *State) At(i int) (uint32, *Entity) { return s.ids[i], s.ents[i] }

// Origin is the tick of the state that carried the i-th entity's value:
// this state's tick for what its payload set, an earlier one for what it
// kept of its base.
func (s *State) Origin(i int) uint64 { return s.orig[i] }

// Get is the entity with the given id.
func (s *State) Get(id uint32) (*Entity, bool) {
	i, ok := slices.BinarySearch(s.ids, id)
	if !ok {
		return nil, false
	}
	return s.ents[i], true
}

// Replace gives the entity of an id the state has a new value, in place,
// and reports whether it had the id. Only for a server's own world
// state, which sent states never share (they copy what they take), so
// that a tick in which entities only change costs no rebuild.
func (s *State) Replace(id uint32, e *Entity) bool {
	i, ok := slices.BinarySearch(s.ids, id)
	if ok {
		s.ents[i] = e
	}
	return ok
}

// Type is the type with the given id, or nil.
func (s *State) Type(id uint8) *Type {
	if int(id) < len(s.types) {
		return s.types[id]
	}
	return nil
}

// Types is the state's types, indexed by id (nil where unused). It must
// not be changed.
func (s *State) Types() []*Type { return s.types }

// Diff lists what changed from prev to next: entities created, changed
// (a field differs) and removed, each in id order.
func Diff(prev, next *State) (created, changed, removed []uint32) {
	i, j := 0, 0
	for i < len(prev.ids) || j < len(next.ids) {
		switch {
		case j == len(next.ids) || i < len(prev.ids) && prev.ids[i] < next.ids[j]:
			removed = append(removed, prev.ids[i])
			i++
		case i == len(prev.ids) || next.ids[j] < prev.ids[i]:
			created = append(created, next.ids[j])
			j++
		default:
			if !prev.ents[i].Same(next.ents[j]) {
				changed = append(changed, next.ids[j])
			}
			i++
			j++
		}
	}
	return created, changed, removed
}

// withTypes is types plus t, copied when t is new.
func withType(types []*Type, t *Type) []*Type {
	n := max(len(types), int(t.ID)+1)
	out := make([]*Type, n)
	copy(out, types)
	out[t.ID] = t
	return out
}
