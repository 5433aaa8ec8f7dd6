//go:build js && wasm

package main

// Conversions between JS values and the plain Go values of codec.go.

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"syscall/js"
	"time"
)

var (
	jsObject      = js.Global().Get("Object")
	jsArray       = js.Global().Get("Array")
	jsUint8Array  = js.Global().Get("Uint8Array")
	jsArrayBuffer = js.Global().Get("ArrayBuffer")
	jsDate        = js.Global().Get("Date")
	jsMap         = js.Global().Get("Map")
	jsError       = js.Global().Get("Error")
	jsPromise     = js.Global().Get("Promise")
	jsString      = js.Global().Get("String")
)

// toJS converts a plain value to JS: maps become objects (keys sorted),
// slices arrays, every number a JS number (integers beyond 2^53 lose
// precision, as they would in JSON.parse), []byte a Uint8Array, time.Time
// a Date.
func toJS(v any) js.Value {
	switch x := v.(type) {
	case nil:
		return js.Null()
	case js.Value:
		return x
	case bool, string, float64, int64, int, uint64:
		return js.ValueOf(x)
	case []byte:
		a := jsUint8Array.New(len(x))
		js.CopyBytesToJS(a, x)
		return a
	case time.Time:
		return jsDate.New(float64(x.UnixMilli()) + float64(x.Nanosecond()%1e6)/1e6)
	case []any:
		a := jsArray.New(len(x))
		for i, e := range x {
			a.SetIndex(i, toJS(e))
		}
		return a
	case map[string]any:
		// In key order: Go maps have none, and a JS object keeps the
		// order its properties were set in (Object.keys, JSON.stringify).
		o := jsObject.New()
		for _, k := range slices.Sorted(maps.Keys(x)) {
			o.Set(k, toJS(x[k]))
		}
		return o
	}
	// Not reached with plain values: normalize other Go values first. No
	// panic here: toJS runs in goroutines, where one would end the program.
	if n, err := normalize(v, 0); err == nil {
		return toJS(n)
	}
	return js.Undefined()
}

// fromJS converts a JS value to a plain value: objects become
// map[string]any (own enumerable string keys, as Object.keys lists them),
// arrays []any, numbers int64 when integral and safe else float64,
// Uint8Array (any typed array, DataView or ArrayBuffer: its bytes) []byte,
// a Date time.Time, a Map map[string]any (keys as strings), a BigInt int64
// or uint64, null and undefined nil. Functions and symbols are refused.
func fromJS(v js.Value) (any, error) { return fromJSDepth(v, 0) }

func fromJSDepth(v js.Value, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	t, bigint := typeOf(v)
	if bigint {
		return fromBigInt(v)
	}
	switch t {
	case js.TypeUndefined, js.TypeNull:
		return nil, nil
	case js.TypeBoolean:
		return v.Bool(), nil
	case js.TypeNumber:
		return jsNumber(v.Float()), nil
	case js.TypeString:
		return v.String(), nil
	case js.TypeObject:
		switch {
		case v.InstanceOf(jsUint8Array):
			b := make([]byte, v.Length())
			js.CopyBytesToGo(b, v)
			return b, nil
		case v.InstanceOf(jsArrayBuffer):
			return fromJSDepth(jsUint8Array.New(v), depth)
		case jsArrayBuffer.Call("isView", v).Bool():
			return fromJSDepth(jsUint8Array.New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength")), depth)
		case jsArray.Call("isArray", v).Bool():
			n := v.Length()
			a := make([]any, n)
			for i := range n {
				e, err := fromJSDepth(v.Index(i), depth+1)
				if err != nil {
					return nil, err
				}
				a[i] = e
			}
			return a, nil
		case v.InstanceOf(jsDate):
			ms := v.Call("getTime").Float()
			if math.IsNaN(ms) {
				return nil, fmt.Errorf("%w: invalid Date", errBadArgument)
			}
			whole := math.Floor(ms) // ms * 1e6 would be past a float64's integers
			return time.UnixMilli(int64(whole)).Add(time.Duration((ms - whole) * float64(time.Millisecond))), nil
		case v.InstanceOf(jsMap):
			entries := jsArray.Call("from", v.Call("entries"))
			m := make(map[string]any, entries.Length())
			for i := range entries.Length() {
				kv := entries.Index(i)
				k, err := fromJSDepth(kv.Index(0), depth+1)
				if err != nil {
					return nil, err
				}
				e, err := fromJSDepth(kv.Index(1), depth+1)
				if err != nil {
					return nil, err
				}
				m[keyString(k)] = e
			}
			return m, nil
		}
		keys := jsObject.Call("keys", v)
		n := keys.Length()
		m := make(map[string]any, n)
		for i := range n {
			k := keys.Index(i).String()
			e, err := fromJSDepth(v.Get(k), depth+1)
			if err != nil {
				return nil, err
			}
			m[k] = e
		}
		return m, nil
	case js.TypeFunction:
		return nil, fmt.Errorf("%w: a function cannot be sent", errBadArgument)
	case js.TypeSymbol:
		return nil, fmt.Errorf("%w: a symbol cannot be sent", errBadArgument)
	}
	return nil, fmt.Errorf("%w: cannot send a %s", errBadArgument, v.Type())
}

// typeOf is v.Type(), which panics for a BigInt: syscall/js has no type
// for it.
func typeOf(v js.Value) (t js.Type, bigint bool) {
	defer func() {
		if recover() != nil {
			bigint = true
		}
	}()
	return v.Type(), false
}

// fromBigInt converts a BigInt within int64 or uint64.
func fromBigInt(v js.Value) (any, error) {
	s := jsString.Invoke(v).String() // a BigInt has no methods syscall/js can call
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return u, nil
	}
	return nil, fmt.Errorf("%w: BigInt %s out of 64-bit range", errBadArgument, s)
}

// bytesFromJS reads a Uint8Array (or any ArrayBuffer view, or an
// ArrayBuffer) for the raw codec.
func bytesFromJS(v js.Value) ([]byte, error) {
	if t, _ := typeOf(v); t == js.TypeObject {
		if v.InstanceOf(jsUint8Array) || v.InstanceOf(jsArrayBuffer) || jsArrayBuffer.Call("isView", v).Bool() {
			b, err := fromJS(v)
			if err != nil {
				return nil, err
			}
			return b.([]byte), nil
		}
	}
	return nil, fmt.Errorf("%w: codec \"raw\" sends a Uint8Array", errBadArgument)
}

// errorToJS makes a JS Error with the message and, when errorCode has one,
// a code property.
func errorToJS(err error) js.Value {
	e := jsError.New(err.Error())
	if code := errorCode(err); code != "" {
		e.Set("code", code)
	}
	return e
}
