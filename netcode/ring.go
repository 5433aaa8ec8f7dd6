package netcode

import (
	"sync"
	"time"
)

// datagram is a received snapshot or input.
type datagram struct {
	seq      uint64
	payload  []byte
	received time.Time
}

// datagramRing holds the snapshots or inputs received and not yet read:
// newest wins for a client (a ring of one), the last InputQueue inputs for a
// server session. It drops what is not newer than the highest sequence
// number it has accepted, across connections too: the peer's numbers go on
// after a resume. Its methods are safe for concurrent use; ready is
// signalled whenever something was pushed.
type datagramRing struct {
	mu      sync.Mutex
	buf     []datagram
	head, n int
	highest uint64
	ready   chan struct{}
}

func newDatagramRing(size int) *datagramRing {
	return &datagramRing{buf: make([]datagram, size), ready: make(chan struct{}, 1)}
}

// pushResult says what push did with a datagram.
type pushResult struct {
	stale   bool   // not newer than one already accepted: dropped
	gap     uint64 // sequence numbers skipped before it: lost on the way
	evicted bool   // the ring was full: the oldest went to make room
}

// push stores d, copying its payload, unless it is stale.
func (r *datagramRing) push(d datagram) pushResult {
	r.mu.Lock()
	if d.seq <= r.highest {
		r.mu.Unlock()
		return pushResult{stale: true}
	}
	res := pushResult{gap: d.seq - r.highest - 1}
	r.highest = d.seq
	d.payload = clone(d.payload)
	if r.n == len(r.buf) {
		r.buf[r.head] = datagram{}
		r.head = (r.head + 1) % len(r.buf)
		r.n--
		res.evicted = true
	}
	r.buf[(r.head+r.n)%len(r.buf)] = d
	r.n++
	r.mu.Unlock()
	notify(r.ready)
	return res
}

// pop takes the oldest datagram, if any; more says whether another waits.
func (r *datagramRing) pop() (d datagram, ok, more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return datagram{}, false, false
	}
	d = r.buf[r.head]
	r.buf[r.head] = datagram{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return d, true, r.n > 0
}

// drainBefore forgets the datagrams received before t, oldest first: a
// client's snapshot from before a resume is stale state.
func (r *datagramRing) drainBefore(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n > 0 && r.buf[r.head].received.Before(t) {
		r.buf[r.head] = datagram{}
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
