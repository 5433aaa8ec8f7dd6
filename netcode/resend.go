package netcode

// resendBuffer keeps every event this side sent, encoded, until the peer
// acknowledges it: after a resume it is sent again, in order, before any
// new event, and the peer drops what it already had (WIRE.md, "Events and
// acks"). It is not safe for concurrent use: the peer's event lock guards it.
type resendBuffer struct {
	events []sentEvent // oldest first, seqs consecutive
	bytes  int
}

// sentEvent is an encoded event kept until the peer acknowledges it.
type sentEvent struct {
	seq uint64
	b   []byte
}

// add keeps a copy of the encoded event b, numbered seq.
func (r *resendBuffer) add(seq uint64, b []byte) {
	r.events = append(r.events, sentEvent{seq: seq, b: append([]byte(nil), b...)})
	r.bytes += len(b)
}

// trim forgets the events at or below ack.
func (r *resendBuffer) trim(ack uint64) {
	i := 0
	for i < len(r.events) && r.events[i].seq <= ack {
		r.bytes -= len(r.events[i].b)
		r.events[i] = sentEvent{}
		i++
	}
	if i > 0 {
		r.events = r.events[i:]
		if len(r.events) == 0 {
			r.events = nil // let the old array go
		}
	}
}

// size is the bytes held and len the events.
func (r *resendBuffer) size() int { return r.bytes }
func (r *resendBuffer) len() int  { return len(r.events) }
