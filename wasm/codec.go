package main

// The payload codec, without syscall/js so that it is tested natively
// (codec_test.go): msgpack to and from plain values, and the normalization
// of what msgpack decodes into the few types JavaScript has.
//
// A plain value is one of: nil, bool, int64, uint64, float64, string,
// []byte, time.Time, []any, map[string]any. toJS (convert.go) maps each to
// a JS value; fromJS produces them.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds nesting both ways: a JS object that contains itself, or a
// hostile msgpack payload, ends in an error rather than a stack overflow.
const maxDepth = 64

var errTooDeep = fmt.Errorf("%w: value nested deeper than %d levels (or cyclic)", errBadArgument, maxDepth)

// codec names how payloads travel between JS and the game server.
type codec int

const (
	codecMsgpack codec = iota // plain JS values, msgpack on the wire
	codecRaw                  // Uint8Array both ways
)

func parseCodec(s string) (codec, error) {
	switch s {
	case "", "msgpack":
		return codecMsgpack, nil
	case "raw":
		return codecRaw, nil
	}
	return 0, fmt.Errorf("%w: unknown codec %q (want \"msgpack\" or \"raw\")", errBadArgument, s)
}

// decoder decodes msgpack payloads into plain values. It reuses its
// msgpack.Decoder, so one decoder serves one goroutine.
type decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

func newDecoder() *decoder {
	d := &decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

// decode decodes one msgpack value that must fill b exactly.
func (d *decoder) decode(b []byte) (any, error) {
	d.r.Reset(b)
	d.dec.ResetReader(&d.r) // reads d.r directly: d.r.Len() is what is left
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("tickwire: msgpack payload: %w", err)
	}
	if d.r.Len() > 0 {
		return nil, fmt.Errorf("tickwire: msgpack payload: %d bytes after the value", d.r.Len())
	}
	return v, nil
}

// value decodes everything with a length itself, so that a length beyond
// the bytes left is refused before anything is allocated (every element
// takes at least a byte): msgpack's DecodeInterface allocates what an
// array or bin header claims (an array32 of 2^31 elements in a 5-byte
// payload is 32 GiB). Its map decoding also wants string keys.
func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := d.dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if n > d.r.Len() {
			return nil, fmt.Errorf("array of %d elements in %d bytes", n, d.r.Len())
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return a, nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		n, err := d.dec.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if n > d.r.Len()/2 {
			return nil, fmt.Errorf("map of %d entries in %d bytes", n, d.r.Len())
		}
		m := make(map[string]any, n)
		for range n {
			k, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[keyString(k)] = v // keys as a JS object holds them
		}
		return m, nil
	case msgpcode.IsString(c), msgpcode.IsBin(c):
		n, err := d.dec.DecodeBytesLen()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil || msgpcode.IsBin(c) {
			return b, err
		}
		return string(b), nil
	case msgpcode.IsExt(c):
		id, n, err := d.dec.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		b, err := d.take(n)
		if err != nil {
			return nil, err
		}
		if id != -1 {
			return nil, fmt.Errorf("unknown ext type %d", id)
		}
		return timestamp(b)
	}
	v, err := d.dec.DecodeInterface() // nil, a boolean or a number
	if err != nil {
		return nil, err
	}
	return normalize(v, depth)
}

// take reads the next n bytes, a copy the caller owns.
func (d *decoder) take(n int) ([]byte, error) {
	if n > d.r.Len() {
		return nil, fmt.Errorf("%d bytes announced, %d left", n, d.r.Len())
	}
	b := make([]byte, n)
	_, err := io.ReadFull(&d.r, b)
	return b, err
}

// timestamp decodes msgpack's timestamp extension (type -1).
func timestamp(b []byte) (time.Time, error) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), nil
	case 8:
		v := binary.BigEndian.Uint64(b)
		return time.Unix(int64(v&(1<<34-1)), int64(v>>34)), nil
	case 12:
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), int64(binary.BigEndian.Uint32(b))), nil
	}
	return time.Time{}, fmt.Errorf("timestamp of %d bytes", len(b))
}

// normalize turns what msgpack's DecodeInterface returns for scalars (int8
// to uint64, float32, time.Time for the timestamp extension) into plain
// values: every integer an int64, but for a uint64 beyond it. It takes
// composite values too (map[any]any keys become strings). Structs the server encodes
// with as_array arrive as arrays, since the field names are not on the
// wire.
func normalize(v any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := v.(type) {
	case nil, bool, string, int64, float64, []byte, time.Time:
		return x, nil
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), nil
		}
		return x, nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return normalize(uint64(x), depth)
	case float32:
		return float64(x), nil
	case []any:
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			m[keyString(k)] = n
		}
		return m, nil
	}
	return nil, fmt.Errorf("tickwire: msgpack payload: cannot represent %T in JS", v)
}

// keyString is a map key as a JS object would hold it: property names are
// strings, so {1: "a"} in JS is {"1": "a"}.
func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int8, int16, int32, int64, int:
		return fmt.Sprint(x)
	case uint8, uint16, uint32, uint64, uint:
		return fmt.Sprint(x)
	case float32:
		return jsNumberString(float64(x))
	case float64:
		return jsNumberString(x)
	case []byte:
		return string(x)
	}
	return fmt.Sprint(k)
}

// jsNumberString formats f as JavaScript's String(f) does for the common
// cases: integers without a fraction, others in the shortest form.
func jsNumberString(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == math.Trunc(f) && math.Abs(f) < 1e21:
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// encodePayload encodes a plain value as msgpack, with the smallest integer
// encodings, also for integral floats: an input must fit one datagram, and
// a Go server decodes a compact int into any integer field.
func encodePayload(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("tickwire: msgpack payload: %w", err)
	}
	return buf.Bytes(), nil
}

// maxSafeInt is 2^53 - 1, JavaScript's Number.MAX_SAFE_INTEGER: a JS number
// that is integral and within it becomes an int64, so that msgpack encodes
// it as an integer.
const maxSafeInt = 1<<53 - 1

// jsNumber is a JS number as a plain value: int64 when it is an integer a
// double holds exactly (not -0), float64 otherwise.
func jsNumber(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= maxSafeInt && !(f == 0 && math.Signbit(f)) {
		return int64(f)
	}
	return f
}
