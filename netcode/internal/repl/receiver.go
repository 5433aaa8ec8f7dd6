package repl

import (
	"errors"
	"fmt"
	"time"
)

// Kept is how many decoded states a Receiver keeps: more than the
// server's History, so that any base the server picks is here.
const Kept = 64

var (
	// ErrStale means a state is not newer than the newest decoded.
	ErrStale = errors.New("stale state")
	// ErrNoBase means a state's base is not among the kept states.
	ErrNoBase = errors.New("state against a base no longer kept")
)

// Receiver is the client's side of replication: the states it decoded,
// newest last. It is not safe for concurrent use.
type Receiver struct {
	kept [Kept]*State
	next int
	last *State
}

// NewReceiver is a receiver that has the empty world.
func NewReceiver() *Receiver { return &Receiver{last: &State{}} }

// Newest is the newest decoded state (the empty world before any).
func (r *Receiver) Newest() *State { return r.last }

// Receive applies one state message (REPLICATION.md, "Applying a
// state"). It returns the new state, or ErrStale or ErrNoBase for a state
// to drop, or an error wrapping ErrMalformed for one that ends the
// session.
func (r *Receiver) Receive(tick, base uint64, at time.Duration, payload []byte) (*State, error) {
	switch {
	case tick == 0:
		return nil, fmt.Errorf("%w: tick 0", ErrMalformed)
	case base >= tick:
		return nil, fmt.Errorf("%w: base %d not below tick %d", ErrMalformed, base, tick)
	case tick <= r.last.Tick:
		return nil, fmt.Errorf("%w: tick %d after %d", ErrStale, tick, r.last.Tick)
	}
	b := &State{}
	if base != 0 {
		b = nil
		for _, st := range r.kept {
			if st != nil && st.Tick == base {
				b = st
				break
			}
		}
		if b == nil {
			return nil, fmt.Errorf("%w: base %d", ErrNoBase, base)
		}
	}
	st, err := Apply(b, tick, payload)
	if err != nil {
		return nil, err
	}
	st.Time = at
	r.kept[r.next] = st
	r.next = (r.next + 1) % Kept
	r.last = st
	return st, nil
}

// Get is the kept state of tick, or nil.
func (r *Receiver) Get(tick uint64) *State {
	for _, st := range r.kept {
		if st != nil && st.Tick == tick {
			return st
		}
	}
	return nil
}
