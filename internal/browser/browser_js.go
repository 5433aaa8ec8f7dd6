//go:build js

package browser

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
)

// Call calls method on v and returns what it throws as an error, or an
// error if v is not an object.
func Call(v js.Value, method string, args ...any) (res js.Value, err error) {
	if t := v.Type(); t != js.TypeObject && t != js.TypeFunction {
		return js.Undefined(), fmt.Errorf("call of %s on %s", method, t)
	}
	defer catch(&err)
	return v.Call(method, args...), nil
}

// New constructs ctor and returns what it throws as an error.
func New(ctor js.Value, args ...any) (res js.Value, err error) {
	defer catch(&err)
	return ctor.New(args...), nil
}

// Global returns the global constructor or object name, or an error saying
// this JavaScript environment has none.
func Global(name string) (js.Value, error) {
	v := js.Global().Get(name)
	if v.IsUndefined() || v.IsNull() {
		return v, fmt.Errorf("no %s in this JavaScript environment", name)
	}
	return v, nil
}

// catch recovers the panic with which syscall/js reports a JavaScript
// exception; any other panic goes on.
func catch(err *error) {
	r := recover()
	if r == nil {
		return
	}
	je, ok := r.(js.Error)
	if !ok {
		panic(r)
	}
	*err = Error(je.Value)
}

// Error turns a thrown or rejected value, normally an Error or a
// DOMException, into an error.
func Error(v js.Value) error {
	if v.Type() == js.TypeObject {
		if msg := v.Get("message"); msg.Type() == js.TypeString {
			return fmt.Errorf("%s: %s", v.Get("name").String(), msg.String())
		}
	}
	return errors.New(v.String())
}

// Await waits for promise p to settle, or for ctx (nil: no bound). It
// blocks the calling goroutine, never the event loop, so it must not be
// called from an event handler.
//
// A promise abandoned when ctx ends may settle later or never: the
// RTCPeerConnection's do not once it is closed. So nothing waits for it:
// its two handlers release themselves when it settles, and stay registered
// (two small map entries, no goroutine) if it never does.
func Await(ctx context.Context, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	var ok, fail js.Func
	settle := func(r result) {
		done <- r // buffered: a promise settles once
		ok.Release()
		fail.Release()
	}
	ok = js.FuncOf(func(_ js.Value, args []js.Value) any {
		settle(result{v: Arg0(args)})
		return nil
	})
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		settle(result{err: Error(Arg0(args))})
		return nil
	})
	if _, err := Call(p, "then", ok, fail); err != nil {
		ok.Release()
		fail.Release()
		return js.Undefined(), err
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctxDone:
		return js.Undefined(), ctx.Err()
	}
}

// Arg0 is a handler's first argument, or undefined.
func Arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// Handlers are the event handler properties ("onopen") set on JavaScript
// objects for one owner, released together.
type Handlers struct {
	mu     sync.Mutex
	closed bool
	list   []handler
}

type handler struct {
	target js.Value
	prop   string
	fn     js.Func
}

// On sets target's handler property prop to f, unless Release has run.
// Handlers run on the browser's event loop: f must not block.
func (h *Handlers) On(target js.Value, prop string, f func(ev js.Value)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(Arg0(args))
		return nil
	})
	target.Set(prop, fn)
	h.list = append(h.list, handler{target, prop, fn})
}

// Release clears every handler property, then releases the functions: an
// event already queued finds no handler rather than a released function.
// Later calls to On do nothing. Idempotent.
func (h *Handlers) Release() {
	h.mu.Lock()
	list := h.list
	h.list, h.closed = nil, true
	h.mu.Unlock()
	for _, x := range list {
		x.target.Set(x.prop, js.Null())
	}
	for _, x := range list {
		x.fn.Release()
	}
}

// uint8Array is the Uint8Array constructor, looked up once: every message
// sent or received goes through one.
var uint8Array = js.Global().Get("Uint8Array")

// Bytes copies a message's data into Go: an ArrayBuffer, a typed array, or
// a string (as UTF-8).
func Bytes(data js.Value) []byte {
	if data.Type() == js.TypeString {
		return []byte(data.String())
	}
	a := data
	if data.Get("BYTES_PER_ELEMENT").Type() != js.TypeNumber || data.Get("BYTES_PER_ELEMENT").Int() != 1 {
		a = uint8Array.New(data)
	}
	b := make([]byte, a.Get("length").Int())
	js.CopyBytesToGo(b, a)
	return b
}

// Uint8Array copies b into a new Uint8Array.
func Uint8Array(b []byte) js.Value {
	a := uint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

// Inbox holds what an event handler receives until a Go reader takes it,
// so that the handler, and with it the browser's event loop, never waits
// for the reader. Its methods are safe for concurrent use.
type Inbox struct {
	max   int
	ready chan struct{} // a message or the end is waiting

	mu    sync.Mutex
	queue [][]byte
	err   error
}

// ErrBacklog is Push's answer past the inbox's bound.
var ErrBacklog = errors.New("messages unread")

// ErrDone is Next's answer when its done channel closes first.
var ErrDone = errors.New("done")

// NewInbox returns an inbox that holds at most max unread messages.
func NewInbox(max int) *Inbox {
	return &Inbox{max: max, ready: make(chan struct{}, 1)}
}

// Push queues b. It returns the inbox's error once it has failed, and
// ErrBacklog (queuing nothing) when max messages are unread: the reader has
// stalled, and the caller should fail the inbox rather than grow it.
func (q *Inbox) Push(b []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.err != nil:
		return q.err
	case len(q.queue) >= q.max:
		return fmt.Errorf("%w: %d", ErrBacklog, len(q.queue))
	}
	q.queue = append(q.queue, b)
	q.wake()
	return nil
}

// Fail ends the inbox with err once what is queued has been read. The first
// error stays.
func (q *Inbox) Fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
	}
	q.wake()
}

// Err is the error the inbox failed with, or nil.
func (q *Inbox) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *Inbox) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Next returns the next message, then the inbox's error; it waits for
// either, or returns ErrDone when done closes. One reader at a time.
func (q *Inbox) Next(done <-chan struct{}) ([]byte, error) {
	for {
		q.mu.Lock()
		if len(q.queue) > 0 {
			b := q.queue[0]
			q.queue[0] = nil
			q.queue = q.queue[1:]
			q.mu.Unlock()
			return b, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-q.ready:
		case <-done:
			return nil, ErrDone
		}
	}
}
