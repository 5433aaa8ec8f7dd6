package mpcheck

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// valid are values of every MessagePack type and width, as
// github.com/vmihailenco/msgpack/v5 encodes them.
func valid(t testing.TB) [][]byte {
	t.Helper()
	values := []any{
		nil, true, false,
		0, 127, 128, 255, 256, 65535, 65536, uint64(1) << 40,
		-1, -32, -33, -128, -129, -32768, -32769, int64(-1) << 40,
		float32(1.5), 2.25,
		"", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 256), strings.Repeat("s", 65536),
		[]byte{}, []byte{1, 2, 3}, bytes.Repeat([]byte{7}, 256), bytes.Repeat([]byte{7}, 65536),
		time.Unix(1, 0), time.Unix(1<<33, 1), time.Unix(1, 5), // fixext4, fixext8, ext8
		[]any{}, []any{1, "a", []any{nil, true}}, make([]any, 16),
		map[string]any{}, map[string]any{"a": map[string]any{"b": []any{1.5}}}, bigMap(16),
	}
	var out [][]byte
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %T: %v", v, err)
		}
		out = append(out, b)
	}
	// Codes msgpack.Marshal does not make on its own: fixext1/2/16, ext16/32;
	// and array32 and map32 of nils, cheaper to build by hand.
	out = append(out,
		append([]byte{0xdd, 0, 1, 0, 0}, bytes.Repeat([]byte{0xc0}, 65536)...),
		append([]byte{0xdf, 0, 1, 0, 0}, bytes.Repeat([]byte{0xc0}, 2*65536)...),
		[]byte{0xd4, 5, 1}, []byte{0xd5, 5, 1, 2}, append([]byte{0xd8, 5}, make([]byte, 16)...),
		append([]byte{0xc8, 0x01, 0x00, 5}, make([]byte, 256)...),
		append([]byte{0xc9, 0, 1, 0, 0, 5}, make([]byte, 65536)...),
	)
	return out
}

func bigMap(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = i
	}
	return m
}

func TestValueLenValid(t *testing.T) {
	for _, b := range valid(t) {
		if n, err := ValueLen(b); err != nil || n != len(b) {
			t.Errorf("% .16x (%d bytes): ValueLen = %d, %v", b, len(b), n, err)
		}
		if n, err := ValueLen(append(b[:len(b):len(b)], 0xc0, 0xc0)); err != nil || n != len(b) {
			t.Errorf("% .16x and two more bytes: ValueLen = %d, %v, want %d", b, n, err, len(b))
		}
		if err := Check(b); err != nil {
			t.Errorf("% .16x: Check: %v", b, err)
		}
		if err := Check(append(b[:len(b):len(b)], 0xc0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("% .16x and a byte: Check = %v, want ErrMalformed", b, err)
		}
		// MessagePack is prefix-free: no strict prefix of a value is one.
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if cut >= len(b) {
				continue
			}
			if n, err := ValueLen(b[:cut]); !errors.Is(err, ErrMalformed) {
				t.Errorf("% .16x cut to %d bytes: ValueLen = %d, %v, want ErrMalformed", b, cut, n, err)
			}
		}
	}
}

func TestValueLenRefuses(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0xc0)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"the unused code", []byte{0xc1}},
		{"str32 claiming 2 GiB", []byte{0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'}},
		{"bin32 claiming 4 GiB", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}},
		{"ext32 claiming 1 GiB", []byte{0xc9, 0x40, 0, 0, 0, 5}},
		{"ext8 without its type", []byte{0xc7, 0}},
		{"array32 of 2^31 elements", []byte{0xdd, 0x80, 0, 0, 0, 1, 2, 3}},
		{"map32 of 2^31 entries", []byte{0xdf, 0x80, 0, 0, 0, 1, 2, 3}},
		{"map16 of one key", []byte{0xde, 0, 1, 0xa1, 'k'}},
		{"a key of FuzzDecodeSnapshot's (bin32 of 942 MB)", []byte{0x82, 0xa4, '0', '0', '2', 'B', '0', 0xc6, '8', '0', '1', '0'}},
		{"a value of FuzzDecodeSnapshot's (str32 of 1.6 GB)", []byte{0x82, 0xa4, '0', ' ', '0', 0x10, '0', 0xa7, '0', '0', 0x99, 0xdd, 0xdc, 0xae, 0xc3, 0xdb, 0x60, 0x8c, '0', '0', '0', '0', '0'}},
		{"uint64 cut short", []byte{0xcf, 1, 2}},
		{"fixext16 cut short", []byte{0xd8, 1, 2}},
		{"arrays nested past MaxDepth", deep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n, err := ValueLen(tc.b); !errors.Is(err, ErrMalformed) {
				t.Errorf("ValueLen(% x) = %d, %v, want ErrMalformed", tc.b, n, err)
			}
		})
	}
	if n, err := ValueLen(deep[1:]); err != nil || n != len(deep)-1 {
		t.Errorf("arrays nested MaxDepth deep: ValueLen = %d, %v", n, err)
	}
}

// FuzzValueLen checks ValueLen against msgpack's own Skip: a value it
// accepts, msgpack reads to exactly its end; and it never claims more than
// b holds.
func FuzzValueLen(f *testing.F) {
	for _, b := range valid(f) {
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte{0x82, 0xa4, '0', '0', '2', 'B', '0', 0xc6, '8', '0', '1', '0'})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ValueLen(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if n < 1 || n > len(b) {
			t.Fatalf("ValueLen = %d for %d bytes", n, len(b))
		}
		r := bytes.NewReader(b[:n])
		if err := msgpack.NewDecoder(r).Skip(); err != nil || r.Len() != 0 {
			t.Fatalf("ValueLen = %d, but msgpack's Skip: %v, %d bytes left", n, err, r.Len())
		}
	})
}
