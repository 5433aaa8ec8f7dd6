//go:build !js

package main

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzPayloadRoundTrip: what the browser client decodes from a game
// server's payload (codec.go, the only decoder here of bytes from the
// network; convert.go, its JS half, builds only for js) holds only plain
// values, no more of them than the payload had bytes and strings of a
// size linear in it, and re-encodes to msgpack that decodes again; from
// there, encoding and decoding is a fixpoint (the first pass may turn an
// integral float into an integer, as the encoder's compact form does).
func FuzzPayloadRoundTrip(f *testing.F) {
	for _, v := range []any{nil, true, int64(-1), uint64(math.MaxUint64), 1.5, math.NaN(), math.Inf(-1), "s", []byte{0, 1},
		[]any{int64(1), "a", []any{}}, map[string]any{"a": map[string]any{"b": nil}}, map[int]any{1: 2, -3: "x"}, time.Unix(1800000000, 5)} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})                               // an array32 claiming 2^32 elements
	f.Add([]byte{0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0})                         // a map32 claiming 2^31 entries
	f.Add([]byte{0xc6, 0xff, 0xff, 0xff, 0xff})                               // a bin32 claiming 4 GiB
	f.Add([]byte{0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // a timestamp64 with 2^30 ns too many
	f.Add(append(make([]byte, 0, 200), []byte{0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
		0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
		0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91,
		0x91, 0x91, 0xc0}...)) // nested deeper than maxDepth
	dec := newDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := dec.decode(b)
		if err != nil {
			return
		}
		// Each value takes a byte at least. Strings take their bytes, but
		// a key that is not a string becomes one as JS would name it
		// ({"map[0:0]": ...} from 3 bytes; at worst about 5 bytes a byte
		// of key, for a float or a timestamp): linear, never more.
		if nodes, bytes := plainSize(t, v, 0); nodes > len(b) || bytes > 8*len(b) {
			t.Fatalf("% x decoded to %d values and %d bytes of strings", b, nodes, bytes)
		}
		b2, err := encodePayload(v)
		if err != nil {
			t.Fatalf("%#v from % x does not encode: %v", v, b, err)
		}
		v2, err := dec.decode(b2)
		if err != nil {
			t.Fatalf("%#v encodes to % x, which does not decode: %v", v, b2, err)
		}
		b3, err := encodePayload(v2)
		if err != nil {
			t.Fatalf("%#v does not encode: %v", v2, err)
		}
		v3, err := dec.decode(b3)
		if err != nil || !samePlain(v2, v3) {
			t.Fatalf("not a fixpoint: %#v, then %#v (%v)", v2, v3, err)
		}
	})
}

// plainSize checks that v holds only plain values and counts them, and the
// bytes of its strings and byte slices.
func plainSize(t *testing.T, v any, depth int) (nodes, bytes int) {
	if depth > maxDepth+1 {
		t.Fatalf("value nested deeper than %d", maxDepth)
	}
	switch x := v.(type) {
	case nil, bool, int64, uint64, float64, time.Time:
		return 1, 0
	case string:
		return 1, len(x)
	case []byte:
		return 1, len(x)
	case []any:
		nodes = 1
		for _, e := range x {
			n, b := plainSize(t, e, depth+1)
			nodes, bytes = nodes+n, bytes+b
		}
		return nodes, bytes
	case map[string]any:
		nodes = 1
		for k, e := range x {
			n, b := plainSize(t, e, depth+1)
			nodes, bytes = nodes+n+1, bytes+b+len(k)
		}
		return nodes, bytes
	}
	t.Fatalf("decoded a %T, not a plain value", v)
	return 0, 0
}

// samePlain is reflect.DeepEqual, with NaN equal to itself.
func samePlain(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !samePlain(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			if f, ok := y[k]; !ok || !samePlain(e, f) {
				return false
			}
		}
		return true
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

// FuzzParseMatch: a match handed back by the page (play, which takes what
// waitMatch gave, perhaps stored as JSON meanwhile) parses or is refused
// as a bad argument, and what parses turns back into the same JSON.
func FuzzParseMatch(f *testing.F) {
	for _, s := range []string{
		`{"room":"r-1","code":"ABCDEF","mode":"duo","server":"s-1","seat":"seat","players":[{"id":"g-a","name":"Ann"}],` +
			`"iceServers":[{"urls":["turn:127.0.0.1:3478"],"username":"1:g-a","credential":"c"}],"expires":1800000000000}`,
		`{"room":"r","seat":"s"}`, `{"room":"r"}`, `{}`, `null`, `[]`, `""`, `{"room":"r","seat":"s","expires":-9223372036854775808}`,
		`{"room":"r","seat":"s","expires":1e300}`, `{"room":"r","seat":"s","players":null,"iceServers":[{"urls":"stun:x"}]}`,
		"{\"room\":\"\xff\",\"seat\":\"\\ud800\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parseMatch(text)
		if err != nil {
			if !errors.Is(err, errBadArgument) {
				t.Fatalf("parseMatch(%q): %v, not a bad argument", text, err)
			}
			return
		}
		if m.Room == "" || m.Seat == "" {
			t.Fatalf("parseMatch(%q) = %+v, without room or seat", text, m)
		}
		j1, err := jsonText(toMatchJSON(m))
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseMatch(j1)
		if err != nil {
			t.Fatalf("%s does not parse again: %v", j1, err)
		}
		if j2, _ := jsonText(toMatchJSON(m2)); j2 != j1 {
			t.Fatalf("round trip of %q:\n%s\n%s", text, j1, j2)
		}
	})
}
