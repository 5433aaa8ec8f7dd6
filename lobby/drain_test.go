//go:build !js

package lobby

import (
	"testing"
	"time"
)

// TestGameServerDrain: a draining game server takes no new room and no new
// player, is not counted ready, and its running game plays on; Drain
// returns once its last seat is gone, and the server has left the lobby.
// With the lobby's state in memory and in Redis.
func TestGameServerDrain(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			ctx := ctxTimeout(t, 60*time.Second)
			cfg := &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}}
			if store == "redis" {
				cfg = onRedis(t, cfg)
			}
			srv, url := testLobby(t, cfg)
			gs1 := attach(t, srv, 8)
			games := runGames(ctx, gs1)
			defer games.stop()

			// On gs1, the only server: a duel being played, and a public
			// room whose creator has not connected yet.
			p1, p2 := newBotAt(t, ctx, url, nil, "p1"), newBotAt(t, ctx, url, nil, "p2")
			for _, b := range []*clusterBot{p1, p2} {
				if _, err := b.c.Queue(ctx, "duel", "", 1000); err != nil {
					t.Fatal(err)
				}
			}
			for _, b := range []*clusterBot{p1, p2} {
				if err := b.play(ctx); err != nil {
					t.Fatal(err)
				}
			}
			host := newBotAt(t, ctx, url, nil, "host")
			hosted, err := host.c.CreateRoom(ctx, RoomOptions{Mode: "duel", Public: true})
			if err != nil {
				t.Fatal(err)
			}
			if p1.m.Server != gs1.ID() || hosted.Server != gs1.ID() {
				t.Fatalf("rooms on %s and %s, want gs1 %s", p1.m.Server, hosted.Server, gs1.ID())
			}
			gs2 := attach(t, srv, 8)
			games2 := runGames(ctx, gs2)
			defer games2.stop()

			drained := make(chan error, 1)
			go func() { drained <- gs1.Drain(ctx) }()
			waitFor(t, 10*time.Second, "only gs2 ready", func() bool {
				r := srv.Readiness()
				return r.Ready && r.GameServers == 1 && r.FreeSeats == 8
			})
			// New rooms go to gs2, the other one: matchmade and created.
			p3, p4 := newBotAt(t, ctx, url, nil, "p3"), newBotAt(t, ctx, url, nil, "p4")
			for _, b := range []*clusterBot{p3, p4} {
				if _, err := b.c.Queue(ctx, "duel", "", 1000); err != nil {
					t.Fatal(err)
				}
			}
			for _, b := range []*clusterBot{p3, p4} {
				if err := b.play(ctx); err != nil {
					t.Fatal(err)
				}
				if b.m.Server != gs2.ID() {
					t.Fatalf("a match went to %s while gs1 drains, want gs2 %s", b.m.Server, gs2.ID())
				}
			}
			other := newBotAt(t, ctx, url, nil, "other")
			m, err := other.c.CreateRoom(ctx, RoomOptions{Mode: "duel"})
			if err != nil || m.Server != gs2.ID() {
				t.Fatalf("room.create: %+v, %v; want a room on gs2", m, err)
			}
			// No one joins gs1's rooms, which are not listed.
			joiner := newBotAt(t, ctx, url, nil, "joiner")
			if _, err := joiner.c.JoinRoom(ctx, hosted.Code); err == nil {
				t.Fatal("joined a room of a draining server")
			} else {
				wantCode(t, err, CodeRoomFull)
			}
			if list, err := joiner.c.Rooms(ctx, ""); err != nil || len(list) != 0 {
				t.Fatalf("rooms: %v, %v; want none (the public room is on a draining server)", list, err)
			}

			// gs1's game plays on, and Drain waits for its seats to go.
			if err := p1.waitSnaps(ctx, 10); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-drained:
				t.Fatalf("Drain returned (%v) while its rooms hold seats", err)
			default:
			}
			if err := host.c.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p1.c.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "gs1 to hold one seat", func() bool { return gs1.Seats() == 1 })
			select {
			case err := <-drained:
				t.Fatalf("Drain returned (%v) while a player plays on it", err)
			default:
			}
			if err := p2.c.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-drained:
				if err != nil {
					t.Fatalf("Drain: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Drain did not return once gs1's seats were gone")
			}
			select {
			case <-gs1.Done():
			default:
				t.Fatal("gs1 still running after Drain")
			}
			waitFor(t, 10*time.Second, "gs1 to leave the lobby", func() bool {
				st := srv.Stats()
				return st.GameServers == 1 && st.GameServersDown == 0
			})
		})
	}
}

// TestReadyOnceAttached: a game server that AttachGameServer has
// registered already counts in the readiness, as the lobby command's
// /readyz promises once it prints its address.
func TestReadyOnceAttached(t *testing.T) {
	srv, _ := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	for i := range 20 {
		attach(t, srv, 8)
		if r := srv.Readiness(); !r.Ready || r.GameServers != i+1 {
			t.Fatalf("after attaching game server %d: %+v", i+1, r)
		}
	}
}
