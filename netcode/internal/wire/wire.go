// Package wire encodes and decodes Tickwire netcode messages. The format is
// specified in netcode/WIRE.md; this file follows it field for field.
//
// Encoding appends to a caller-owned buffer and decoding aliases the input, so
// the snapshot hot path allocates nothing beyond what the caller chooses to copy.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/tickwire/tickwire/internal/mpcheck"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Version is the wire format version carried first in every message.
const Version = 1

// Kind identifies a message. Kinds below 16 travel on the unreliable
// "snapshots" channel, kinds from 16 on the reliable "events" channel.
type Kind uint8

const (
	KindSnapshot Kind = 1  // server to client: [v, 1, seq, payload]
	KindInput    Kind = 2  // client to server: [v, 2, seq, payload] or [v, 2, seq, payload, state ack]
	KindPing     Kind = 3  // either way: [v, 3, id, time]
	KindPong     Kind = 4  // reply to a ping: [v, 4, id, time]
	KindState    Kind = 5  // server to client: [v, 5, tick, base, time, payload] (REPLICATION.md)
	KindStateAck Kind = 6  // client to server: [v, 6, tick]
	KindEvent    Kind = 16 // either way, reliable: [v, 16, seq, ack, payload]
	KindAck      Kind = 17 // either way, reliable: [v, 17, ack]
	KindClose    Kind = 18 // either way, reliable: [v, 18, code, reason]
)

// Reliable reports whether k belongs on the reliable events channel.
func (k Kind) Reliable() bool { return k >= 16 }

func (k Kind) String() string {
	switch k {
	case KindSnapshot:
		return "snapshot"
	case KindInput:
		return "input"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindState:
		return "state"
	case KindStateAck:
		return "state ack"
	case KindEvent:
		return "event"
	case KindAck:
		return "ack"
	case KindClose:
		return "close"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MaxReasonLen bounds the reason text of a close message, so that a peer
// cannot make the receiver hold an arbitrarily long string.
const MaxReasonLen = 256

// Overhead is the largest number of bytes the header of a snapshot or input
// adds to its payload (array, version, kind, a full uint64 seq, bin32 header).
// Size budgets are checked on the encoded length, so this is only a guide.
const Overhead = 1 + 1 + 1 + 9 + 5

var (
	// ErrMalformed means the bytes are not a well-formed message.
	ErrMalformed = errors.New("malformed message")
	// ErrVersion means the message carries a wire version this code does not speak.
	ErrVersion = errors.New("unsupported wire version")
	// ErrUnknownKind means the message is well formed but of a kind this
	// version does not know; receivers count and skip it.
	ErrUnknownKind = errors.New("unknown message kind")
)

// Message is one decoded message. Which fields are meaningful depends on Kind
// (see WIRE.md). After Decode, Payload aliases the decoded buffer.
type Message struct {
	Kind    Kind
	Seq     uint64 // snapshot, input, event: sequence number; ping, pong: id; state, state ack: tick
	Base    uint64 // state: the tick it is a delta against
	Ack     uint64 // event, ack: highest event seq received in order; input: a state ack riding on it (0: none)
	Time    int64  // ping, pong: sender's clock, echoed unchanged; state: the server's clock (not negative)
	Code    uint16 // close
	Reason  string // close
	Payload []byte // snapshot, input, event, state
}

// fields is the number of array elements each kind needs (version and kind
// included). Extra trailing elements are skipped, so that a later minor
// revision can add fields without breaking older receivers.
func fields(k Kind) int {
	switch k {
	case KindAck, KindStateAck:
		return 3
	case KindSnapshot, KindInput, KindPing, KindPong, KindClose:
		return 4
	case KindEvent:
		return 5
	case KindState:
		return 6
	}
	return 0
}

// Encoder appends messages to byte slices. The zero value is not usable; use
// NewEncoder. An Encoder is not safe for concurrent use.
type Encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder {
	e := &Encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}

// Encode returns the encoding of m. The result is valid until the next call
// to Encode: the Encoder reuses its buffer, which is what keeps the send path
// free of allocations.
func (e *Encoder) Encode(m *Message) ([]byte, error) {
	n := fields(m.Kind)
	if n == 0 {
		return nil, fmt.Errorf("wire: encode %v: %w", m.Kind, ErrUnknownKind)
	}
	if m.Kind == KindInput && m.Ack != 0 {
		n++ // the state ack riding on it
	}
	if m.Kind == KindClose && len(m.Reason) > MaxReasonLen {
		return nil, fmt.Errorf("wire: close reason is %d bytes, limit %d: %w", len(m.Reason), MaxReasonLen, ErrMalformed)
	}
	e.buf.Reset()
	e.buf.Grow(Overhead + len(m.Payload))
	// Writes into a bytes.Buffer cannot fail, so the errors below are nil.
	_ = e.enc.EncodeArrayLen(n)
	_ = e.enc.EncodeUint(Version)
	_ = e.enc.EncodeUint(uint64(m.Kind))
	switch m.Kind {
	case KindSnapshot, KindInput:
		_ = e.enc.EncodeUint(m.Seq)
		e.bin(m.Payload)
		if n > fields(m.Kind) {
			_ = e.enc.EncodeUint(m.Ack)
		}
	case KindPing, KindPong:
		_ = e.enc.EncodeUint(m.Seq)
		_ = e.enc.EncodeInt(m.Time)
	case KindEvent:
		_ = e.enc.EncodeUint(m.Seq)
		_ = e.enc.EncodeUint(m.Ack)
		e.bin(m.Payload)
	case KindAck:
		_ = e.enc.EncodeUint(m.Ack)
	case KindState:
		_ = e.enc.EncodeUint(m.Seq)
		_ = e.enc.EncodeUint(m.Base)
		_ = e.enc.EncodeUint(uint64(max(m.Time, 0)))
		e.bin(m.Payload)
	case KindStateAck:
		_ = e.enc.EncodeUint(m.Seq)
	case KindClose:
		_ = e.enc.EncodeUint(uint64(m.Code))
		_ = e.enc.EncodeString(m.Reason)
	}
	return e.buf.Bytes(), nil
}

// bin writes p as msgpack bin, also when p is nil: msgpack's EncodeBytes would
// write nil, which receivers reject where a payload belongs.
func (e *Encoder) bin(p []byte) {
	_ = e.enc.EncodeBytesLen(len(p))
	e.buf.Write(p)
}

// Decoder decodes messages. It is not safe for concurrent use; each read loop
// owns one.
type Decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
	b   []byte
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

// Decode parses b into m. Payload aliases b. Errors wrap ErrMalformed,
// ErrVersion or ErrUnknownKind. Every length in b is checked against the bytes
// actually present before anything is sliced or allocated.
func (d *Decoder) Decode(b []byte, m *Message) error {
	d.b = b
	d.r.Reset(b)
	d.dec.ResetReader(&d.r)
	*m = Message{}

	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return malformed("header", err)
	}
	if n < 2 {
		return malformed("header", fmt.Errorf("array of %d elements", n))
	}
	v, err := d.uint("version")
	if err != nil {
		return err
	}
	if v != Version {
		return fmt.Errorf("wire: version %d, want %d: %w", v, Version, ErrVersion)
	}
	k, err := d.uint("kind")
	if err != nil {
		return err
	}
	if k > 255 || fields(Kind(k)) == 0 {
		return fmt.Errorf("wire: kind %d: %w", k, ErrUnknownKind)
	}
	m.Kind = Kind(k)
	if want := fields(m.Kind); n < want {
		return malformed(m.Kind.String(), fmt.Errorf("%d elements, want %d", n, want))
	}

	known := fields(m.Kind)
	switch m.Kind {
	case KindSnapshot, KindInput:
		if m.Seq, err = d.uint("seq"); err != nil {
			return err
		}
		if m.Payload, err = d.bin("payload"); err != nil {
			return err
		}
		if m.Kind == KindInput && n > known {
			// The optional fifth element: a state ack riding on the input.
			if m.Ack, err = d.uint("state ack"); err != nil {
				return err
			}
			known++
		}
	case KindPing, KindPong:
		if m.Seq, err = d.uint("id"); err != nil {
			return err
		}
		if m.Time, err = d.dec.DecodeInt64(); err != nil {
			return malformed("time", err)
		}
	case KindEvent:
		if m.Seq, err = d.uint("seq"); err != nil {
			return err
		}
		if m.Ack, err = d.uint("ack"); err != nil {
			return err
		}
		if m.Payload, err = d.bin("payload"); err != nil {
			return err
		}
	case KindAck:
		if m.Ack, err = d.uint("ack"); err != nil {
			return err
		}
	case KindState:
		if m.Seq, err = d.uint("tick"); err != nil {
			return err
		}
		if m.Base, err = d.uint("base"); err != nil {
			return err
		}
		t, err := d.uint("time")
		if err != nil {
			return err
		}
		if t > 1<<63-1 {
			return malformed("time", fmt.Errorf("%d out of range", t))
		}
		m.Time = int64(t)
		if m.Payload, err = d.bin("payload"); err != nil {
			return err
		}
	case KindStateAck:
		if m.Seq, err = d.uint("tick"); err != nil {
			return err
		}
	case KindClose:
		code, err := d.uint("code")
		if err != nil {
			return err
		}
		if code > 0xffff {
			return malformed("code", fmt.Errorf("%d out of range", code))
		}
		m.Code = uint16(code)
		reason, err := d.str("reason", MaxReasonLen)
		if err != nil {
			return err
		}
		m.Reason = reason
	}
	for i := known; i < n; i++ {
		if err := d.skip(); err != nil {
			return malformed("trailing field", err)
		}
	}
	if d.r.Len() != 0 {
		return malformed(m.Kind.String(), fmt.Errorf("%d bytes after the message", d.r.Len()))
	}
	return nil
}

func (d *Decoder) uint(field string) (uint64, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return 0, malformed(field, err)
	}
	if !msgpcode.IsFixedNum(c) || int8(c) < 0 {
		switch c {
		case msgpcode.Uint8, msgpcode.Uint16, msgpcode.Uint32, msgpcode.Uint64:
		default:
			return 0, malformed(field, fmt.Errorf("code %#x is not an unsigned integer", c))
		}
	}
	v, err := d.dec.DecodeUint64()
	if err != nil {
		return 0, malformed(field, err)
	}
	return v, nil
}

// skip steps over the next value after checking every length in it
// against the input: msgpack's own Skip reads a str, bin or ext into a
// buffer it keeps, grown first to what the header claims (internal/mpcheck).
func (d *Decoder) skip() error {
	n, err := mpcheck.ValueLen(d.b[len(d.b)-d.r.Len():])
	if err != nil {
		return err
	}
	_, err = d.r.Seek(int64(n), io.SeekCurrent)
	return err
}

// bin returns the next bin value as a sub-slice of the input.
func (d *Decoder) bin(field string) ([]byte, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return nil, malformed(field, err)
	}
	if !msgpcode.IsBin(c) {
		return nil, malformed(field, fmt.Errorf("code %#x is not bin", c))
	}
	return d.raw(field, -1)
}

func (d *Decoder) str(field string, limit int) (string, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return "", malformed(field, err)
	}
	if !msgpcode.IsString(c) {
		return "", malformed(field, fmt.Errorf("code %#x is not a string", c))
	}
	b, err := d.raw(field, limit)
	return string(b), err
}

// raw reads a bin or str header and returns the bytes it announces, after
// checking the announced length against what is left of the input.
func (d *Decoder) raw(field string, limit int) ([]byte, error) {
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return nil, malformed(field, err)
	}
	if n < 0 {
		n = 0
	}
	if limit >= 0 && n > limit {
		return nil, malformed(field, fmt.Errorf("%d bytes, limit %d", n, limit))
	}
	if n > d.r.Len() {
		return nil, malformed(field, fmt.Errorf("announces %d bytes, %d left: %w", n, d.r.Len(), io.ErrUnexpectedEOF))
	}
	start := len(d.b) - d.r.Len()
	if _, err := d.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, malformed(field, err)
	}
	return d.b[start : start+n : start+n], nil
}

func malformed(field string, err error) error {
	return fmt.Errorf("wire: %s: %v: %w", field, err, ErrMalformed)
}
