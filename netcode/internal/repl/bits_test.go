package repl

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var w Writer
		type item struct {
			v    uint64
			bits int // 0: varbits; -1: bytes
			b    []byte
		}
		var items []item
		for range rng.IntN(40) {
			switch rng.IntN(4) {
			case 0:
				v := rng.Uint32() >> rng.IntN(33)
				items = append(items, item{v: uint64(v)})
				w.WriteVar(v)
			case 1:
				b := make([]byte, rng.IntN(5))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				items = append(items, item{bits: -1, b: b})
				w.WriteBytes(b)
			default:
				n := 1 + rng.IntN(64)
				v := rng.Uint64() & (1<<n - 1)
				items = append(items, item{v: v, bits: n})
				w.Write64(v, n)
			}
		}
		r := NewReader(w.Bytes())
		for i, it := range items {
			switch it.bits {
			case 0:
				if got := r.ReadVar(); uint64(got) != it.v {
					t.Fatalf("round %d item %d: varbits %d, want %d", round, i, got, it.v)
				}
			case -1:
				if got := r.ReadBytes(len(it.b)); string(got) != string(it.b) {
					t.Fatalf("round %d item %d: bytes %x, want %x", round, i, got, it.b)
				}
			default:
				if got := r.Read64(it.bits); got != it.v {
					t.Fatalf("round %d item %d: %d bits %x, want %x", round, i, it.bits, got, it.v)
				}
			}
		}
		if err := r.Finish(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

func TestVarBits(t *testing.T) {
	tests := []struct {
		v    uint32
		bits int
		hex  string
	}{
		{0, 5, "00"},
		{15, 5, "0f"},
		{16, 10, "30 00"},
		{255, 10, "ff 01"},
		{256, 15, "10 06"},
		{1<<32 - 1, 40, "ff ff ff ff 7f"},
	}
	for _, tt := range tests {
		var w Writer
		w.WriteVar(tt.v)
		if w.Len() != tt.bits || VarBits(tt.v) != tt.bits {
			t.Errorf("%d: %d bits written, VarBits %d, want %d", tt.v, w.Len(), VarBits(tt.v), tt.bits)
		}
		if got := spaced(w.Bytes()); got != tt.hex {
			t.Errorf("%d: %s, want %s", tt.v, got, tt.hex)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		read func(*Reader)
	}{
		{"past the end", []byte{0xff}, func(r *Reader) { r.Read(9) }},
		{"varbits too long", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, func(r *Reader) { r.ReadVar() }},
		{"varbits over 32 bits", []byte{0xff, 0xff, 0xff, 0xff, 0xff}, func(r *Reader) { r.ReadVar() }},
		{"bytes past the end", []byte{1, 2}, func(r *Reader) { r.ReadBytes(3) }},
		{"a byte left", []byte{0, 0}, func(r *Reader) { r.Read(3) }},
		{"padding not zero", []byte{0x80}, func(r *Reader) { r.Read(3) }},
	}
	for _, tt := range tests {
		r := NewReader(tt.b)
		tt.read(r)
		if err := r.Finish(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tt.name, err)
		}
	}
}
