package netcode

import "testing"

func TestResendBuffer(t *testing.T) {
	var r resendBuffer
	for seq := uint64(1); seq <= 4; seq++ {
		r.add(seq, make([]byte, seq*10))
	}
	if r.len() != 4 || r.size() != 100 {
		t.Fatalf("len %d size %d, want 4 and 100", r.len(), r.size())
	}
	tests := []struct {
		ack       uint64
		len, size int
		firstSeq  uint64
	}{
		{0, 4, 100, 1},
		{2, 2, 70, 3},
		{1, 2, 70, 3}, // an older ack changes nothing
		{4, 0, 0, 0},
		{9, 0, 0, 0},
	}
	for _, tt := range tests {
		r.trim(tt.ack)
		if r.len() != tt.len || r.size() != tt.size {
			t.Fatalf("after trim(%d): len %d size %d, want %d and %d", tt.ack, r.len(), r.size(), tt.len, tt.size)
		}
		if tt.len > 0 && r.events[0].seq != tt.firstSeq {
			t.Fatalf("after trim(%d): first seq %d, want %d", tt.ack, r.events[0].seq, tt.firstSeq)
		}
	}
	if r.events != nil {
		t.Fatal("an empty buffer keeps its array")
	}
}

// TestResendBufferCopies: the buffer keeps its own copy of what was sent,
// since the encoder reuses its buffer.
func TestResendBufferCopies(t *testing.T) {
	var r resendBuffer
	b := []byte{1, 2}
	r.add(1, b)
	b[0] = 9
	if r.events[0].b[0] != 1 {
		t.Fatal("kept the caller's buffer")
	}
}
