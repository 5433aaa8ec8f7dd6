//go:build js && wasm

package main

// Tests of the syscall/js half of the bridge, run by node:
//
//	PATH="$(go env GOROOT)/lib/wasm:$PATH" GOOS=js GOARCH=wasm go test ./wasm/

import (
	"errors"
	"reflect"
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// jsEval evaluates a JS expression (the tests' own constants only).
func jsEval(expr string) js.Value {
	return js.Global().Get("Function").New("return (" + expr + ");").Invoke()
}

func TestFromJS(t *testing.T) {
	tests := []struct {
		expr string
		want any
	}{
		{"undefined", nil},
		{"null", nil},
		{"true", true},
		{"0", int64(0)},
		{"-7", int64(-7)},
		{"2 ** 40", int64(1 << 40)},
		{"Number.MAX_SAFE_INTEGER", int64(maxSafeInt)},
		{"2 ** 53", float64(1 << 53)},
		{"3.5", 3.5},
		{"'héllo ✓'", "héllo ✓"},
		{"[1, 'two', false, null]", []any{int64(1), "two", false, nil}},
		{"{dx: 1, dy: -1}", map[string]any{"dx": int64(1), "dy": int64(-1)}},
		{"{a: {b: [{}]}}", map[string]any{"a": map[string]any{"b": []any{map[string]any{}}}}},
		{"{u: undefined}", map[string]any{"u": nil}},
		{"new Uint8Array([0, 1, 255])", []byte{0, 1, 255}},
		{"new Uint8Array(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2)", []byte{8, 7}},
		{"new Uint16Array([0x0102])", []byte{0x02, 0x01}},
		{"new Uint8Array([5, 6]).buffer", []byte{5, 6}},
		{"new DataView(new Uint8Array([1, 2, 3]).buffer, 2)", []byte{3}},
		{"new Map([[1, 'a'], ['b', true]])", map[string]any{"1": "a", "b": true}},
		{"12345678901234567890n", uint64(12345678901234567890)},
		{"-5n", int64(-5)},
		{"Object.assign(Object.create({inherited: 1}), {own: 2})", map[string]any{"own": int64(2)}},
	}
	for _, tt := range tests {
		got, err := fromJS(jsEval(tt.expr))
		if err != nil {
			t.Errorf("fromJS(%s): %v", tt.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("fromJS(%s) = %#v, want %#v", tt.expr, got, tt.want)
		}
	}

	// syscall/js hands -0 over as 0 (wasm_exec.js stores every zero as
	// one predefined value).
	if got, _ := fromJS(jsEval("-0")); got != int64(0) {
		t.Errorf("fromJS(-0) = %#v", got)
	}
	if got, _ := fromJS(jsEval("new Date(1767225600123)")); !got.(time.Time).Equal(time.UnixMilli(1767225600123)) {
		t.Errorf("fromJS(a Date) = %#v", got)
	}
}

func TestFromJSRefuses(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"() => 1", "function"},
		{"Symbol('s')", "symbol"},
		{"{f: () => 1}", "function"},
		{"(() => { const o = {}; o.self = o; return o; })()", "nested deeper"},
		{"new Date(NaN)", "invalid Date"},
		{"2n ** 70n", "out of 64-bit range"},
	}
	for _, tt := range tests {
		v, err := fromJS(jsEval(tt.expr))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("fromJS(%s) = %#v, %v; want an error containing %q", tt.expr, v, err, tt.want)
		}
		if err != nil && !errors.Is(err, errBadArgument) && !errors.Is(err, errTooDeep) {
			t.Errorf("fromJS(%s): %v is not a bad argument", tt.expr, err)
		}
	}
}

// TestToJS converts plain values and compares what JS sees, through
// JSON.stringify (plus a check of the types JSON does not show).
func TestToJS(t *testing.T) {
	stringify := js.Global().Get("JSON").Get("stringify")
	tests := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{true, "true"},
		{int64(-7), "-7"},
		{uint64(1 << 63), "9223372036854776000"},
		{3.5, "3.5"},
		{"héllo", `"héllo"`},
		{[]any{int64(1), "a", nil}, `[1,"a",null]`},
		{map[string]any{"tick": int64(61), "players": []any{[]any{int64(1), int64(12), int64(30)}}}, `{"players":[[1,12,30]],"tick":61}`},
	}
	for _, tt := range tests {
		if got := stringify.Invoke(toJS(tt.in)).String(); got != tt.want {
			t.Errorf("toJS(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}

	b := toJS([]byte{1, 2, 3})
	if !b.InstanceOf(jsUint8Array) || b.Length() != 3 || b.Index(2).Int() != 3 {
		t.Errorf("toJS([]byte) = %v", b)
	}
	d := toJS(time.UnixMilli(1767225600123))
	if !d.InstanceOf(jsDate) || d.Call("getTime").Float() != 1767225600123 {
		t.Errorf("toJS(time) = %v", d)
	}
}

// TestRoundTrip: a JS value through fromJS, msgpack and back comes out
// equal, as a payload sent to an echoing server would.
func TestRoundTrip(t *testing.T) {
	const expr = `{kind: "hello", n: 42, pi: 3.5, neg: -7, big: 2 ** 40, ok: true, nothing: null,
		list: [1, "two", false], nested: {deep: {x: 1}}, bin: new Uint8Array([0, 1, 254, 255]), text: "héllo ✓"}`
	v, err := fromJS(jsEval(expr))
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodePayload(v)
	if err != nil {
		t.Fatal(err)
	}
	back, err := newDecoder().decode(b)
	if err != nil {
		t.Fatal(err)
	}
	out := toJS(back)
	check := js.Global().Get("Function").New("a", "b", `
		const norm = (v) => v instanceof Uint8Array ? {u8: Array.from(v)} :
			Array.isArray(v) ? v.map(norm) :
			v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm(v[k])])) : v;
		return JSON.stringify(norm(a)) === JSON.stringify(norm(b)) ? "" : JSON.stringify(norm(a)) + " != " + JSON.stringify(norm(b));`)
	if diff := check.Invoke(out, jsEval(expr)).String(); diff != "" {
		t.Errorf("round trip: %s", diff)
	}
}

func TestBytesFromJS(t *testing.T) {
	if b, err := bytesFromJS(jsEval("new Uint8Array([7])")); err != nil || !reflect.DeepEqual(b, []byte{7}) {
		t.Errorf("bytesFromJS(Uint8Array) = %v, %v", b, err)
	}
	for _, expr := range []string{"[1, 2]", "'str'", "{}", "null"} {
		if _, err := bytesFromJS(jsEval(expr)); !errors.Is(err, errBadArgument) {
			t.Errorf("bytesFromJS(%s) = %v, want a bad argument", expr, err)
		}
	}
}

func TestErrorToJS(t *testing.T) {
	e := errorToJS(errClosedHandle)
	if !e.InstanceOf(jsError) || e.Get("message").String() != "tickwire: closed" || e.Get("code").String() != "closed" {
		t.Errorf("errorToJS: %v %v", e.Get("message"), e.Get("code"))
	}
	if e := errorToJS(errors.New("plain")); !e.Get("code").IsUndefined() {
		t.Errorf("an error without a code has code %v", e.Get("code"))
	}
}
