//go:build !js

package netcode

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Room is a set of sessions that see the same game: the players of one
// match. A server hosts many rooms at once (the lobby places several
// matches on one game server), and Broadcast reaches one room where
// Server.Broadcast reaches every session. A session may be in several rooms
// (players and spectators of a match, say), and leaves all of them when it
// closes.
//
// Broadcast reads the members without a lock, so a tick loop never waits
// for a room being changed; Add and Remove copy the member list, which
// suits rooms that change far less often than they tick.
type Room struct {
	mu      sync.Mutex                 // serializes changes
	members atomic.Pointer[[]*Session] // never changed in place
}

// NewRoom returns an empty room.
func NewRoom() *Room { return &Room{} }

// Add puts s in the room. It is false if s was already in it or has closed:
// a closed session never joins, so a room holds no one it cannot reach for
// longer than the session takes to close.
func (r *Room) Add(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !s.join(r) {
		return false
	}
	old := r.list()
	next := make([]*Session, len(old), len(old)+1)
	copy(next, old)
	next = append(next, s)
	r.members.Store(&next)
	return true
}

// Remove takes s out of the room; false if it was not in it.
func (r *Room) Remove(s *Session) bool {
	s.leave(r)
	return r.drop(s)
}

// drop removes s from the member list.
func (r *Room) drop(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.list()
	for i, m := range old {
		if m == s {
			next := make([]*Session, 0, len(old)-1)
			next = append(next, old[:i]...)
			next = append(next, old[i+1:]...)
			r.members.Store(&next)
			return true
		}
	}
	return false
}

func (r *Room) list() []*Session {
	if l := r.members.Load(); l != nil {
		return *l
	}
	return nil
}

// Sessions returns the members, in the order they joined. The slice is the
// caller's.
func (r *Room) Sessions() []*Session { return append([]*Session(nil), r.list()...) }

// Len is the number of members.
func (r *Room) Len() int { return len(r.list()) }

// Broadcast sends the same snapshot to every member. It never blocks: a
// member that is congested or closing misses this one, which its Stats
// show. The error is ErrTooLarge, for a payload over the members'
// Config.MaxUnreliableSize, and nothing is sent then; else nil.
func (r *Room) Broadcast(payload []byte) error { return broadcast(r.list(), payload) }

// broadcast sends payload to each of sessions, checking its size once.
func broadcast(sessions []*Session, payload []byte) error {
	if len(sessions) == 0 {
		return nil
	}
	if max := sessions[0].p.cfg.MaxUnreliableSize; len(payload) > max {
		return fmt.Errorf("%w: snapshot payload of %d bytes, limit %d", ErrTooLarge, len(payload), max)
	}
	for _, s := range sessions {
		if err := s.SendSnapshot(payload); errors.Is(err, ErrTooLarge) {
			return err
		}
	}
	return nil
}
