package dots

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, m := range []Move{{}, {DX: -1, DY: 1}, {DX: 1, DY: -1}} {
		b, err := EncodeMove(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMove(b)
		if err != nil || got != m {
			t.Errorf("move %+v: decoded %+v, %v", m, got, err)
		}
	}

	ev := Event{Type: EventJoined, Room: "r-1", ID: 7, Player: "g-abc", Name: "bot 3"}
	b, err := EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeEvent(b); err != nil || got != ev {
		t.Errorf("event: decoded %+v, %v; want %+v", got, err, ev)
	}

	snap := Snapshot{Tick: 1 << 20, Players: []PlayerState{{ID: 1, X: -Arena, Y: Arena}, {ID: 65535, X: 3, Y: -4}}}
	b, err = EncodeSnapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSnapshot(b)
	if err != nil || !reflect.DeepEqual(got, snap) {
		t.Errorf("snapshot: decoded %+v, %v; want %+v", got, err, snap)
	}
}

// TestSnapshotFits checks MaxPlayers: a full room at the arena's corners
// (the largest coordinates) and the largest ids stays within netcode's
// default 1200-byte datagram.
func TestSnapshotFits(t *testing.T) {
	snap := Snapshot{Tick: 1<<32 - 1}
	for i := range MaxPlayers {
		snap.Players = append(snap.Players, PlayerState{ID: uint16(65535 - i), X: -Arena, Y: -Arena})
	}
	b, err := EncodeSnapshot(&snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1200 {
		t.Errorf("a snapshot of %d players is %d bytes, over 1200", MaxPlayers, len(b))
	}
}

func TestDecodeGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0xc1}, []byte("not msgpack at all")} {
		if _, err := DecodeSnapshot(b); err == nil {
			t.Errorf("DecodeSnapshot(%q) succeeded", b)
		}
		if _, err := DecodeEvent(b); err == nil {
			t.Errorf("DecodeEvent(%q) succeeded", b)
		}
	}
	if _, err := DecodeMove([]byte{0xc1}); err == nil {
		t.Error("DecodeMove(0xc1) succeeded")
	}
}

func TestApplyClamps(t *testing.T) {
	s := PlayerState{X: Arena, Y: -Arena}
	s.Apply(Move{DX: 100, DY: -100})
	if s.X != Arena || s.Y != -Arena {
		t.Errorf("moved out of the arena to (%d, %d)", s.X, s.Y)
	}
	s.Apply(Move{DX: -128, DY: 127})
	if s.X != Arena-1 || s.Y != -Arena+1 {
		t.Errorf("a big step moved to (%d, %d), want one step in", s.X, s.Y)
	}
}
