package netcode

import (
	"bytes"
	"testing"
	"time"
)

func TestDatagramRing(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		pushes []uint64
		want   []pushResult
		popped []uint64 // seqs left, oldest first
	}{
		{"newest wins in a ring of one", 1, []uint64{1, 2, 3},
			[]pushResult{{}, {evicted: true}, {evicted: true}}, []uint64{3}},
		{"stale and duplicate dropped", 4, []uint64{5, 3, 5, 6},
			[]pushResult{{gap: 4}, {stale: true}, {stale: true}, {}}, []uint64{5, 6}},
		{"gaps counted", 4, []uint64{1, 4, 10},
			[]pushResult{{}, {gap: 2}, {gap: 5}}, []uint64{1, 4, 10}},
		{"oldest evicted when full", 2, []uint64{1, 2, 3, 4},
			[]pushResult{{}, {}, {evicted: true}, {evicted: true}}, []uint64{3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDatagramRing(tt.size)
			for i, seq := range tt.pushes {
				if got := r.push(datagram{seq: seq, payload: []byte{byte(seq)}}); got != tt.want[i] {
					t.Fatalf("push %d (seq %d) = %+v, want %+v", i, seq, got, tt.want[i])
				}
			}
			for i, seq := range tt.popped {
				d, ok, more := r.pop()
				if !ok || d.seq != seq || !bytes.Equal(d.payload, []byte{byte(seq)}) {
					t.Fatalf("pop %d = %+v %v, want seq %d", i, d, ok, seq)
				}
				if more != (i < len(tt.popped)-1) {
					t.Fatalf("pop %d: more = %v", i, more)
				}
			}
			if _, ok, _ := r.pop(); ok {
				t.Fatal("ring not empty")
			}
		})
	}
}

// TestDatagramRingCopies: the ring keeps its own copy, so the stack may
// reuse its buffer.
func TestDatagramRingCopies(t *testing.T) {
	r := newDatagramRing(2)
	b := []byte{1, 2, 3}
	r.push(datagram{seq: 1, payload: b})
	b[0] = 9
	if d, _, _ := r.pop(); d.payload[0] != 1 {
		t.Fatalf("payload changed with the caller's buffer: %v", d.payload)
	}
	r.push(datagram{seq: 2, payload: nil})
	if d, _, _ := r.pop(); d.payload == nil {
		t.Fatal("an empty payload came back nil")
	}
}

func TestDatagramRingReady(t *testing.T) {
	r := newDatagramRing(4)
	select {
	case <-r.ready:
		t.Fatal("ready before a push")
	default:
	}
	r.push(datagram{seq: 1})
	r.push(datagram{seq: 2})
	select {
	case <-r.ready:
	default:
		t.Fatal("not ready after a push")
	}
	r.push(datagram{seq: 2}) // stale: no signal
	select {
	case <-r.ready:
		t.Fatal("ready after a stale push only")
	default:
	}
}

// TestDatagramRingDrainBefore: a resume throws away what came before it,
// but keeps what came after, and the highest seq stays, so the peer's old
// numbers remain stale.
func TestDatagramRingDrainBefore(t *testing.T) {
	r := newDatagramRing(4)
	t0 := time.Now()
	r.push(datagram{seq: 1, received: t0})
	r.push(datagram{seq: 2, received: t0.Add(time.Second)})
	r.push(datagram{seq: 3, received: t0.Add(3 * time.Second)})
	r.drainBefore(t0.Add(2 * time.Second))
	if d, ok, more := r.pop(); !ok || d.seq != 3 || more {
		t.Fatalf("pop = %+v %v %v, want seq 3 alone", d, ok, more)
	}
	if res := r.push(datagram{seq: 2}); !res.stale {
		t.Fatal("seq 2 accepted after drain")
	}
}
