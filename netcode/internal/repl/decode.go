package repl

import (
	"fmt"
	"unicode/utf8"
)

// minEntityBits is the least an entity takes in a payload (a varbits id
// gap and an op), which bounds the count a payload may announce.
const minEntityBits = 5 + 2

// Ops of an entity in a payload.
const (
	opUpdate = 0
	opCreate = 1
	opRemove = 2
)

// Apply decodes payload as a delta against base (REPLICATION.md,
// "Applying a state"). The result shares base's unchanged entities.
func Apply(base *State, tick uint64, payload []byte) (*State, error) {
	r := NewReader(payload)
	out := &State{Tick: tick, types: base.types}
	nt := r.ReadVar()
	if nt > MaxTypes {
		return nil, fmt.Errorf("%w: %d types", ErrMalformed, nt)
	}
	for range nt {
		id := uint8(r.Read(8))
		n := r.ReadVar()
		if n > MaxTypeJSON {
			return nil, fmt.Errorf("%w: type definition of %d bytes", ErrMalformed, n)
		}
		def := r.ReadBytes(int(n))
		if r.Err() != nil {
			return nil, r.Err()
		}
		if out.Type(id) != nil {
			return nil, fmt.Errorf("%w: type %d defined again", ErrMalformed, id)
		}
		t, err := ParseType(id, def)
		if err != nil {
			return nil, err
		}
		out.types = withType(out.types, t)
	}
	ne := r.ReadVar()
	if r.Err() != nil {
		return nil, r.Err()
	}
	if int64(ne)*minEntityBits > int64(r.Left()) {
		return nil, fmt.Errorf("%w: %d entities announced, %d bits left", ErrMalformed, ne, r.Left())
	}
	out.ids = make([]uint32, 0, len(base.ids)+int(ne))
	out.ents = make([]*Entity, 0, len(base.ids)+int(ne))
	out.orig = make([]uint64, 0, len(base.ids)+int(ne))
	bi := 0 // next base entity not yet copied
	next := int64(0)
	for range ne {
		gap := r.ReadVar()
		op := r.Read(2)
		if r.Err() != nil {
			return nil, r.Err()
		}
		id64 := next + int64(gap)
		if id64 > 1<<32-1 {
			return nil, fmt.Errorf("%w: entity id over 32 bits", ErrMalformed)
		}
		id := uint32(id64)
		next = id64 + 1
		for bi < len(base.ids) && base.ids[bi] < id {
			out.ids, out.ents, out.orig = append(out.ids, base.ids[bi]), append(out.ents, base.ents[bi]), append(out.orig, base.orig[bi])
			bi++
		}
		var have *Entity
		if bi < len(base.ids) && base.ids[bi] == id {
			have = base.ents[bi]
			bi++
		}
		switch op {
		case opUpdate:
			if have == nil {
				return nil, fmt.Errorf("%w: update of entity %d, which the base does not have", ErrMalformed, id)
			}
			e, err := readUpdate(r, have)
			if err != nil {
				return nil, fmt.Errorf("entity %d: %w", id, err)
			}
			out.ids, out.ents, out.orig = append(out.ids, id), append(out.ents, e), append(out.orig, tick)
		case opCreate:
			if have != nil {
				return nil, fmt.Errorf("%w: create of entity %d, which the base has", ErrMalformed, id)
			}
			tid := uint8(r.Read(8))
			t := out.Type(tid)
			if t == nil {
				if r.Err() != nil {
					return nil, r.Err()
				}
				return nil, fmt.Errorf("%w: entity %d of undefined type %d", ErrMalformed, id, tid)
			}
			e := &Entity{Type: t, V: make([]uint64, len(t.Fields))}
			if t.hasStr {
				e.S = make([]string, len(t.Fields))
			}
			for i := range t.Fields {
				if err := readField(r, e, i); err != nil {
					return nil, fmt.Errorf("entity %d: %w", id, err)
				}
			}
			out.ids, out.ents, out.orig = append(out.ids, id), append(out.ents, e), append(out.orig, tick)
		case opRemove:
			if have == nil {
				return nil, fmt.Errorf("%w: removal of entity %d, which the base does not have", ErrMalformed, id)
			}
		default:
			return nil, fmt.Errorf("%w: entity %d: op 3", ErrMalformed, id)
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
	}
	out.ids, out.ents, out.orig = append(out.ids, base.ids[bi:]...), append(out.ents, base.ents[bi:]...), append(out.orig, base.orig[bi:]...)
	if err := r.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

func readUpdate(r *Reader, have *Entity) (*Entity, error) {
	t := have.Type
	mask := r.Read64(len(t.Fields))
	if r.Err() != nil {
		return nil, r.Err()
	}
	if mask == 0 {
		return nil, fmt.Errorf("%w: update with an empty mask", ErrMalformed)
	}
	e := have.Clone()
	for i := range t.Fields {
		if mask&(1<<i) != 0 {
			if err := readField(r, e, i); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// readField reads field i of e's type into e.
func readField(r *Reader, e *Entity, i int) error {
	f := &e.Type.Fields[i]
	switch f.Kind {
	case KindString, KindBytes:
		n := r.ReadVar()
		if r.Err() != nil {
			return r.Err()
		}
		if int64(n) > int64(f.MaxLen) {
			return fmt.Errorf("%w: field %q: %d bytes, limit %d", ErrMalformed, f.Name, n, f.MaxLen)
		}
		b := r.ReadBytes(int(n))
		if r.Err() != nil {
			return r.Err()
		}
		if f.Kind == KindString && !utf8.Valid(b) {
			return fmt.Errorf("%w: field %q: not UTF-8", ErrMalformed, f.Name)
		}
		e.S[i] = string(b)
	default:
		e.V[i] = r.Read64(f.width())
	}
	return r.Err()
}
