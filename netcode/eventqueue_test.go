package netcode

import (
	"fmt"
	"testing"
)

func TestEventQueue(t *testing.T) {
	q := newEventQueue(3)
	for i := range 3 {
		if !q.push([]byte{byte(i)}) {
			t.Fatalf("push %d refused below the bound", i)
		}
	}
	if q.push([]byte{9}) {
		t.Fatal("push past the bound accepted")
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("not ready after pushes")
	}
	e, ok, more := q.pop()
	if !ok || e[0] != 0 || !more {
		t.Fatalf("pop = %v %v %v", e, ok, more)
	}
	if !q.push([]byte{3}) {
		t.Fatal("push refused after a pop made room")
	}
	all := q.popAll(nil)
	if got := fmt.Sprint(all); got != "[[1] [2] [3]]" {
		t.Fatalf("popAll = %s", got)
	}
	if _, ok, _ := q.pop(); ok {
		t.Fatal("queue not empty after popAll")
	}
	if all := q.popAll(nil); len(all) != 0 {
		t.Fatalf("popAll of an empty queue = %v", all)
	}
}

// TestEventQueueBounded: the backing array does not grow past the bound
// however long the queue is used at its limit.
func TestEventQueueBounded(t *testing.T) {
	q := newEventQueue(8)
	for i := range 10000 {
		for q.push([]byte{byte(i)}) {
		}
		q.pop()
		if c := cap(q.q); c > 64 {
			t.Fatalf("after %d rounds the queue holds an array of %d", i, c)
		}
	}
}
