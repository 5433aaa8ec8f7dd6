package netcode

import "sync"

// eventQueue holds the events received and not yet read, in order, up to
// a bound: one more than that is the application falling behind, which
// closes the session (CloseSlowReader) rather than stall the reliable
// stream, snapshots with it, or drop an event. Its methods are safe for
// concurrent use; ready is signalled whenever something was pushed.
type eventQueue struct {
	mu    sync.Mutex
	q     [][]byte
	max   int
	ready chan struct{}
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, ready: make(chan struct{}, 1)}
}

// push appends e; false when the queue already holds max events.
func (q *eventQueue) push(e []byte) bool {
	q.mu.Lock()
	if len(q.q) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.q = append(q.q, e)
	q.mu.Unlock()
	notify(q.ready)
	return true
}

// pop takes the oldest event, if any; more says whether another waits.
func (q *eventQueue) pop() (e []byte, ok, more bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.q) == 0 {
		return nil, false, false
	}
	e = q.q[0]
	q.q[0] = nil
	q.q = q.q[1:]
	if len(q.q) == 0 {
		q.q = nil // let the array go
	}
	return e, true, len(q.q) > 0
}

// popAll appends every event to dst, oldest first.
func (q *eventQueue) popAll(dst [][]byte) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst, q.q...)
	clear(q.q)
	q.q = q.q[:0]
	return dst
}
