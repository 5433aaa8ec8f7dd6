package repl

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// StructType is a Type made from a Go struct's fields, and the way
// between the struct's values and entities. Tags say how each field
// travels:
//
//	X     float32    `tw:"float,min=-512,max=512,step=0.01"`
//	HP    int        `tw:"int,min=0,max=100"`
//	Dir   float64    `tw:"angle,bits=10"`
//	Rot   [4]float32 `tw:"quat,bits=11"`
//	Name  string     `tw:"string,max=16"`
//	Data  []byte     `tw:"bytes,max=64"`
//	Alive bool       // a bool needs no tag
//	Temp  int        `tw:"-"` // not replicated
//
// Other keys: name= (the field's name on the wire, by default the Go
// name with its leading capitals lowered: HP is hp, HPMax hpMax) and
// interp= (none, linear, angle, quat).
type StructType struct {
	*Type
	Go    reflect.Type
	index []int // Go field index of each Type field
}

// NewStructType reads the struct type st's tags.
func NewStructType(id uint8, name string, st reflect.Type) (*StructType, error) {
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is not a struct", st)
	}
	var fields []Field
	var index []int
	for i := range st.NumField() {
		sf := st.Field(i)
		tag, tagged := sf.Tag.Lookup("tw")
		if !sf.IsExported() || tag == "-" {
			continue
		}
		f, err := structField(sf, tag, tagged)
		if err != nil {
			return nil, fmt.Errorf("%v.%s: %w", st, sf.Name, err)
		}
		fields = append(fields, f)
		index = append(index, i)
	}
	t, err := NewType(id, name, fields)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", st, err)
	}
	return &StructType{Type: t, Go: st, index: index}, nil
}

func structField(sf reflect.StructField, tag string, tagged bool) (Field, error) {
	f := Field{Name: wireName(sf.Name)}
	parts := strings.Split(tag, ",")
	kind := parts[0]
	gk := sf.Type.Kind()
	if !tagged {
		if gk != reflect.Bool {
			return f, fmt.Errorf(`a %v field needs a tw tag saying how it travels (tw:"-" to leave it out)`, sf.Type)
		}
		kind = "bool"
	}
	isInt := gk >= reflect.Int && gk <= reflect.Uint64
	isFloat := gk == reflect.Float32 || gk == reflect.Float64
	ok := false
	switch kind {
	case "int":
		f.Kind, ok = KindInt, isInt
	case "float":
		f.Kind, ok = KindFloat, isFloat
	case "angle":
		f.Kind, ok = KindAngle, isFloat
	case "bool":
		f.Kind, ok = KindBool, gk == reflect.Bool
	case "quat":
		f.Kind = KindQuat
		ok = gk == reflect.Array && sf.Type.Len() == 4 && (sf.Type.Elem().Kind() == reflect.Float32 || sf.Type.Elem().Kind() == reflect.Float64)
	case "string":
		f.Kind, ok = KindString, gk == reflect.String
	case "bytes":
		f.Kind, ok = KindBytes, gk == reflect.Slice && sf.Type.Elem().Kind() == reflect.Uint8
	default:
		return f, fmt.Errorf("unknown kind %q", kind)
	}
	if !ok {
		return f, fmt.Errorf("a %v field cannot travel as %s", sf.Type, kind)
	}
	have := map[string]bool{}
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		have[k] = true
		var err error
		switch k {
		case "min":
			f.Min, err = strconv.ParseFloat(v, 64)
		case "max":
			if f.Kind == KindString || f.Kind == KindBytes {
				f.MaxLen, err = strconv.Atoi(v)
			} else {
				f.Max, err = strconv.ParseFloat(v, 64)
			}
		case "step":
			f.Step, err = strconv.ParseFloat(v, 64)
		case "bits":
			f.Bits, err = strconv.Atoi(v)
		case "name":
			f.Name = v
		case "interp":
			f.Interp = map[string]Interp{"none": InterpNone, "linear": InterpLinear, "angle": InterpAngle, "quat": InterpQuat}[v]
			if f.Interp == InterpDefault {
				err = fmt.Errorf("unknown interp")
			}
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return f, fmt.Errorf("tag %q: %v", kv, err)
		}
	}
	need := map[Kind][]string{KindInt: {"min", "max"}, KindFloat: {"min", "max", "step"}, KindAngle: {"bits"}, KindQuat: {"bits"}, KindString: {"max"}, KindBytes: {"max"}}[f.Kind]
	for _, k := range need {
		if !have[k] {
			return f, fmt.Errorf("a %s field needs %s=", kind, k)
		}
	}
	return f, nil
}

// FieldName is the name on the wire of struct field sf: its tag's
// name=, or its Go name with the leading capitals lowered.
func FieldName(sf reflect.StructField) string {
	for _, kv := range strings.Split(sf.Tag.Get("tw"), ",")[1:] {
		if k, v, _ := strings.Cut(strings.TrimSpace(kv), "="); k == "name" {
			return v
		}
	}
	return wireName(sf.Name)
}

// wireName lowers a Go name's leading capitals, but for the last of
// several when a lower-case letter follows it (HPMax is hpMax).
func wireName(s string) string {
	r := []rune(s)
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	if n > 1 && n < len(r) {
		n--
	}
	for i := range n {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// Entity is the struct value v (a struct of st's Go type, or a pointer to
// one) as an entity. An error says which string or bytes field is over
// its max.
func (st *StructType) Entity(v reflect.Value) (*Entity, error) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	e := &Entity{Type: st.Type, V: make([]uint64, len(st.Fields))}
	if st.hasStr {
		e.S = make([]string, len(st.Fields))
	}
	for i, gi := range st.index {
		f := &st.Fields[i]
		fv := v.Field(gi)
		switch f.Kind {
		case KindBool:
			if fv.Bool() {
				e.V[i] = 1
			}
		case KindQuat:
			e.V[i] = f.QuantiseQuat([4]float64{fv.Index(0).Float(), fv.Index(1).Float(), fv.Index(2).Float(), fv.Index(3).Float()})
		case KindString:
			e.S[i] = fv.String()
		case KindBytes:
			e.S[i] = string(fv.Bytes())
		default:
			var x float64
			switch {
			case fv.CanInt():
				x = float64(fv.Int())
			case fv.CanUint():
				x = float64(fv.Uint())
			default:
				x = fv.Float()
			}
			e.V[i] = f.Quantise(x)
		}
		if e.S != nil {
			if err := f.checkString(e.S[i]); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// CheckSize refuses an entity that could never be sent within budget
// bytes, whatever else changes.
func CheckSize(e *Entity, budget int) error {
	// A create of the entity alone: header counts, the worst id, op, type.
	bits := 5 + 5 + 40 + 2 + 8 + fieldBits(e, 1<<len(e.Type.Fields)-1)
	if bits > 8*budget {
		return fmt.Errorf("entity of type %q takes %d bytes, over the budget of %d", e.Type.Name, (bits+7)/8, budget)
	}
	return nil
}
