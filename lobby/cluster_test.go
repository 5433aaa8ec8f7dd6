//go:build !js

package lobby

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestClusterSmoke: TestLobbyEndToEnd's game on two lobby nodes sharing a
// Redis: a game server in each node's process... one in-process on the
// first, one remote on the second; 8 players on alternate nodes are matched
// into two rooms of four, signal across nodes, play and leave.
func TestClusterSmoke(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 60*time.Second)
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}},
		GameServerKey: "test-key-0123456789",
	})
	a, b := o.node(t), o.node(t)

	gameCtx, stopGames := context.WithCancel(ctx)
	var gameWG sync.WaitGroup
	local, err := a.srv.AttachGameServer(ctx, newNetcodeServer(t), &GameServerConfig{Name: "local", Capacity: 4})
	if err != nil {
		t.Fatalf("AttachGameServer: %v", err)
	}
	remote, err := DialGameServer(ctx, b.url, newNetcodeServer(t), &GameServerConfig{Name: "remote", Capacity: 4, Key: "test-key-0123456789"})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	games := map[string]*game{}
	for _, gs := range []*GameServer{local, remote} {
		g := &game{players: map[string]*Player{}, inputs: map[string]int{}}
		games[gs.ID()] = g
		gameWG.Add(1)
		go runGame(gameCtx, gs, g, &gameWG)
	}
	defer func() {
		stopGames()
		gameWG.Wait()
		_ = local.Close()
		_ = remote.Close()
	}()

	const n = 8
	type result struct {
		player string
		m      *Match
		err    error
	}
	results := make(chan result, n)
	for i := range n {
		node := []*testNode{a, b}[i%2]
		c := guestAt(t, ctx, node.url, fmt.Sprintf("bot%d", i), nil)
		go func() { results <- playOnce(ctx, c, i, i%2 == 0) }()
	}
	rooms := map[string][]string{}
	servers := map[string]string{}
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatalf("player %s: %v", r.player, r.err)
		}
		rooms[r.m.Room] = append(rooms[r.m.Room], r.player)
		servers[r.m.Room] = r.m.Server
	}
	if len(rooms) != 2 {
		t.Fatalf("players went to %d rooms, want 2: %v", len(rooms), rooms)
	}
	seen := map[string]bool{}
	for _, s := range servers {
		seen[s] = true
	}
	if !seen[local.ID()] || !seen[remote.ID()] {
		t.Errorf("rooms placed on %v, want one on each of %s and %s", servers, local.ID(), remote.ID())
	}
	waitFor(t, 10*time.Second, "rooms cleaned up", func() bool {
		st := a.srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0
	})
}
