package repl

import (
	"fmt"
	"math"
)

// Entity is one entity's state as it travels: its type and each field's
// quantised value. It is immutable once made, so states share the
// entities that did not change, and a sender tells an unchanged entity
// from a changed one by its pointer before it compares fields.
type Entity struct {
	Type *Type
	// V holds each numeric field's quantised value: the unsigned value
	// its kind writes (REPLICATION.md), a quat packed as its four parts
	// in writing order from the least significant bit.
	V []uint64
	// S holds each string or bytes field's content (nil when the type has
	// none).
	S []string
}

// NewEntity is an entity of type t with every field at its zero value
// quantised (a value of 0 clamped into its range).
func NewEntity(t *Type) *Entity {
	e := &Entity{Type: t, V: make([]uint64, len(t.Fields))}
	if t.hasStr {
		e.S = make([]string, len(t.Fields))
	}
	for i := range t.Fields {
		f := &t.Fields[i]
		switch f.Kind {
		case KindInt, KindFloat:
			e.V[i] = f.Quantise(0)
		case KindQuat:
			e.V[i] = f.QuantiseQuat([4]float64{0, 0, 0, 1})
		}
	}
	return e
}

// Clone is a copy of e that may be changed before it is shared.
func (e *Entity) Clone() *Entity {
	c := &Entity{Type: e.Type, V: append([]uint64(nil), e.V...)}
	if e.S != nil {
		c.S = append([]string(nil), e.S...)
	}
	return c
}

// Equal reports whether field i is the same in e and o.
func (e *Entity) fieldEqual(o *Entity, i int) bool {
	if e.V[i] != o.V[i] {
		return false
	}
	return e.S == nil || e.S[i] == o.S[i]
}

// Same reports whether e and o hold the same state.
func (e *Entity) Same(o *Entity) bool {
	if e == o {
		return true
	}
	if !e.Type.Same(o.Type) {
		return false
	}
	for i := range e.V {
		if !e.fieldEqual(o, i) {
			return false
		}
	}
	return true
}

// Float is field i's value as a number: an int, float or angle (radians)
// field's value, or a bool's 0 or 1.
func (e *Entity) Float(i int) float64 { return e.Type.Fields[i].Value(e.V[i]) }

// Quat is quat field i's value as (x, y, z, w).
func (e *Entity) Quat(i int) [4]float64 { return e.Type.Fields[i].QuatValue(e.V[i]) }

// Quantise is v as field f's unsigned wire value, clamped into its range.
// NaN counts as the range's low end.
func (f *Field) Quantise(v float64) uint64 {
	switch f.Kind {
	case KindBool:
		if v != 0 && !math.IsNaN(v) {
			return 1
		}
		return 0
	case KindInt:
		v = math.Round(clamp(v, f.Min, f.Max))
		return uint64(int64(v) - int64(f.Min))
	case KindFloat:
		n := math.Round((f.Max - f.Min) / f.Step)
		return uint64(clamp(math.Round((clamp(v, f.Min, f.Max)-f.Min)/f.Step), 0, n))
	case KindAngle:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0
		}
		turns := v / (2 * math.Pi)
		turns -= math.Floor(turns)
		steps := uint64(1) << f.Bits
		return uint64(math.Round(turns*float64(steps))) % steps
	}
	return 0
}

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) || v < lo {
		return lo
	}
	return min(v, hi)
}

// Value is the number a numeric field's wire value stands for.
func (f *Field) Value(q uint64) float64 {
	switch f.Kind {
	case KindBool:
		return float64(q & 1)
	case KindInt:
		return f.Min + float64(q)
	case KindFloat:
		return f.Min + float64(q)*f.Step
	case KindAngle:
		return float64(q) * 2 * math.Pi / float64(uint64(1)<<f.Bits)
	}
	return 0
}

// QuantiseQuat is a unit quaternion (x, y, z, w) in "smallest three". A
// quaternion that is not unit is normalised first; a zero one is the
// identity.
func (f *Field) QuantiseQuat(q [4]float64) uint64 {
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if !(n > 0) || math.IsInf(n, 0) {
		q, n = [4]float64{0, 0, 0, 1}, 1
	}
	largest := 0
	for i := 1; i < 4; i++ {
		if math.Abs(q[i]) > math.Abs(q[largest]) {
			largest = i
		}
	}
	sign := 1 / n
	if q[largest] < 0 {
		sign = -sign
	}
	scale := float64(uint64(1)<<f.Bits - 1)
	packed, shift := uint64(largest), 2
	for i := range 4 {
		if i == largest {
			continue
		}
		c := clamp((q[i]*sign+math.Sqrt2/2)/math.Sqrt2, 0, 1)
		packed |= uint64(math.Round(c*scale)) << shift
		shift += f.Bits
	}
	return packed
}

// QuatValue is the unit quaternion (x, y, z, w) a quat field's wire value
// stands for.
func (f *Field) QuatValue(v uint64) [4]float64 {
	var q [4]float64
	largest := int(v & 3)
	scale := float64(uint64(1)<<f.Bits - 1)
	mask := uint64(1)<<f.Bits - 1
	shift, sum := 2, 0.0
	for i := range 4 {
		if i == largest {
			continue
		}
		c := float64(v>>shift&mask)/scale*math.Sqrt2 - math.Sqrt2/2
		q[i] = c
		sum += c * c
		shift += f.Bits
	}
	q[largest] = math.Sqrt(max(0, 1-sum))
	return q
}

// checkString checks a string or bytes value against field f.
func (f *Field) checkString(s string) error {
	if len(s) > f.MaxLen {
		return fmt.Errorf("%w: field %q: %d bytes, limit %d", ErrMalformed, f.Name, len(s), f.MaxLen)
	}
	return nil
}
