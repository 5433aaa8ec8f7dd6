package repl

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNewTypeBits(t *testing.T) {
	typ, err := NewType(3, "dot", []Field{
		{Name: "x", Kind: KindFloat, Min: -512, Max: 512, Step: 0.01},
		{Name: "heading", Kind: KindAngle, Bits: 10},
		{Name: "hp", Kind: KindInt, Min: 0, Max: 100},
		{Name: "alive", Kind: KindBool},
		{Name: "rot", Kind: KindQuat, Bits: 11},
		{Name: "name", Kind: KindString, MaxLen: 16},
		{Name: "team", Kind: KindInt, Min: -1, Max: -1, Interp: InterpLinear},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"dot","fields":[{"name":"x","kind":"float","min":-512,"max":512,"step":0.01,"bits":17},{"name":"heading","kind":"angle","bits":10},{"name":"hp","kind":"int","min":0,"max":100,"bits":7},{"name":"alive","kind":"bool"},{"name":"rot","kind":"quat","bits":11},{"name":"name","kind":"string","max":16},{"name":"team","kind":"int","min":-1,"max":-1,"bits":1,"interp":"linear"}]}`
	if string(typ.Def()) != want {
		t.Errorf("def\n%s\nwant\n%s", typ.Def(), want)
	}
	interps := []Interp{InterpLinear, InterpAngle, InterpNone, InterpNone, InterpQuat, InterpNone, InterpLinear}
	for i, f := range typ.Fields {
		if f.Interp != interps[i] {
			t.Errorf("field %s: interp %v, want %v", f.Name, f.Interp, interps[i])
		}
	}
}

func TestParseTypeRefuses(t *testing.T) {
	long := strings.Repeat("a", 65)
	many := `{"name":"t","fields":[` + strings.Repeat(`{"name":"f","kind":"bool"},`, 64) + `{"name":"g","kind":"bool"}]}`
	tests := []struct{ name, def string }{
		{"not JSON", `{`},
		{"no name", `{"fields":[{"name":"a","kind":"bool"}]}`},
		{"long name", `{"name":"` + long + `","fields":[{"name":"a","kind":"bool"}]}`},
		{"no fields", `{"name":"t","fields":[]}`},
		{"65 fields", many},
		{"same field twice", `{"name":"t","fields":[{"name":"a","kind":"bool"},{"name":"a","kind":"bool"}]}`},
		{"unknown kind", `{"name":"t","fields":[{"name":"a","kind":"vec"}]}`},
		{"int without bits", `{"name":"t","fields":[{"name":"a","kind":"int","min":0,"max":3}]}`},
		{"int 33 bits", `{"name":"t","fields":[{"name":"a","kind":"int","min":0,"max":3,"bits":33}]}`},
		{"int fraction", `{"name":"t","fields":[{"name":"a","kind":"int","min":0.5,"max":3,"bits":2}]}`},
		{"int min over max", `{"name":"t","fields":[{"name":"a","kind":"int","min":4,"max":3,"bits":2}]}`},
		{"float no step", `{"name":"t","fields":[{"name":"a","kind":"float","min":0,"max":3,"bits":2}]}`},
		{"float step 0", `{"name":"t","fields":[{"name":"a","kind":"float","min":0,"max":3,"step":0,"bits":2}]}`},
		{"angle 0 bits", `{"name":"t","fields":[{"name":"a","kind":"angle","bits":0}]}`},
		{"quat 21 bits", `{"name":"t","fields":[{"name":"a","kind":"quat","bits":21}]}`},
		{"string no max", `{"name":"t","fields":[{"name":"a","kind":"string"}]}`},
		{"bytes max too big", `{"name":"t","fields":[{"name":"a","kind":"bytes","max":65536}]}`},
		{"unknown interp", `{"name":"t","fields":[{"name":"a","kind":"bool","interp":"cubic"}]}`},
		{"linear bool", `{"name":"t","fields":[{"name":"a","kind":"bool","interp":"linear"}]}`},
		{"angle on float", `{"name":"t","fields":[{"name":"a","kind":"float","min":0,"max":1,"step":1,"bits":1,"interp":"angle"}]}`},
		{"too long", `{"name":"t","x":"` + strings.Repeat("a", MaxTypeJSON) + `","fields":[{"name":"a","kind":"bool"}]}`},
	}
	for _, tt := range tests {
		if _, err := ParseType(0, []byte(tt.def)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tt.name, err)
		}
	}
	// Unknown members are how a later revision grows.
	if _, err := ParseType(0, []byte(`{"name":"t","v":2,"fields":[{"name":"a","kind":"bool","color":"red"}]}`)); err != nil {
		t.Errorf("unknown members: %v", err)
	}
}

func TestQuantise(t *testing.T) {
	typ, err := NewType(0, "t", []Field{
		{Name: "i", Kind: KindInt, Min: -10, Max: 10},
		{Name: "f", Kind: KindFloat, Min: -1, Max: 1, Step: 0.25},
		{Name: "a", Kind: KindAngle, Bits: 8},
		{Name: "b", Kind: KindBool},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field int
		in    float64
		want  float64
	}{
		{0, 3, 3}, {0, 3.4, 3}, {0, -11, -10}, {0, 99, 10}, {0, math.NaN(), -10},
		{1, 0.3, 0.25}, {1, -5, -1}, {1, 2, 1}, {1, 0.125, 0.25},
		{2, math.Pi, math.Pi}, {2, -math.Pi / 2, 3 * math.Pi / 2}, {2, 2 * math.Pi, 0}, {2, 7 * math.Pi, math.Pi}, {2, math.Inf(1), 0},
		{3, 0, 0}, {3, 2, 1}, {3, math.NaN(), 0},
	}
	for _, tt := range tests {
		f := &typ.Fields[tt.field]
		if got := f.Value(f.Quantise(tt.in)); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s(%v) = %v, want %v", f.Name, tt.in, got, tt.want)
		}
	}
}

func TestQuat(t *testing.T) {
	f := Field{Name: "q", Kind: KindQuat, Bits: 11}
	qs := [][4]float64{
		{0, 0, 0, 1}, {0, 0, 0, -1}, {1, 0, 0, 0}, {0.5, 0.5, 0.5, 0.5}, {-0.5, 0.5, -0.5, 0.5},
		{0.1, -0.7, 0.2, 0.68}, {0, 0, 0, 0}, {math.NaN(), 0, 0, 1}, {2, 0, 0, 0},
	}
	for _, q := range qs {
		got := f.QuatValue(f.QuantiseQuat(q))
		n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
		if !(n > 0) || math.IsNaN(n) {
			q, n = [4]float64{0, 0, 0, 1}, 1
		}
		// q and -q are the same rotation: compare |dot|.
		dot := 0.0
		for i := range 4 {
			dot += got[i] * q[i] / n
		}
		if math.Abs(math.Abs(dot)-1) > 2e-5 {
			t.Errorf("%v: got %v (|dot| %v)", q, got, math.Abs(dot))
		}
	}
}
