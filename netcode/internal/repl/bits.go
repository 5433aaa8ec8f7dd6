package repl

import (
	"errors"
	"fmt"
)

// ErrMalformed means a payload or a type definition breaks
// REPLICATION.md's rules.
var ErrMalformed = errors.New("malformed state")

// maxVarGroups bounds a varbits value: eight groups of four bits hold
// 32 bits.
const maxVarGroups = 8

// Writer appends to a bit stream, least significant bit first.
type Writer struct {
	buf []byte
	n   int // bits written
}

// Reset empties w, keeping its buffer.
func (w *Writer) Reset() { w.buf, w.n = w.buf[:0], 0 }

// Len is the number of bits written.
func (w *Writer) Len() int { return w.n }

// Write appends the low bits bits of v (bits at most 32).
func (w *Writer) Write(v uint32, bits int) {
	for bits > 0 {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		off := w.n % 8
		take := min(8-off, bits)
		w.buf[len(w.buf)-1] |= byte(v&(1<<take-1)) << off
		v >>= take
		bits -= take
		w.n += take
	}
}

// Write64 appends the low bits bits of v (bits at most 64).
func (w *Writer) Write64(v uint64, bits int) {
	if bits > 32 {
		w.Write(uint32(v), 32)
		w.Write(uint32(v>>32), bits-32)
		return
	}
	w.Write(uint32(v), bits)
}

// WriteVar appends v as varbits.
func (w *Writer) WriteVar(v uint32) {
	for {
		w.Write(v&15, 4)
		v >>= 4
		if v == 0 {
			w.Write(0, 1)
			return
		}
		w.Write(1, 1)
	}
}

// WriteBytes appends whole bytes, 8 bits each.
func (w *Writer) WriteBytes(b []byte) {
	if w.n%8 == 0 {
		w.buf = append(w.buf, b...)
		w.n += 8 * len(b)
		return
	}
	for _, c := range b {
		w.Write(uint32(c), 8)
	}
}

// Bytes is the stream so far, its last byte padded with zero bits. It
// aliases w's buffer.
func (w *Writer) Bytes() []byte { return w.buf }

// VarBits is the size of v as varbits, in bits.
func VarBits(v uint32) int {
	n := 5
	for v >>= 4; v != 0; v >>= 4 {
		n += 5
	}
	return n
}

// Reader takes values from a bit stream. The first read past the end sets
// its error, and every later read returns 0, so that a decoder checks Err
// once per entity rather than after every field.
type Reader struct {
	buf []byte
	pos int // bits read
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Err is the first error the reader met.
func (r *Reader) Err() error { return r.err }

// Left is the number of unread bits.
func (r *Reader) Left() int { return 8*len(r.buf) - r.pos }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Read takes bits bits (at most 32).
func (r *Reader) Read(bits int) uint32 {
	if r.err != nil {
		return 0
	}
	if bits > r.Left() {
		r.fail(fmt.Errorf("%w: stream ends %d bits early", ErrMalformed, bits-r.Left()))
		return 0
	}
	var v uint32
	for got := 0; got < bits; {
		off := r.pos % 8
		take := min(8-off, bits-got)
		v |= uint32(r.buf[r.pos/8]>>off&(1<<take-1)) << got
		got += take
		r.pos += take
	}
	return v
}

// Read64 takes bits bits (at most 64).
func (r *Reader) Read64(bits int) uint64 {
	if bits > 32 {
		lo := r.Read(32)
		return uint64(lo) | uint64(r.Read(bits-32))<<32
	}
	return uint64(r.Read(bits))
}

// ReadVar takes a varbits value.
func (r *Reader) ReadVar() uint32 {
	var v uint64
	for g := range maxVarGroups {
		v |= uint64(r.Read(4)) << (4 * g)
		if r.Read(1) == 0 {
			if v > 1<<32-1 {
				r.fail(fmt.Errorf("%w: varbits over 32 bits", ErrMalformed))
				return 0
			}
			return uint32(v)
		}
	}
	r.fail(fmt.Errorf("%w: varbits longer than %d groups", ErrMalformed, maxVarGroups))
	return 0
}

// ReadBytes takes n whole bytes, checked against what is left before
// anything is allocated. The result is a copy.
func (r *Reader) ReadBytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if 8*n > r.Left() {
		r.fail(fmt.Errorf("%w: %d bytes announced, %d bits left", ErrMalformed, n, r.Left()))
		return nil
	}
	b := make([]byte, n)
	if r.pos%8 == 0 {
		copy(b, r.buf[r.pos/8:])
		r.pos += 8 * n
		return b
	}
	for i := range b {
		b[i] = byte(r.Read(8))
	}
	return b
}

// Finish checks that only zero padding, less than a byte of it, is left.
func (r *Reader) Finish() error {
	if r.err != nil {
		return r.err
	}
	left := r.Left()
	if left >= 8 {
		return fmt.Errorf("%w: %d bytes after the last entity", ErrMalformed, left/8)
	}
	if r.Read(left) != 0 {
		return fmt.Errorf("%w: padding bits not zero", ErrMalformed)
	}
	return nil
}
