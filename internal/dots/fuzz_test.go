package dots

import (
	"reflect"
	"runtime"
	"testing"
)

// The demo game's decoders: a move comes from any player, a snapshot or an
// event from the game server. Each decodes any input without a panic, and
// what decodes re-encodes to bytes that decode to the same value.

func FuzzDecodeMove(f *testing.F) {
	for _, m := range []Move{{}, {DX: 1, DY: -1}, {DX: -128, DY: 127}} {
		b, _ := EncodeMove(m)
		f.Add(b)
	}
	f.Add([]byte{0x82, 0xa2, 'd', 'x', 0xcd, 0x01, 0x00}) // dx: 256
	f.Add([]byte{0x81, 0xa2, 'd', 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMove(b)
		if err != nil {
			return
		}
		roundTrip(t, m, EncodeMove, DecodeMove)
		// However hostile the move, the server's dot moves one step at most
		// and stays in the arena.
		for _, s := range []PlayerState{{}, {X: Arena, Y: -Arena}, {X: -Arena, Y: Arena}} {
			n := s
			n.Apply(m)
			if d := int(n.X) - int(s.X); d < -1 || d > 1 || n.X < -Arena || n.X > Arena {
				t.Fatalf("move %+v took x from %d to %d", m, s.X, n.X)
			}
			if d := int(n.Y) - int(s.Y); d < -1 || d > 1 || n.Y < -Arena || n.Y > Arena {
				t.Fatalf("move %+v took y from %d to %d", m, s.Y, n.Y)
			}
		}
	})
}

func FuzzDecodeSnapshot(f *testing.F) {
	for _, s := range []Snapshot{{}, {Tick: 7, Players: []PlayerState{{ID: 1, X: -3, Y: 100}, {ID: 65535}}}} {
		b, _ := EncodeSnapshot(&s)
		f.Add(b)
	}
	f.Add([]byte{0x82, 0xa4, 't', 'i', 'c', 'k', 0x01, 0xa7, 'p', 'l', 'a', 'y', 'e', 'r', 's', 0xdd, 0x01, 0x00, 0x00, 0x00})
	f.Add([]byte{0x81, 0xa7, 'p', 'l', 'a', 'y', 'e', 'r', 's', 0x91, 0x93, 0xcd, 0xff, 0xff, 0xd1, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if len(s.Players) > len(b) {
			t.Fatalf("%d players from %d bytes", len(s.Players), len(b))
		}
		roundTrip(t, s, func(s Snapshot) ([]byte, error) { return EncodeSnapshot(&s) }, DecodeSnapshot)
	})
}

// TestDecodeSnapshotClaimedLength: a players array whose header claims
// more elements than there are bytes is refused without allocating them
// (found by FuzzDecodeSnapshot: msgpack v5.4.1 allocated 2^31 elements for
// a 20-byte input, over 100 s and gigabytes).
func TestDecodeSnapshotClaimedLength(t *testing.T) {
	b := []byte{0x82, 0xa4, 't', 'i', 'c', 'k', 0x01, 0xa7, 'p', 'l', 'a', 'y', 'e', 'r', 's', 0xdd, 0x01, 0x00, 0x00, 0x00, 0x93, 1, 2, 3}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeSnapshot(b)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a snapshot of 16M players in 24 bytes decoded")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("decoding %d bytes allocated %d MB", len(b), n>>20)
	}
}

// TestDecodeMoveClaimedLength: an input whose strings or bins claim more
// bytes than it has costs the server no allocation of them (found by
// FuzzDecodeMove, whose workers grew to 7 GB: msgpack.Unmarshal allocated
// up to 1 MiB for each claim).
func TestDecodeMoveClaimedLength(t *testing.T) {
	for _, b := range [][]byte{
		{0x82, 0xa2, '0', '0', 0xc6, 0x30, 0x30, 0x30, 0x30},                       // an unknown key's bin32 of 800 MB
		{0x81, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'd'},                                  // a str32 key of 2 GB
		{0x82, 0xa2, 'd', 'x', 0x01, 0xa2, 'z', 'z', 0xdb, 0xff, 0xff, 0xff, 0xff}, // an unknown key's str32
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := DecodeMove(b)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("% x decoded as %+v", b, m)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("decoding % x allocated %d KB", b, n>>10)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, e := range []Event{{Type: EventWelcome, ID: 3}, {Type: EventJoined, Room: "r-1", ID: 2, Player: "g-a", Name: "Ann"}, {}} {
		b, _ := EncodeEvent(e)
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xdb, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if len(e.Type)+len(e.Room)+len(e.Player)+len(e.Name) > len(b) {
			t.Fatalf("event %+v from %d bytes", e, len(b))
		}
		roundTrip(t, e, EncodeEvent, DecodeEvent)
	})
}

// roundTrip checks that v encodes, and decodes back to itself.
func roundTrip[T any](t *testing.T, v T, enc func(T) ([]byte, error), dec func([]byte) (T, error)) {
	t.Helper()
	b, err := enc(v)
	if err != nil {
		t.Fatalf("%+v does not encode: %v", v, err)
	}
	again, err := dec(b)
	if err != nil {
		t.Fatalf("%+v encodes to % x, which does not decode: %v", v, b, err)
	}
	if !reflect.DeepEqual(v, again) {
		t.Fatalf("round trip of %+v gave %+v", v, again)
	}
}

// TestDecodeHostileLengthsKeepNothing: snapshots and events whose unknown
// keys' values claim gigabytes are refused, and twenty of them allocate
// almost nothing. msgpack.Unmarshal's pooled decoder grew its buffer by a
// megabyte, and then a quarter, at each one and kept it (found by
// FuzzDecodeSnapshot, whose worker grew to 3.7 GB).
func TestDecodeHostileLengthsKeepNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"snapshot", func(b []byte) error { _, err := DecodeSnapshot(b); return err }},
		{"event", func(b []byte) error { _, err := DecodeEvent(b); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hostile := [][]byte{
				{0x81, 0xa1, 'z', 0xdb, 0x7f, 0xff, 0xff, 0xff}, // str32 of 2 GiB
				{0x81, 0xa1, 'z', 0xc6, 0xff, 0xff, 0xff, 0xff}, // bin32 of 4 GiB
				{0x81, 0xc6, 0x38, 0x30, 0x31, 0x30},            // a bin32 key of 942 MB
				{0x81, 0xa1, 'z', 0x91, 0xc9, 0x7f, 0xff, 0xff, 0xff, 5},
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 5 {
				for _, b := range hostile {
					if err := tc.decode(b); err == nil {
						t.Fatalf("% x decoded", b)
					}
				}
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
				t.Errorf("20 hostile payloads allocated %d bytes; want under 256 KiB", n)
			}
		})
	}
}
