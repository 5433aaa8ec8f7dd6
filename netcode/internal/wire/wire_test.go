package wire

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []Message{
		{Kind: KindSnapshot, Seq: 1, Payload: []byte("state")},
		{Kind: KindSnapshot, Seq: math.MaxUint64, Payload: bytes.Repeat([]byte{1}, 1183)},
		{Kind: KindInput, Seq: 300, Payload: []byte{}},
		{Kind: KindInput, Seq: 301, Ack: 1 << 40, Payload: []byte{1}},
		{Kind: KindPing, Seq: 7, Time: 123456789},
		{Kind: KindPong, Seq: 7, Time: math.MaxInt64},
		{Kind: KindEvent, Seq: 1 << 40, Ack: 99, Payload: []byte("hello")},
		{Kind: KindAck, Ack: 12},
		{Kind: KindClose, Code: 2, Reason: "bad message"},
		{Kind: KindState, Seq: 9, Base: 4, Time: math.MaxInt64, Payload: []byte{0, 0}},
		{Kind: KindState, Seq: 1, Payload: []byte{}},
		{Kind: KindStateAck, Seq: 1 << 33},
	}
	enc, dec := NewEncoder(), NewDecoder()
	for _, want := range tests {
		t.Run(want.Kind.String(), func(t *testing.T) {
			b, err := enc.Encode(&want)
			if err != nil {
				t.Fatal(err)
			}
			var got Message
			if err := dec.Decode(b, &got); err != nil {
				t.Fatalf("Decode(%x): %v", b, err)
			}
			if got.Kind != want.Kind || got.Seq != want.Seq || got.Ack != want.Ack || got.Time != want.Time || got.Base != want.Base ||
				got.Code != want.Code || got.Reason != want.Reason || !bytes.Equal(got.Payload, want.Payload) {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

// TestGolden pins the bytes WIRE.md documents, so the spec and the code
// cannot drift apart.
func TestGolden(t *testing.T) {
	tests := []struct {
		m    Message
		want []byte
	}{
		{Message{Kind: KindSnapshot, Seq: 5, Payload: []byte{0xAA}}, []byte{0x94, 0x01, 0x01, 0x05, 0xc4, 0x01, 0xAA}},
		{Message{Kind: KindInput, Seq: 300}, []byte{0x94, 0x01, 0x02, 0xcd, 0x01, 0x2c, 0xc4, 0x00}},
		{Message{Kind: KindInput, Seq: 2, Ack: 7, Payload: []byte{0xAA}}, []byte{0x95, 0x01, 0x02, 0x02, 0xc4, 0x01, 0xAA, 0x07}},
		{Message{Kind: KindEvent, Seq: 1, Ack: 0, Payload: []byte("hi")}, []byte{0x95, 0x01, 0x10, 0x01, 0x00, 0xc4, 0x02, 'h', 'i'}},
		{Message{Kind: KindAck, Ack: 3}, []byte{0x93, 0x01, 0x11, 0x03}},
		{Message{Kind: KindClose, Code: 1, Reason: "bye"}, []byte{0x94, 0x01, 0x12, 0x01, 0xa3, 'b', 'y', 'e'}},
		// REPLICATION.md's examples.
		{Message{Kind: KindState, Seq: 7, Base: 5, Time: 1000, Payload: []byte{0, 0}}, []byte{0x96, 0x01, 0x05, 0x07, 0x05, 0xcd, 0x03, 0xe8, 0xc4, 0x02, 0x00, 0x00}},
		{Message{Kind: KindStateAck, Seq: 7}, []byte{0x93, 0x01, 0x06, 0x07}},
	}
	enc := NewEncoder()
	for _, tt := range tests {
		b, err := enc.Encode(&tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, tt.want) {
			t.Errorf("%v: % x, want % x", tt.m.Kind, b, tt.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"not an array", []byte{0x01}, ErrMalformed},
		{"short array", []byte{0x91, 0x01}, ErrMalformed},
		{"version 2", []byte{0x93, 0x02, 0x11, 0x00}, ErrVersion},
		{"negative version", []byte{0x93, 0xff, 0x11, 0x00}, ErrMalformed},
		{"unknown kind", []byte{0x92, 0x01, 0x63}, ErrUnknownKind},
		{"kind too big", []byte{0x92, 0x01, 0xcd, 0x01, 0x00}, ErrUnknownKind},
		{"missing payload", []byte{0x93, 0x01, 0x01, 0x05}, ErrMalformed},
		{"payload announced beyond input", []byte{0x94, 0x01, 0x01, 0x05, 0xc6, 0xff, 0xff, 0xff, 0xff}, ErrMalformed},
		{"payload as string", []byte{0x94, 0x01, 0x01, 0x05, 0xa1, 'x'}, ErrMalformed},
		{"payload as nil", []byte{0x94, 0x01, 0x01, 0x05, 0xc0}, ErrMalformed},
		{"seq as float", []byte{0x94, 0x01, 0x01, 0xca, 0, 0, 0, 0, 0xc4, 0x00}, ErrMalformed},
		{"seq negative", []byte{0x94, 0x01, 0x01, 0xd0, 0x80, 0xc4, 0x00}, ErrMalformed},
		{"trailing bytes", []byte{0x93, 0x01, 0x11, 0x00, 0x00}, ErrMalformed},
		{"close code out of range", []byte{0x94, 0x01, 0x12, 0xce, 0x00, 0x01, 0x00, 0x00, 0xa0}, ErrMalformed},
		{"close reason too long", append([]byte{0x94, 0x01, 0x12, 0x00, 0xda, 0x01, 0x01}, make([]byte, MaxReasonLen+1)...), ErrMalformed},
		{"truncated header", []byte{0xdc, 0x00}, ErrMalformed},
		{"state time negative", []byte{0x96, 0x01, 0x05, 0x07, 0x05, 0xff, 0xc4, 0x00}, ErrMalformed},
		{"state time over int64", []byte{0x96, 0x01, 0x05, 0x07, 0x05, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x00}, ErrMalformed},
		{"state without payload", []byte{0x95, 0x01, 0x05, 0x07, 0x05, 0x00}, ErrMalformed},
		{"input state ack as string", []byte{0x95, 0x01, 0x02, 0x02, 0xc4, 0x00, 0xa1, '7'}, ErrMalformed},
		{"input state ack negative", []byte{0x95, 0x01, 0x02, 0x02, 0xc4, 0x00, 0xff}, ErrMalformed},
	}
	dec := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := dec.Decode(tt.in, &m); !errors.Is(err, tt.want) {
				t.Fatalf("Decode(% x) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// TestInputStateAck: an input may carry a state ack as a fifth element,
// and elements after it are skipped as for any kind.
func TestInputStateAck(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
	}{
		{[]byte{0x94, 0x01, 0x02, 0x02, 0xc4, 0x00}, 0},
		{[]byte{0x95, 0x01, 0x02, 0x02, 0xc4, 0x00, 0xcd, 0x01, 0x2c}, 300},
		{[]byte{0x96, 0x01, 0x02, 0x02, 0xc4, 0x00, 0x07, 0xa1, 'x'}, 7},
	}
	dec := NewDecoder()
	for _, tt := range tests {
		var m Message
		if err := dec.Decode(tt.in, &m); err != nil || m.Kind != KindInput || m.Seq != 2 || m.Ack != tt.want {
			t.Errorf("Decode(% x) = %+v, %v; want an input with state ack %d", tt.in, m, err, tt.want)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	enc := NewEncoder()
	if _, err := enc.Encode(&Message{Kind: 99}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := enc.Encode(&Message{Kind: KindClose, Reason: string(make([]byte, MaxReasonLen+1))}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long reason: %v", err)
	}
}

// FuzzDecode: no input makes the decoder panic, slice out of bounds or
// return a payload that is not a part of its input, and whatever decodes
// re-encodes to something that decodes to the same message.
func FuzzDecode(f *testing.F) {
	enc := NewEncoder()
	for _, m := range []Message{
		{Kind: KindSnapshot, Seq: 5, Payload: []byte("state")},
		{Kind: KindInput, Seq: 1},
		{Kind: KindInput, Seq: 2, Ack: 7, Payload: []byte{1}},
		{Kind: KindPing, Seq: 1, Time: 5},
		{Kind: KindEvent, Seq: 2, Ack: 1, Payload: []byte("ev")},
		{Kind: KindAck, Ack: 1},
		{Kind: KindClose, Code: 2, Reason: "why"},
		{Kind: KindState, Seq: 3, Base: 2, Time: 1e9, Payload: []byte{0, 0}},
		{Kind: KindStateAck, Seq: 3},
	} {
		b, _ := enc.Encode(&m)
		f.Add(append([]byte(nil), b...))
	}
	f.Add([]byte{0x94, 0x01, 0x01, 0x05, 0xc6, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		dec := NewDecoder()
		var m Message
		if err := dec.Decode(in, &m); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(m.Payload) > len(in) || len(m.Reason) > MaxReasonLen {
			t.Fatalf("decoded more than was there: %+v", m)
		}
		b, err := NewEncoder().Encode(&m)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		var again Message
		if err := dec.Decode(b, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Kind != m.Kind || again.Seq != m.Seq || again.Ack != m.Ack || again.Time != m.Time || again.Base != m.Base ||
			again.Code != m.Code || again.Reason != m.Reason || !bytes.Equal(again.Payload, m.Payload) {
			t.Fatalf("round trip changed %+v into %+v", m, again)
		}
	})
}

// BenchmarkSnapshot reports the cost of the hot path: the encoder reuses its
// buffer and the decoder aliases its input, so both should show 0 allocs/op
// (the netcode read loop then makes the one copy the payload needs).
func BenchmarkSnapshot(b *testing.B) {
	payload := bytes.Repeat([]byte{0x5a}, 1000)
	enc, dec := NewEncoder(), NewDecoder()
	m := Message{Kind: KindSnapshot, Seq: 1 << 20, Payload: payload}
	buf, _ := enc.Encode(&m)
	in := append([]byte(nil), buf...)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for i := 0; i < b.N; i++ {
			m.Seq++
			if _, err := enc.Encode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		var out Message
		for i := 0; i < b.N; i++ {
			if err := dec.Decode(in, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDecodeHostileLengthsKeepNothing decodes, with one Decoder as a read
// loop does, messages whose extra elements claim gigabytes. Each is
// malformed, and together they allocate almost nothing. msgpack's Skip grew
// the Decoder's buffer by a megabyte, and then by a quarter, at each one,
// and kept it: these 20 allocated 444 MB (internal/mpcheck). netcode closes
// a session at its first malformed message, so there it cost a megabyte or
// so a message.
func TestDecodeHostileLengthsKeepNothing(t *testing.T) {
	hostile := [][]byte{
		{0x94, 1, byte(KindAck), 1, 0xdb, 0x7f, 0xff, 0xff, 0xff},          // str32 of 2 GiB
		{0x94, 1, byte(KindAck), 1, 0xc6, 0xff, 0xff, 0xff, 0xff},          // bin32 of 4 GiB
		{0x94, 1, byte(KindAck), 1, 0xc9, 0x7f, 0xff, 0xff, 0xff, 5},       // ext32 of 2 GiB
		{0x94, 1, byte(KindAck), 1, 0x91, 0xdb, 0x7f, 0xff, 0xff, 0xff},    // inside an array
		{0x94, 1, byte(KindAck), 1, 0xdd, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3}, // array32 of 2^31
	}
	d := NewDecoder()
	var m Message
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		for _, b := range hostile {
			if err := d.Decode(b, &m); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(% x) = %v, want ErrMalformed", b, err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("20 hostile messages allocated %d bytes; want under 64 KiB", n)
	}
}
