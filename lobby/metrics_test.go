//go:build !js

package lobby

import (
	"testing"
	"time"
)

// TestMetricsCounters: what Server.Metrics counts as players play, with the
// lobby's state in memory and in Redis (where a node counts what it did).
func TestMetricsCounters(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			ctx := ctxTimeout(t, 60*time.Second)
			cfg := &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}, "trio": {MinPlayers: 3, MaxPlayers: 3}},
				MaxRoomSeatsPerIP: 2}
			if store == "redis" {
				cfg = onRedis(t, cfg)
			}
			srv, url := testLobby(t, cfg)
			gs := attach(t, srv, 8)
			games := runGames(ctx, gs)
			defer games.stop()

			lone := newBotAt(t, ctx, url, nil, "lone")
			if _, err := lone.c.Queue(ctx, "trio", "eu", 1000); err != nil {
				t.Fatal(err)
			}
			host, other := newBotAt(t, ctx, url, nil, "host"), newBotAt(t, ctx, url, nil, "other")
			if _, err := host.c.CreateRoom(ctx, RoomOptions{Mode: "duel"}); err != nil {
				t.Fatal(err)
			}
			if _, err := other.c.CreateRoom(ctx, RoomOptions{Mode: "duel"}); err == nil {
				t.Fatal("a second room over the address's quota")
			}
			a, b := newBotAt(t, ctx, url, nil, "a"), newBotAt(t, ctx, url, nil, "b")
			for _, bt := range []*clusterBot{a, b} {
				if _, err := bt.c.Queue(ctx, "duel", "", 1000); err != nil {
					t.Fatal(err)
				}
			}
			for _, bt := range []*clusterBot{a, b} {
				if err := bt.play(ctx); err != nil {
					t.Fatal(err)
				}
				if err := bt.waitSnaps(ctx, 3); err != nil {
					t.Fatal(err)
				}
			}
			m := srv.Metrics()
			if m.MatchesMade != 1 || m.PlayersMatched != 2 || m.QueueWait.Count != 2 || m.RoomsCreated != 1 {
				t.Errorf("matches %d, matched %d, waits %d, rooms created %d; want 1, 2, 2, 1", m.MatchesMade, m.PlayersMatched,
					m.QueueWait.Count, m.RoomsCreated)
			}
			var waits uint64
			for _, n := range m.QueueWait.Counts {
				waits += n
			}
			if waits != 2 || len(m.QueueWait.Counts) != len(m.QueueWait.Bounds)+1 {
				t.Errorf("queue wait buckets %v over %v, want 2 waits", m.QueueWait.Counts, m.QueueWait.Bounds)
			}
			if m.SignalsRelayed < 2 || m.LimitsHit[LimitRooms] != 1 {
				t.Errorf("signals relayed %d, room limits hit %d; want at least 2 and 1", m.SignalsRelayed, m.LimitsHit[LimitRooms])
			}
			if m.Connected != 5 || m.Rooms != 2 || m.Seats != 3 || m.GameServers != 1 || m.StoreDown {
				t.Errorf("gauges %+v, want 5 connected, 2 rooms, 3 seats, a game server, the store up", m.Stats)
			}
			if len(m.Queues) != 1 || m.Queues[0] != (QueueLen{Mode: "trio", Region: "eu", Tickets: 1}) {
				t.Errorf("queues %+v, want the lone trio ticket in eu", m.Queues)
			}
		})
	}
}
