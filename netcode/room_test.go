//go:build !js

package netcode

import (
	"errors"
	"testing"
	"time"
)

// TestRoomBroadcast: a room's snapshots reach its members and no one else;
// a session may be in two rooms; Remove and closing take a session out.
func TestRoomBroadcast(t *testing.T) {
	srv := newTestServer(t, nil)
	ctx := ctxTimeout(t, 20*time.Second)
	type player struct {
		c *Client
		s *Session
	}
	var ps [4]player
	for i := range ps {
		ps[i].c, ps[i].s = connect(t, srv, nil)
	}
	red, blue := NewRoom(), NewRoom()
	for _, tt := range []struct {
		room *Room
		p    int
		want bool
	}{
		{red, 0, true}, {red, 1, true}, {blue, 2, true}, {blue, 1, true},
		{red, 0, false}, // already in
	} {
		if got := tt.room.Add(ps[tt.p].s); got != tt.want {
			t.Fatalf("Add(player %d) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if red.Len() != 2 || blue.Len() != 2 {
		t.Fatalf("red %d blue %d members, want 2 and 2", red.Len(), blue.Len())
	}

	// expect checks which players got which payload, and that player 3,
	// in no room, got nothing.
	expect := func(payload byte, who ...int) {
		t.Helper()
		for _, i := range who {
			snap, err := ps[i].c.ReadSnapshot(ctx)
			if err != nil || len(snap.Payload) != 1 || snap.Payload[0] != payload {
				t.Fatalf("player %d: snapshot %v, %v; want [%d]", i, snap.Payload, err, payload)
			}
		}
	}
	if err := red.Broadcast([]byte{1}); err != nil {
		t.Fatal(err)
	}
	expect(1, 0, 1)
	if err := blue.Broadcast([]byte{2}); err != nil {
		t.Fatal(err)
	}
	expect(2, 2, 1)
	if got := ps[3].c.Stats().SnapshotsReceived; got != 0 {
		t.Fatalf("player in no room got %d snapshots", got)
	}
	if got := ps[0].c.Stats().SnapshotsReceived; got != 1 {
		t.Fatalf("red player got %d snapshots, want 1", got)
	}

	if err := red.Broadcast(make([]byte, defaultMaxUnreliableSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized Broadcast = %v, want ErrTooLarge", err)
	}

	if !red.Remove(ps[1].s) || red.Remove(ps[1].s) {
		t.Fatal("Remove: want true once, then false")
	}
	if got := red.Sessions(); len(got) != 1 || got[0] != ps[0].s {
		t.Fatalf("red after Remove: %v", got)
	}

	// Closing leaves every room, and a closed session joins none.
	_ = ps[2].c.Close()
	select {
	case <-ps[2].s.Done():
	case <-ctx.Done():
		t.Fatal("session did not close")
	}
	waitFor(t, ctx, func() bool { return blue.Len() == 1 }, "the closed session to leave its room")
	if got := blue.Sessions(); got[0] != ps[1].s {
		t.Fatalf("blue after a close: %v", got)
	}
	if red.Add(ps[2].s) {
		t.Fatal("a closed session joined a room")
	}
	if err := blue.Broadcast([]byte{3}); err != nil {
		t.Fatal(err)
	}
	expect(3, 1)
}

// TestRoomConcurrent: broadcasting while members come and go is safe (run
// with -race) and leaves a consistent room.
func TestRoomConcurrent(t *testing.T) {
	srv := newTestServer(t, nil)
	var sess []*Session
	for range 4 {
		_, s := connect(t, srv, nil)
		sess = append(sess, s)
	}
	r := NewRoom()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			_ = r.Broadcast([]byte{byte(i)})
		}
	}()
	for i := range 2000 {
		s := sess[i%len(sess)]
		if i%3 == 0 {
			r.Remove(s)
		} else {
			r.Add(s)
		}
	}
	<-done
	seen := map[*Session]bool{}
	for _, s := range r.Sessions() {
		if seen[s] {
			t.Fatal("a session is in the room twice")
		}
		seen[s] = true
	}
}
