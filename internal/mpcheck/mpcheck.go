// Package mpcheck measures a MessagePack value without decoding it, and
// refuses one that claims more bytes than it has.
//
// github.com/vmihailenco/msgpack/v5 (v5.4.1) reads a str, bin or ext that
// it skips or decodes into a buffer its Decoder keeps. When the header
// claims more bytes than the input holds, it first grows that buffer by a
// megabyte, or by a quarter once it is larger, and keeps the grown buffer
// although the read fails. So every such message, a few bytes long, costs
// at least a megabyte, and a Decoder that outlives malformed input, as the
// ones msgpack.Unmarshal takes from its pool do, grows without bound:
// twenty payloads of 6 to 10 bytes allocated 1.1 GB, and twenty more
// 19 GB (internal/dots' TestDecodeHostileLengthsKeepNothing, before the
// check). Checking the
// lengths with ValueLen first keeps every read within the input.
package mpcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxDepth is how deeply arrays and maps may nest: as deep as the
// TypeScript client's decoder allows (js/src/msgpack.ts).
const MaxDepth = 64

// ErrMalformed is what every error of this package wraps.
var ErrMalformed = errors.New("malformed msgpack")

// ValueLen returns the length in bytes of the MessagePack value that b
// starts with. It fails when a length or an element count claims more than
// b holds, when arrays and maps nest deeper than MaxDepth, and on the one
// byte MessagePack never uses (0xc1).
func ValueLen(b []byte) (int, error) {
	return valueLen(b, 0)
}

// Check is ValueLen for a b that must hold exactly one value.
func Check(b []byte) error {
	n, err := ValueLen(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%w: %d bytes after the value", ErrMalformed, len(b)-n)
	}
	return nil
}

func valueLen(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, truncated(1, 0)
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, booleans
		return 1, nil
	case c <= 0x8f: // fixmap
		return elements(b, 1, 2*int(c&0x0f), depth)
	case c <= 0x9f: // fixarray
		return elements(b, 1, int(c&0x0f), depth)
	case c <= 0xbf: // fixstr
		return span(b, 1, int(c&0x1f))
	}
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		return sized(b, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return sized(b, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return sized(b, 4, 0)
	case 0xc7: // ext8: length, type, data
		return sized(b, 1, 1)
	case 0xc8: // ext16
		return sized(b, 2, 1)
	case 0xc9: // ext32
		return sized(b, 4, 1)
	case 0xcc, 0xd0: // uint8, int8
		return span(b, 1, 1)
	case 0xcd, 0xd1: // uint16, int16
		return span(b, 1, 2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return span(b, 1, 4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return span(b, 1, 8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
		return span(b, 2, 1<<(c-0xd4))
	case 0xdc: // array16
		return counted(b, 2, 1, depth)
	case 0xdd: // array32
		return counted(b, 4, 1, depth)
	case 0xde: // map16
		return counted(b, 2, 2, depth)
	case 0xdf: // map32
		return counted(b, 4, 2, depth)
	}
	return 0, fmt.Errorf("%w: code 0xc1 is never used", ErrMalformed)
}

// span is a value of a fixed header and n bytes after it.
func span(b []byte, header, n int) (int, error) {
	if n > len(b)-header {
		return 0, truncated(header+n, len(b))
	}
	return header + n, nil
}

// sized is a str, bin or ext: a code, a big-endian length of width bytes,
// extra bytes (an ext's type), then that many bytes.
func sized(b []byte, width, extra int) (int, error) {
	n, err := length(b, width)
	if err != nil {
		return 0, err
	}
	return span(b, 1+width+extra, n)
}

// counted is an array16/32 or map16/32: per values per element.
func counted(b []byte, width, per, depth int) (int, error) {
	n, err := length(b, width)
	if err != nil {
		return 0, err
	}
	return elements(b, 1+width, per*n, depth)
}

// elements is a header followed by n values, each at least a byte, so a
// count beyond the bytes left is refused before any is read.
func elements(b []byte, header, n, depth int) (int, error) {
	if depth >= MaxDepth {
		return 0, fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxDepth)
	}
	if n > len(b)-header {
		return 0, fmt.Errorf("%w: %d values announced in %d bytes: %w", ErrMalformed, n, len(b)-header, io.ErrUnexpectedEOF)
	}
	off := header
	for range n {
		l, err := valueLen(b[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += l
	}
	return off, nil
}

// length reads the big-endian length of width bytes after the code.
func length(b []byte, width int) (int, error) {
	if len(b) < 1+width {
		return 0, truncated(1+width, len(b))
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	default:
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	if n > uint64(len(b)) {
		return 0, truncated(int(min(n, 1<<31)), len(b))
	}
	return int(n), nil
}

func truncated(want, have int) error {
	return fmt.Errorf("%w: %d bytes announced, %d left: %w", ErrMalformed, want, have, io.ErrUnexpectedEOF)
}
