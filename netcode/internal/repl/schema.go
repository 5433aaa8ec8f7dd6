package repl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"
)

// Kind is how a field travels (REPLICATION.md, "Types").
type Kind uint8

const (
	KindInt Kind = iota + 1
	KindFloat
	KindBool
	KindAngle
	KindQuat
	KindString
	KindBytes
)

var kindNames = [...]string{KindInt: "int", KindFloat: "float", KindBool: "bool", KindAngle: "angle", KindQuat: "quat", KindString: "string", KindBytes: "bytes"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Interp is how a client plays a field out between two ticks.
type Interp uint8

const (
	InterpDefault Interp = iota // the kind's own, resolved by NewType
	InterpNone
	InterpLinear
	InterpAngle
	InterpQuat
)

var interpNames = [...]string{InterpNone: "none", InterpLinear: "linear", InterpAngle: "angle", InterpQuat: "quat"}

func (i Interp) String() string {
	if int(i) < len(interpNames) && interpNames[i] != "" {
		return interpNames[i]
	}
	return "default"
}

// Limits of a type (REPLICATION.md).
const (
	MaxTypes     = 256
	MaxFields    = 64
	MaxNameLen   = 64
	MaxTypeJSON  = 4096
	MaxStringLen = 65535
	maxIntRange  = 1 << 53
)

// Field is one field of a type, as declared: the parameters that apply to
// its kind, and Bits, which NewType derives.
type Field struct {
	Name     string
	Kind     Kind
	Min, Max float64 // int and float: the range
	Step     float64 // float: the quantisation step
	Bits     int     // int, float: derived; angle, quat: declared
	MaxLen   int     // string, bytes: most bytes
	Interp   Interp
}

// width is the field's size on the wire, in bits, for the numeric kinds;
// string and bytes are sized by their content.
func (f *Field) width() int {
	switch f.Kind {
	case KindBool:
		return 1
	case KindQuat:
		return 2 + 3*f.Bits
	case KindString, KindBytes:
		return 0
	}
	return f.Bits
}

// maxWidth bounds the field's size on the wire, in bits.
func (f *Field) maxWidth() int {
	if f.Kind == KindString || f.Kind == KindBytes {
		return VarBits(uint32(f.MaxLen)) + 8*f.MaxLen
	}
	return f.width()
}

// Type is an entity type: an id within its world, a name, and its fields.
// It is immutable once made.
type Type struct {
	ID        uint8
	Name      string
	Fields    []Field
	def       []byte // the JSON sent to clients
	hasStr    bool   // a string or bytes field: entities carry S
	maxCreate int    // bits of a create's body, at most
}

// Same reports whether t and o are one type: a client decodes a type
// again from every full state, into a new Type.
func (t *Type) Same(o *Type) bool {
	return t == o || t.ID == o.ID && bytes.Equal(t.def, o.def)
}

// Def is the type's JSON definition, as sent.
func (t *Type) Def() []byte { return t.def }

// Field returns the index of the field called name, or -1.
func (t *Type) Field(name string) int {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

// defBits is the size of the type's definition in a payload.
func (t *Type) defBits() int { return 8 + VarBits(uint32(len(t.def))) + 8*len(t.def) }

// jsonField is a field as the type definition's JSON spells it.
type jsonField struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Step   *float64 `json:"step,omitempty"`
	Bits   int      `json:"bits,omitempty"`
	Interp string   `json:"interp,omitempty"`
}

type jsonType struct {
	Name   string      `json:"name"`
	Fields []jsonField `json:"fields"`
}

// NewType checks the declared fields, derives their bits and default
// interpolation, and makes the type's definition.
func NewType(id uint8, name string, fields []Field) (*Type, error) {
	t := &Type{ID: id, Name: name, Fields: append([]Field(nil), fields...)}
	for i := range t.Fields {
		f := &t.Fields[i]
		switch f.Kind {
		case KindInt:
			if f.Min != math.Trunc(f.Min) || f.Max != math.Trunc(f.Max) || f.Min < -maxIntRange || f.Max > maxIntRange || f.Min > f.Max {
				return nil, fmt.Errorf("%w: field %q: int range [%v, %v] must be integers within ±2^53, min ≤ max", ErrMalformed, f.Name, f.Min, f.Max)
			}
			f.Bits = max(1, bits.Len64(uint64(f.Max-f.Min)))
		case KindFloat:
			if !(f.Step > 0) || math.IsInf(f.Step, 0) || math.IsNaN(f.Min) || math.IsNaN(f.Max) || math.IsInf(f.Min, 0) || math.IsInf(f.Max, 0) || f.Min > f.Max {
				return nil, fmt.Errorf("%w: field %q: float range [%v, %v] step %v: need finite min ≤ max and step > 0", ErrMalformed, f.Name, f.Min, f.Max, f.Step)
			}
			n := math.Round((f.Max - f.Min) / f.Step)
			if n >= 1<<32 {
				return nil, fmt.Errorf("%w: field %q: %v steps do not fit 32 bits", ErrMalformed, f.Name, n)
			}
			f.Bits = max(1, bits.Len64(uint64(n)))
		}
	}
	js := jsonType{Name: name}
	for _, f := range t.Fields {
		jf := jsonField{Name: f.Name, Kind: f.Kind.String(), Bits: f.Bits}
		switch f.Kind {
		case KindInt:
			jf.Min, jf.Max = ptr(f.Min), ptr(f.Max)
		case KindFloat:
			jf.Min, jf.Max, jf.Step = ptr(f.Min), ptr(f.Max), ptr(f.Step)
		case KindString, KindBytes:
			jf.Max = ptr(float64(f.MaxLen))
		}
		if f.Interp != InterpDefault {
			jf.Interp = f.Interp.String()
		}
		js.Fields = append(js.Fields, jf)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(js); err != nil {
		return nil, fmt.Errorf("%w: type %q: %v", ErrMalformed, name, err)
	}
	def := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// The definition is checked as a client will check it, so that a type
	// the server makes is one every client takes.
	checked, err := ParseType(id, def)
	if err != nil {
		return nil, err
	}
	return checked, nil
}

func ptr(v float64) *float64 { return &v }

// ParseType reads and checks a type definition (REPLICATION.md, "Types").
func ParseType(id uint8, def []byte) (*Type, error) {
	if len(def) > MaxTypeJSON {
		return nil, fmt.Errorf("%w: type definition of %d bytes, limit %d", ErrMalformed, len(def), MaxTypeJSON)
	}
	var js jsonType
	if err := json.Unmarshal(def, &js); err != nil {
		return nil, fmt.Errorf("%w: type definition: %v", ErrMalformed, err)
	}
	if err := checkName(js.Name); err != nil {
		return nil, fmt.Errorf("%w: type name: %v", ErrMalformed, err)
	}
	if len(js.Fields) < 1 || len(js.Fields) > MaxFields {
		return nil, fmt.Errorf("%w: type %q has %d fields, want 1 to %d", ErrMalformed, js.Name, len(js.Fields), MaxFields)
	}
	t := &Type{ID: id, Name: js.Name, Fields: make([]Field, len(js.Fields)), def: bytes.Clone(def)}
	seen := make(map[string]bool, len(js.Fields))
	for i, jf := range js.Fields {
		f, err := parseField(jf)
		if err != nil {
			return nil, fmt.Errorf("%w: type %q field %d: %v", ErrMalformed, js.Name, i, err)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: type %q: two fields called %q", ErrMalformed, js.Name, f.Name)
		}
		seen[f.Name] = true
		t.Fields[i] = f
		t.hasStr = t.hasStr || f.Kind == KindString || f.Kind == KindBytes
		t.maxCreate += f.maxWidth()
	}
	return t, nil
}

func checkName(s string) error {
	if len(s) < 1 || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%q: want 1 to %d bytes of UTF-8", s, MaxNameLen)
	}
	return nil
}

func parseField(jf jsonField) (Field, error) {
	f := Field{Name: jf.Name, Bits: jf.Bits}
	if err := checkName(jf.Name); err != nil {
		return f, err
	}
	for k, name := range kindNames {
		if name != "" && name == jf.Kind {
			f.Kind = Kind(k)
		}
	}
	num := func(p *float64, what string) (float64, error) {
		if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
			return 0, fmt.Errorf("%s field %q needs a finite %s", jf.Kind, jf.Name, what)
		}
		return *p, nil
	}
	var err error
	switch f.Kind {
	case KindInt, KindFloat:
		if f.Min, err = num(jf.Min, "min"); err != nil {
			return f, err
		}
		if f.Max, err = num(jf.Max, "max"); err != nil {
			return f, err
		}
		if f.Min > f.Max {
			return f, fmt.Errorf("field %q: min %v above max %v", jf.Name, f.Min, f.Max)
		}
		if f.Kind == KindInt && (f.Min != math.Trunc(f.Min) || f.Max != math.Trunc(f.Max) || f.Min < -maxIntRange || f.Max > maxIntRange) {
			return f, fmt.Errorf("int field %q: range must be integers within ±2^53", jf.Name)
		}
		if f.Kind == KindFloat {
			if f.Step, err = num(jf.Step, "step"); err != nil {
				return f, err
			}
			if f.Step <= 0 {
				return f, fmt.Errorf("float field %q: step %v not positive", jf.Name, f.Step)
			}
		}
		if f.Bits < 1 || f.Bits > 32 {
			return f, fmt.Errorf("field %q: %d bits, want 1 to 32", jf.Name, f.Bits)
		}
	case KindAngle:
		if f.Bits < 1 || f.Bits > 32 {
			return f, fmt.Errorf("angle field %q: %d bits, want 1 to 32", jf.Name, f.Bits)
		}
	case KindQuat:
		if f.Bits < 2 || f.Bits > 20 {
			return f, fmt.Errorf("quat field %q: %d bits, want 2 to 20", jf.Name, f.Bits)
		}
	case KindBool:
		f.Bits = 0
	case KindString, KindBytes:
		m, err := num(jf.Max, "max")
		if err != nil {
			return f, err
		}
		if m < 0 || m > MaxStringLen || m != math.Trunc(m) {
			return f, fmt.Errorf("field %q: max %v bytes, want 0 to %d", jf.Name, m, MaxStringLen)
		}
		f.MaxLen, f.Bits = int(m), 0
	default:
		return f, fmt.Errorf("field %q: unknown kind %q", jf.Name, jf.Kind)
	}
	switch jf.Interp {
	case "":
		f.Interp = map[Kind]Interp{KindFloat: InterpLinear, KindAngle: InterpAngle, KindQuat: InterpQuat}[f.Kind]
		if f.Interp == InterpDefault {
			f.Interp = InterpNone
		}
	case "none":
		f.Interp = InterpNone
	case "linear":
		f.Interp = InterpLinear
	case "angle":
		f.Interp = InterpAngle
	case "quat":
		f.Interp = InterpQuat
	default:
		return f, fmt.Errorf("field %q: unknown interp %q", jf.Name, jf.Interp)
	}
	allowed := f.Interp == InterpNone ||
		f.Interp == InterpLinear && (f.Kind == KindInt || f.Kind == KindFloat) ||
		f.Interp == InterpAngle && f.Kind == KindAngle ||
		f.Interp == InterpQuat && f.Kind == KindQuat
	if !allowed {
		return f, fmt.Errorf("field %q: interp %v does not apply to %v", jf.Name, f.Interp, f.Kind)
	}
	return f, nil
}
