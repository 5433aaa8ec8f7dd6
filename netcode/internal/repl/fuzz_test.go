package repl

import (
	"errors"
	"math"
	"testing"
)

// fuzzBase is a base with a few entities of testTypes, for payloads that
// update and remove.
func fuzzBase(t testing.TB) *State {
	types := testTypes(t)
	snd := NewSender()
	ids := []uint32{0, 1, 5, 900, math.MaxUint32}
	ents := make([]*Entity, len(ids))
	for i := range ents {
		ents[i] = NewEntity(types[2*(i%2)])
	}
	p, _, err := snd.Encode(NewState(1, types, ids, ents), 1, Options{Budget: 4000})
	if err != nil {
		t.Fatal(err)
	}
	base, err := Apply(&State{}, 1, p)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// FuzzApply: no payload makes the decoder panic or fail with anything
// but ErrMalformed, and whatever decodes is a world the encoder can send
// again, to the same result.
func FuzzApply(f *testing.F) {
	base := fuzzBase(f)
	for _, g := range goldenExamples(f) {
		f.Add(g.payload, g.base != 0)
	}
	f.Add([]byte{0, 0}, true)
	f.Add([]byte{0x00, 0x2c, 0x00}, true)
	f.Fuzz(func(t *testing.T, payload []byte, withBase bool) {
		b := &State{}
		if withBase {
			b = base
		}
		st, err := Apply(b, 2, payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Send the decoded world again, from scratch, and decode it.
		snd := NewSender()
		p, _, err := snd.Encode(st, 1, Options{Budget: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		again, err := Apply(&State{}, 1, p)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		// Types the payload defined but no entity uses are sent too.
		if d := statesEqual(again, st); d != "" {
			t.Fatal(d)
		}
	})
}

// FuzzParseType: no definition makes the parser panic, and one it takes
// is one NewType makes again, the same.
func FuzzParseType(f *testing.F) {
	for _, typ := range testTypes(f) {
		if typ != nil {
			f.Add(typ.Def())
		}
	}
	f.Add([]byte(`{"name":"t","fields":[{"name":"a","kind":"int","min":-3,"max":3,"bits":3,"interp":"linear"}]}`))
	f.Fuzz(func(t *testing.T, def []byte) {
		typ, err := ParseType(1, def)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if typ.maxCreate < 0 || len(typ.Fields) == 0 || len(typ.Fields) > MaxFields {
			t.Fatalf("accepted %+v", typ)
		}
		e := NewEntity(typ)
		for i := range typ.Fields {
			_ = e.Float(i)
		}
	})
}
