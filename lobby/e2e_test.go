//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// runGame is a minimal authoritative game on a GameServer: every player
// gets its room id as a snapshot at 50 Hz, and every event comes back
// prefixed with "echo:". It counts inputs per player.
type game struct {
	mu      sync.Mutex
	players map[string]*Player // by player id
	inputs  map[string]int
}

func runGame(ctx context.Context, gs *GameServer, g *game, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		p, err := gs.Accept(ctx)
		if err != nil {
			return
		}
		g.mu.Lock()
		g.players[p.ID] = p
		g.mu.Unlock()
		wg.Add(2)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					_ = p.Session.SendSnapshot([]byte(p.Room))
					for _, in := range p.Session.ReadInputs(nil) {
						_ = in
						g.mu.Lock()
						g.inputs[p.ID]++
						g.mu.Unlock()
					}
				case <-p.Session.Done():
					return
				case <-ctx.Done():
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				ev, err := p.Session.ReadEvent(ctx)
				if err != nil {
					return
				}
				_ = p.Session.SendEvent(append([]byte("echo:"), ev...))
			}
		}()
	}
}

// TestLobbyEndToEnd: a lobby, one in-process and one remote game server,
// 8 native clients queue, are matched into two rooms of four on the two
// servers, open both channels through the brokered signaling, exchange
// snapshots and events, leave, and the rooms are cleaned up.
func TestLobbyEndToEnd(t *testing.T) {
	ctx := ctxTimeout(t, 60*time.Second)
	srv, url := testLobby(t, &Config{
		Modes:         map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}},
		GameServerKey: "test-key-0123456789",
	})

	gameCtx, stopGames := context.WithCancel(ctx)
	var gameWG sync.WaitGroup
	ns1, ns2 := newNetcodeServer(t), newNetcodeServer(t)
	local, err := srv.AttachGameServer(ctx, ns1, &GameServerConfig{Name: "local", Capacity: 8})
	if err != nil {
		t.Fatalf("AttachGameServer: %v", err)
	}
	remote, err := DialGameServer(ctx, url, ns2, &GameServerConfig{Name: "remote", Capacity: 8, Key: "test-key-0123456789"})
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
	clients := make([]*Client, n)
	for i := range clients {
		clients[i] = guest(t, ctx, url, fmt.Sprintf("bot%d", i))
	}
	for i, c := range clients {
		go func() {
			results <- playOnce(ctx, c, i, i%2 == 0)
		}()
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
	for room, ps := range rooms {
		if len(ps) != 4 {
			t.Errorf("room %s has %d players, want 4", room, len(ps))
		}
		seen[servers[room]] = true
	}
	if !seen[local.ID()] || !seen[remote.ID()] {
		t.Errorf("rooms placed on %v, want one on each of %s and %s", servers, local.ID(), remote.ID())
	}
	// Each game server saw exactly its room's players, with inputs.
	for id, g := range games {
		g.mu.Lock()
		if len(g.players) != 4 {
			t.Errorf("game server %s accepted %d players, want 4", id, len(g.players))
		}
		for pid, p := range g.players {
			if servers[p.Room] != id {
				t.Errorf("player %s of room %s showed up on %s", pid, p.Room, id)
			}
			if g.inputs[pid] == 0 {
				t.Errorf("game server %s got no input from %s", id, pid)
			}
		}
		g.mu.Unlock()
	}
	waitFor(t, 10*time.Second, "rooms cleaned up", func() bool {
		st := srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0
	})
}

// playOnce queues, connects to the match, checks snapshots and events both
// ways, and leaves: through the lobby (leaveFirst) or by closing the netcode
// client, which the game server reports.
func playOnce(ctx context.Context, c *Client, i int, leaveFirst bool) (r struct {
	player string
	m      *Match
	err    error
}) {
	r.player = c.Player()
	fail := func(format string, args ...any) {
		if r.err == nil {
			r.err = fmt.Errorf(format, args...)
		}
	}
	if _, err := c.Queue(ctx, "squad", "", 1000+float64(i)*10); err != nil {
		fail("queue: %v", err)
		return
	}
	m, err := c.WaitMatch(ctx)
	if err != nil {
		fail("wait match: %v", err)
		return
	}
	r.m = m
	nc, err := c.Connect(ctx, m, nil)
	if err != nil {
		fail("connect: %v", err)
		return
	}
	defer nc.Close()
	snap, err := nc.ReadSnapshot(ctx)
	if err != nil || string(snap.Payload) != m.Room {
		fail("snapshot %q, %v; want the room id %q", snap.Payload, err, m.Room)
		return
	}
	for range 5 {
		_ = nc.SendInput([]byte("move"))
		time.Sleep(25 * time.Millisecond)
	}
	msg := "hello from " + c.Player()
	if err := nc.SendEvent([]byte(msg)); err != nil {
		fail("send event: %v", err)
		return
	}
	ev, err := nc.ReadEvent(ctx)
	if err != nil || string(ev) != "echo:"+msg {
		fail("event %q, %v; want the echo", ev, err)
		return
	}
	if len(m.Players) != 4 {
		fail("match lists %d players, want 4", len(m.Players))
	}
	if leaveFirst {
		if err := c.Leave(ctx); err != nil {
			fail("leave: %v", err)
			return
		}
		select {
		case <-nc.Done():
		case <-ctx.Done():
			fail("netcode client not closed after leaving the room")
			return
		}
	} else {
		_ = nc.Close()
		if err := waitLeft(ctx, c, m.Room); err != nil {
			fail("%v", err)
		}
	}
	return
}

func waitLeft(ctx context.Context, c *Client, room string) error {
	for {
		select {
		case n := <-c.Notices():
			if n.Type == "left" && n.Room == room {
				return nil
			}
		case <-ctx.Done():
			return errors.New("no left notice after closing the session")
		}
	}
}
