//go:build js

package browser

// Run by node (make test):
//
//	PATH="$(go env GOROOT)/lib/wasm:$PATH" GOOS=js GOARCH=wasm go test ./internal/browser/

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// jsEval evaluates a JS expression (the tests' own constants only).
func jsEval(expr string) js.Value {
	return js.Global().Get("Function").New("return (" + expr + ");").Invoke()
}

func TestCallAndNew(t *testing.T) {
	tests := []struct {
		name    string
		call    func() (js.Value, error)
		want    string // the result as a string, or
		wantErr string // a part of the error
	}{
		{"call", func() (js.Value, error) { return Call(jsEval(`["a", "b"]`), "join", "+") }, "a+b", ""},
		{"call throws a TypeError", func() (js.Value, error) { return Call(jsEval(`({f() { null.x }})`), "f") }, "", "TypeError: "},
		{"call throws a string", func() (js.Value, error) { return Call(jsEval(`({f() { throw "boom" }})`), "f") }, "", "boom"},
		{"new", func() (js.Value, error) { return New(js.Global().Get("Array"), 3) }, ",,", ""},
		{"new throws", func() (js.Value, error) { return New(js.Global().Get("Array"), -1) }, "", "RangeError: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.call()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || js.Global().Get("String").Invoke(v).String() != tt.want {
				t.Fatalf("= %v, %v; want %q", v, err, tt.want)
			}
		})
	}
}

func TestCallPassesOtherPanicsOn(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a Go panic in an argument conversion was swallowed")
		}
	}()
	_, _ = Call(jsEval(`({f() {}})`), "f", make(chan int)) // syscall/js cannot convert a channel
}

func TestGlobal(t *testing.T) {
	if _, err := Global("Promise"); err != nil {
		t.Fatal(err)
	}
	if _, err := Global("RTCPeerConnectionNotHere"); err == nil || !strings.Contains(err.Error(), "no RTCPeerConnectionNotHere") {
		t.Fatalf("err = %v", err)
	}
}

func TestAwait(t *testing.T) {
	v, err := Await(nil, jsEval(`Promise.resolve(42)`))
	if err != nil || v.Int() != 42 {
		t.Fatalf("resolved: %v, %v", v, err)
	}
	_, err = Await(nil, jsEval(`Promise.reject(new DOMException("no", "InvalidStateError"))`))
	if err == nil || err.Error() != "InvalidStateError: no" {
		t.Fatalf("rejected: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = Await(ctx, jsEval(`new Promise((r) => setTimeout(() => r(1), 200))`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past ctx: %v", err)
	}
	// The abandoned promise settles later, into handlers that release
	// themselves, without a panic (the test binary would die).
	time.Sleep(300 * time.Millisecond)
	// One that never settles (an RTCPeerConnection's, once closed) leaves
	// no goroutine waiting for it.
	before := runtime.NumGoroutine()
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Await(ctx, jsEval(`new Promise(() => {})`)); !errors.Is(err, context.Canceled) {
			t.Fatalf("never settling, ctx cancelled: %v", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines after 20 abandoned promises, %d before", after, before)
	}
	if _, err := Await(nil, jsEval(`42`)); err == nil {
		t.Fatal("awaiting a number that has no then")
	}
}

func TestHandlers(t *testing.T) {
	target := jsEval(`({})`)
	var h Handlers
	got := make(chan string, 4)
	h.On(target, "onping", func(ev js.Value) { got <- ev.String() })
	target.Call("onping", "one")
	if s := <-got; s != "one" {
		t.Fatalf("handler got %q", s)
	}
	h.Release()
	h.Release()
	if v := target.Get("onping"); !v.IsNull() {
		t.Fatalf("onping after Release: %v, want null", v)
	}
	h.On(target, "onping", func(js.Value) { got <- "late" })
	if v := target.Get("onping"); !v.IsNull() {
		t.Fatal("On after Release set a handler")
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		name, expr, want string
	}{
		{"ArrayBuffer", `new Uint8Array([104, 105]).buffer`, "hi"},
		{"Uint8Array", `new Uint8Array([0, 255])`, "\x00\xff"},
		{"string", `"h\u00e9"`, "h\u00e9"},
		{"empty", `new ArrayBuffer(0)`, ""},
	}
	for _, tt := range tests {
		if got := string(Bytes(jsEval(tt.expr))); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := string(Bytes(Uint8Array([]byte("round")))); got != "round" {
		t.Errorf("Uint8Array round trip: %q", got)
	}
}

func TestInbox(t *testing.T) {
	q := NewInbox(2)
	if err := q.Push([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := q.Push([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := q.Push([]byte("c")); !errors.Is(err, ErrBacklog) {
		t.Fatalf("push past the bound: %v", err)
	}
	end := errors.New("closed")
	q.Fail(end)
	q.Fail(errors.New("second"))
	if err := q.Push([]byte("d")); err != end {
		t.Fatalf("push after Fail: %v", err)
	}
	// What was queued comes first, then the first error, again and again.
	for _, want := range []string{"a", "b"} {
		if b, err := q.Next(nil); err != nil || string(b) != want {
			t.Fatalf("Next = %q, %v; want %q", b, err, want)
		}
	}
	for range 2 {
		if _, err := q.Next(nil); err != end {
			t.Fatalf("Next after the queue: %v, want %v", err, end)
		}
	}

	// A reader waiting on an empty inbox wakes for a push, and for done.
	q = NewInbox(4)
	got := make(chan string, 1)
	go func() {
		b, _ := q.Next(nil)
		got <- string(b)
	}()
	time.Sleep(10 * time.Millisecond)
	_ = q.Push([]byte("x"))
	if s := <-got; s != "x" {
		t.Fatalf("woken with %q", s)
	}
	done := make(chan struct{})
	close(done)
	if _, err := q.Next(done); !errors.Is(err, ErrDone) {
		t.Fatalf("Next with done closed: %v", err)
	}
}
