//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tickwire/tickwire/netcode"
)

// clusterBot is a player of a cluster test: it queues through one node,
// redials the others when that one goes, plays its match while counting
// the snapshots of its room, and remembers every match it was told of.
type clusterBot struct {
	t     testing.TB
	c     *Client
	m     *Match
	nc    *netcode.Client
	snaps atomic.Int64
	wg    sync.WaitGroup
}

// newBot dials nodes[i] as a fresh guest, with the other nodes to redial.
func newBot(t testing.TB, ctx context.Context, nodes []*testNode, i int, name string) *clusterBot {
	t.Helper()
	var others []string
	for j := range nodes {
		if k := (i + j + 1) % len(nodes); k != i {
			others = append(others, nodes[k].url)
		}
	}
	return newBotAt(t, ctx, nodes[i].url, others, name)
}

// newBotAt dials the lobby at url, with others to redial.
func newBotAt(t testing.TB, ctx context.Context, url string, others []string, name string) *clusterBot {
	t.Helper()
	tok, err := GuestToken(ctx, url, name)
	if err != nil {
		t.Fatalf("GuestToken: %v", err)
	}
	c, err := Dial(ctx, url, tok, &ClientConfig{Lobbies: others, ReconnectAttempts: 20})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	b := &clusterBot{t: t, c: c}
	t.Cleanup(b.close)
	return b
}

func (b *clusterBot) close() {
	if b.nc != nil {
		_ = b.nc.Close()
	}
	_ = b.c.Close()
	b.wg.Wait()
}

// play waits for the bot's match, opens its channels to the game server
// (again, if a handshake fails, while the seat lasts) and counts the room's
// snapshots until the connection ends.
func (b *clusterBot) play(ctx context.Context) error {
	m, err := b.c.WaitMatch(ctx)
	if err != nil {
		return fmt.Errorf("%s: wait match: %w", b.c.Player(), err)
	}
	b.m = m
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		b.nc, err = b.c.Connect(cctx, m, nil)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: connect to %s: %w", b.c.Player(), m.Room, err)
		}
	}
	nc := b.nc
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			s, err := nc.ReadSnapshot(ctx)
			if err != nil {
				return
			}
			if string(s.Payload) == m.Room {
				b.snaps.Add(1)
			}
		}
	}()
	return nil
}

// waitSnaps waits for n more snapshots of the bot's room.
func (b *clusterBot) waitSnaps(ctx context.Context, n int64) error {
	want := b.snaps.Load() + n
	for b.snaps.Load() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d snapshots of room %s, waited for %d", b.c.Player(), b.snaps.Load(), b.m.Room, want)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// echo checks the reliable channel both ways.
func (b *clusterBot) echo(ctx context.Context) error {
	msg := "hello from " + b.c.Player()
	if err := b.nc.SendEvent([]byte(msg)); err != nil {
		return err
	}
	ev, err := b.nc.ReadEvent(ctx)
	if err != nil || string(ev) != "echo:"+msg {
		return fmt.Errorf("%s: event %q, %v; want the echo", b.c.Player(), ev, err)
	}
	return nil
}

// extraMatch reports a match the bot was told of beyond its one.
func (b *clusterBot) extraMatch() *Match {
	select {
	case m := <-b.c.matches:
		return m
	default:
		return nil
	}
}

// clusterGames runs the game of e2e_test.go on each game server.
type clusterGames struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	games  map[*GameServer]*game
}

func runGames(ctx context.Context, gss ...*GameServer) *clusterGames {
	ctx, cancel := context.WithCancel(ctx)
	g := &clusterGames{cancel: cancel, games: map[*GameServer]*game{}}
	for _, gs := range gss {
		gm := &game{players: map[string]*Player{}, inputs: map[string]int{}}
		g.games[gs] = gm
		g.wg.Add(1)
		go runGame(ctx, gs, gm, &g.wg)
	}
	return g
}

func (g *clusterGames) stop() {
	g.cancel()
	g.wg.Wait()
}

// TestClusterEndToEnd: three lobby nodes sharing a Redis, two game servers
// (one in the process of the first node, one remote on the third), forty
// players queueing through random nodes: every player is matched exactly
// once, into full rooms on both game servers, plays (snapshots and events,
// its signaling crossing nodes), and leaves; then the lobby holds nothing.
func TestClusterEndToEnd(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 120*time.Second)
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}},
		GameServerKey: "test-key-0123456789",
		// Every bot comes from 127.0.0.1.
		IPMessageRate: 1e4, IPMessageBurst: 1e4, MaxConnsPerIP: 100,
	})
	nodes := []*testNode{o.node(t), o.node(t), o.node(t)}
	const players, capacity = 40, 20 // 10 rooms of 4: both servers full
	local, err := nodes[0].srv.AttachGameServer(ctx, newNetcodeServer(t), &GameServerConfig{Name: "local", Capacity: capacity})
	if err != nil {
		t.Fatalf("AttachGameServer: %v", err)
	}
	defer local.Close()
	remote, err := DialGameServer(ctx, nodes[2].url, newNetcodeServer(t), &GameServerConfig{Name: "remote", Capacity: capacity,
		Key: "test-key-0123456789", Lobbies: []string{nodes[0].url, nodes[1].url}})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer remote.Close()
	games := runGames(ctx, local, remote)
	defer games.stop()

	bots := make([]*clusterBot, players)
	errs := make(chan error, players)
	for i := range bots {
		bots[i] = newBot(t, ctx, nodes, rand.IntN(len(nodes)), fmt.Sprintf("bot%d", i))
	}
	for i, b := range bots {
		go func() {
			errs <- func() error {
				if _, err := b.c.Queue(ctx, "squad", "", 1000+float64(i)); err != nil {
					return err
				}
				if err := b.play(ctx); err != nil {
					return err
				}
				if err := b.waitSnaps(ctx, 5); err != nil {
					return err
				}
				return b.echo(ctx)
			}()
		}()
	}
	for range bots {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	rooms := map[string]map[string]bool{}
	servers := map[string]string{}
	for _, b := range bots {
		if rooms[b.m.Room] == nil {
			rooms[b.m.Room] = map[string]bool{}
		}
		rooms[b.m.Room][b.c.Player()] = true
		servers[b.m.Room] = b.m.Server
		if m := b.extraMatch(); m != nil {
			t.Errorf("player %s matched twice: %s and %s", b.c.Player(), b.m.Room, m.Room)
		}
	}
	if len(rooms) != players/4 {
		t.Errorf("%d players in %d rooms, want %d rooms", players, len(rooms), players/4)
	}
	perServer := map[string]int{}
	for room, ps := range rooms {
		if len(ps) != 4 {
			t.Errorf("room %s has %d players, want 4", room, len(ps))
		}
		perServer[servers[room]]++
	}
	if perServer[local.ID()] == 0 || perServer[remote.ID()] == 0 {
		t.Errorf("rooms per game server %v, want some on each of %s and %s", perServer, local.ID(), remote.ID())
	}
	// Each game server had exactly its rooms' players, each once.
	for gs, g := range games.games {
		g.mu.Lock()
		for pid, p := range g.players {
			if servers[p.Room] != gs.ID() {
				t.Errorf("player %s of room %s showed up on %s", pid, p.Room, gs.ID())
			}
		}
		g.mu.Unlock()
	}
	var accepted int
	for _, g := range games.games {
		g.mu.Lock()
		accepted += len(g.players)
		g.mu.Unlock()
	}
	if accepted != players {
		t.Errorf("game servers accepted %d players, want %d", accepted, players)
	}

	for _, n := range nodes {
		m := n.srv.Metrics()
		t.Logf("node: relayed %d refused %d dropped %d", m.SignalsRelayed, m.SignalsRefused, m.SignalsDropped)
	}
	// Half leave through the lobby, half by ending their sessions.
	for i, b := range bots {
		if i%2 == 0 {
			if err := b.c.Leave(ctx); err != nil {
				t.Fatalf("leave: %v", err)
			}
		} else {
			_ = b.nc.Close()
		}
	}
	waitFor(t, 20*time.Second, "the lobby to hold nothing", func() bool {
		st := nodes[1].srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0
	})
}

// errOf returns the error code of err, or "".
func errOf(err error) string {
	var le *Error
	if errors.As(err, &le) {
		return le.Code
	}
	return ""
}

// waitNotice waits for b's next notice of type typ (and room, if not
// empty), skipping others.
func (b *clusterBot) waitNotice(ctx context.Context, typ, room string) error {
	for {
		select {
		case n := <-b.c.Notices():
			if n.Type == typ && (room == "" || n.Room == room) {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: no %q notice", b.c.Player(), typ)
		}
	}
}

// TestClusterNodeDies: of three lobby nodes, one dies while its players
// wait in the queue, another while its players and game server play. The
// players redial the surviving nodes and find their queue place or their
// seat; the game server registers again through another node and keeps its
// id, rooms and players; games never stop; nobody is matched twice; and
// the lobby goes on matching and cleaning up.
func TestClusterNodeDies(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 120*time.Second)
	const key = "test-key-0123456789"
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}},
		GameServerKey: key,
		IPMessageRate: 1e4, IPMessageBurst: 1e4, MaxConnsPerIP: 100,
	})
	o.rcfg.NodeTTL = time.Second // a dead node is noticed in a second
	a, b, c := o.node(t), o.node(t), o.node(t)
	nodes := []*testNode{a, b, c}
	gs2, err := DialGameServer(ctx, c.url, newNetcodeServer(t), &GameServerConfig{Name: "gs2", Capacity: 8, Key: key,
		Lobbies: []string{a.url, b.url}})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gs2.Close()
	var all []*clusterBot
	queue := func(node int, n int, name string) []*clusterBot {
		var bots []*clusterBot
		for i := range n {
			bt := newBot(t, ctx, nodes, node, fmt.Sprintf("%s%d", name, i))
			if _, err := bt.c.Queue(ctx, "squad", "", 1000); err != nil {
				t.Fatalf("queue: %v", err)
			}
			bots = append(bots, bt)
		}
		all = append(all, bots...)
		return bots
	}
	play := func(bots []*clusterBot) {
		t.Helper()
		errs := make(chan error, len(bots))
		for _, bt := range bots {
			go func() {
				if err := bt.play(ctx); err != nil {
					errs <- err
					return
				}
				errs <- bt.waitSnaps(ctx, 5)
			}()
		}
		for range bots {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}

	// Mid-queue: three players wait on A, one short of a room; A leads
	// their bucket's matchmaking, and is the janitor; A dies.
	games := runGames(ctx, gs2)
	defer func() { games.stop() }()
	b.follow(true)
	c.follow(true)
	waiting := queue(0, 3, "a")
	waitFor(t, 10*time.Second, "three tickets queued", func() bool { return c.srv.Stats().Queued == 3 })
	waitFor(t, 10*time.Second, "A to lead", func() bool { return a.leads(t, "squad", "") && a.janitor(t) })
	a.kill()
	b.follow(false)
	for _, bt := range waiting {
		if err := bt.waitNotice(ctx, noticeReconnected, ""); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.srv.Stats(); st.Queued != 3 {
		t.Fatalf("after node A died, %d tickets queued, want the 3 of its players", st.Queued)
	}
	// A fourth player through B completes their room: on gs2, the only one.
	play(append(waiting, queue(1, 1, "b")...))

	// Mid-match: a game server linked to B, and four players through B
	// playing on it; B dies.
	gs1, err := DialGameServer(ctx, b.url, newNetcodeServer(t), &GameServerConfig{Name: "gs1", Capacity: 8, Key: key,
		Lobbies: []string{c.url, a.url}})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gs1.Close()
	games.stop()
	games = runGames(ctx, gs1, gs2)
	waitFor(t, 10*time.Second, "B to be the janitor", func() bool { return b.janitor(t) })
	madeB, madeC := b.srv.Metrics().MatchesMade, c.srv.Metrics().MatchesMade
	playing := queue(1, 4, "p")
	play(playing)
	// B led the bucket: its lease goes once the queue is empty, so ask
	// who made the match.
	if mb, mc := b.srv.Metrics().MatchesMade-madeB, c.srv.Metrics().MatchesMade-madeC; mb != 1 || mc != 0 {
		t.Fatalf("B made %d matches and C %d, want B the one", mb, mc)
	}
	for _, bt := range playing {
		if bt.m.Server != gs1.ID() {
			t.Fatalf("room %s on %s, want gs1 (%s), the least loaded", bt.m.Room, bt.m.Server, gs1.ID())
		}
	}
	gs1ID := gs1.ID()
	b.kill()
	c.follow(false)
	for _, bt := range playing {
		// The game does not need the lobby: it plays on meanwhile.
		if err := bt.waitSnaps(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if err := bt.waitNotice(ctx, noticeReconnected, ""); err != nil {
			t.Fatal(err)
		}
		if err := bt.waitNotice(ctx, noticeMatch, bt.m.Room); err != nil {
			t.Fatalf("after B died: %v (the seat's reminder)", err)
		}
	}
	waitFor(t, 20*time.Second, "gs1 linked again", func() bool { return gs1.Linked() })
	if gs1.ID() != gs1ID {
		t.Fatalf("gs1 registered again as %s, want its registration %s resumed", gs1.ID(), gs1ID)
	}
	for _, bt := range playing {
		if err := bt.echo(ctx); err != nil {
			t.Fatal(err)
		}
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	// Leaving goes through C to gs1, which closes their sessions.
	for _, bt := range playing {
		if err := bt.c.Leave(ctx); err != nil {
			t.Fatalf("leave after B died: %v", err)
		}
		select {
		case <-bt.nc.Done():
		case <-ctx.Done():
			t.Fatal("session not closed after leaving: gs1 was not told")
		}
	}

	// The lobby goes on: four more players through C play.
	play(queue(2, 4, "c"))
	for _, bt := range all {
		if m := bt.extraMatch(); m != nil {
			t.Errorf("player %s matched twice: %s and %s", bt.c.Player(), bt.m.Room, m.Room)
		}
		_ = bt.c.Leave(ctx)
	}
	waitFor(t, 20*time.Second, "the lobby to hold nothing", func() bool {
		st := c.srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0 && st.GameServers == 2 && st.GameServersDown == 0
	})
}

// duelWorker plays duels in a loop through random nodes until stop: a
// fresh guest each round queues, plays a few snapshots' worth, and leaves.
// What the lobby refuses (unavailable) or loses, it tries again.
func duelWorker(ctx context.Context, stop <-chan struct{}, nodes []*testNode, rounds *atomic.Int64) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		func() {
			i := rand.IntN(len(nodes))
			tok, err := GuestToken(ctx, nodes[i].url, "worker")
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				return
			}
			var others []string
			for j, n := range nodes {
				if j != i {
					others = append(others, n.url)
				}
			}
			c, err := Dial(ctx, nodes[i].url, tok, &ClientConfig{Lobbies: others})
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				return
			}
			defer c.Close()
			if _, err := c.Queue(ctx, "duel", "", 1000); err != nil {
				time.Sleep(50 * time.Millisecond)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			m, err := c.WaitMatch(wctx)
			if err != nil {
				return // no partner (it was refused, or lost with the store)
			}
			nc, err := c.Connect(wctx, m, nil)
			if err != nil {
				return
			}
			defer nc.Close()
			for n := 0; n < 3; {
				s, err := nc.ReadSnapshot(wctx)
				if err != nil {
					return
				}
				if string(s.Payload) == m.Room {
					n++
				}
			}
			rounds.Add(1)
			_ = c.Leave(wctx)
		}()
	}
}

// TestClusterRedisRestart: Redis dies under load, losing everything it
// held, and comes back empty. Meanwhile the lobby refuses new work with
// unavailable (and /readyz says so) while the games already running play
// on. Back, it recovers by itself: its nodes assert their connections
// again, tell the players whose queue or room the store lost, have the
// game server register again, and take new work.
func TestClusterRedisRestart(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 120*time.Second)
	const key = "test-key-0123456789"
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}},
		GameServerKey: key,
		IPMessageRate: 1e4, IPMessageBurst: 1e4, MaxConnsPerIP: 200,
	})
	nodes := []*testNode{o.node(t), o.node(t)}
	gs, err := DialGameServer(ctx, nodes[0].url, newNetcodeServer(t), &GameServerConfig{Name: "gs", Capacity: 64, Key: key,
		Lobbies: []string{nodes[1].url}})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gs.Close()
	games := runGames(ctx, gs)
	defer games.stop()

	// Two players playing, one waiting for a partner.
	var players []*clusterBot
	for i := range 2 {
		bt := newBot(t, ctx, nodes, i, fmt.Sprint("p", i))
		if _, err := bt.c.Queue(ctx, "duel", "", 1000); err != nil {
			t.Fatal(err)
		}
		players = append(players, bt)
	}
	for _, bt := range players {
		if err := bt.play(ctx); err != nil {
			t.Fatal(err)
		}
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	waiting := newBot(t, ctx, nodes, 1, "w")
	if _, err := waiting.c.Queue(ctx, "duel", "", 5000); err != nil {
		t.Fatal(err)
	}
	// And load: workers playing duels through both nodes.
	var rounds atomic.Int64
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for range 4 {
		workers.Add(1)
		go func() { defer workers.Done(); duelWorker(ctx, stop, nodes, &rounds) }()
	}
	defer func() { close(stop); workers.Wait() }()
	waitFor(t, 30*time.Second, "the workers to play", func() bool { return rounds.Load() >= 4 })
	oldID := gs.ID()

	r.Stop()
	// No new work: a new player is refused at hello, a request of a
	// connected one is refused; /readyz says why.
	tok, err := GuestToken(ctx, nodes[0].url, "late")
	if err != nil {
		t.Fatalf("guest tokens need no store: %v", err)
	}
	waitFor(t, 10*time.Second, "hello refused with unavailable", func() bool {
		c, err := Dial(ctx, nodes[0].url, tok, nil)
		if err == nil {
			_ = c.Close()
			t.Fatal("a hello went through while Redis was down")
		}
		if strings.Contains(err.Error(), strings.TrimPrefix(r.URL(), "unix://")) {
			t.Errorf("hello refused with %v: the client is told where Redis is", err)
		}
		return errors.Is(err, ErrUnavailable)
	})
	if _, err := waiting.c.Rooms(ctx, "duel"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("rooms while Redis is down: %v, want unavailable", err)
	}
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "readyz to say unavailable", func() bool { return n.srv.Readiness().StoreDown })
	}
	if m := nodes[0].srv.Metrics(); !m.StoreDown || m.Unavailable == 0 {
		t.Errorf("metrics while Redis is down: store down %v, %d refused; want down and some refused", m.StoreDown, m.Unavailable)
	}
	// The games play on.
	for _, bt := range players {
		if err := bt.waitSnaps(ctx, 10); err != nil {
			t.Fatalf("while Redis is down: %v", err)
		}
	}

	r.Restart()
	// Back, empty: the players whose queue or room it lost are told.
	if err := waiting.waitLeft(ctx, "", ReasonLost); err != nil {
		t.Fatal(err)
	}
	for _, bt := range players {
		if err := bt.waitLeft(ctx, bt.m.Room, ReasonLost); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		waitFor(t, 20*time.Second, "readyz to say ready", func() bool { return n.srv.Readiness().Ready })
	}
	// The lobby lost its registration: it registered again, as a new server.
	waitFor(t, 20*time.Second, "the game server registered again", func() bool { return gs.Linked() && gs.ID() != oldID })
	// New work goes through, and the old games still play.
	was := rounds.Load()
	waitFor(t, 30*time.Second, "the workers to play again", func() bool { return rounds.Load() >= was+4 })
	for _, bt := range players {
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatalf("after Redis came back: %v", err)
		}
	}
	if _, err := waiting.c.Queue(ctx, "duel", "", 5000); err != nil {
		t.Fatalf("queue again after Redis came back: %v", err)
	}
}

// waitLeft waits for a left notice of room (empty: a queue) with reason.
func (b *clusterBot) waitLeft(ctx context.Context, room, reason string) error {
	for {
		select {
		case n := <-b.c.Notices():
			if n.Type == "left" && n.Room == room && n.Reason == reason {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: no left notice for %q with reason %s", b.c.Player(), room, reason)
		}
	}
}

// TestClusterRollingRestart: a node shut down for a deploy hands over its
// players and game server at once: its queued player keeps its place, its
// playing players their seats, its game server its registration, through
// the other node; a node started in its place takes part at once.
func TestClusterRollingRestart(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 60*time.Second)
	const key = "test-key-0123456789"
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}},
		GameServerKey: key,
	})
	a, b := o.node(t), o.node(t)
	nodes := []*testNode{a, b}
	gs, err := DialGameServer(ctx, a.url, newNetcodeServer(t), &GameServerConfig{Name: "gs", Capacity: 8, Key: key,
		Lobbies: []string{b.url}})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gs.Close()
	games := runGames(ctx, gs)
	defer games.stop()
	var playing []*clusterBot
	for i := range 2 {
		bt := newBot(t, ctx, nodes, 0, fmt.Sprint("p", i))
		if _, err := bt.c.Queue(ctx, "duel", "", 1000); err != nil {
			t.Fatal(err)
		}
		playing = append(playing, bt)
	}
	for _, bt := range playing {
		if err := bt.play(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waiting := newBot(t, ctx, nodes, 0, "w")
	if _, err := waiting.c.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatal(err)
	}
	id := gs.ID()

	a.close() // the deploy stops A
	for _, bt := range append(playing, waiting) {
		if err := bt.waitNotice(ctx, noticeReconnected, ""); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.srv.Stats(); st.Queued != 1 || st.Seats != 2 {
		t.Fatalf("after A stopped: %d tickets and %d seats, want the 1 and 2 of A's players", st.Queued, st.Seats)
	}
	waitFor(t, 10*time.Second, "the game server linked through B", func() bool { return gs.Linked() })
	if gs.ID() != id {
		t.Fatalf("game server registered again as %s, want %s resumed", gs.ID(), id)
	}
	for _, bt := range playing {
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	// A comes back as a new node: a player through it completes the duel.
	a2 := o.node(t)
	partner := newBotAt(t, ctx, a2.url, []string{b.url}, "partner")
	if _, err := partner.c.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatal(err)
	}
	for _, bt := range []*clusterBot{waiting, partner} {
		if err := bt.play(ctx); err != nil {
			t.Fatal(err)
		}
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	for _, bt := range append(playing, waiting, partner) {
		if err := bt.c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the lobby to hold nothing", func() bool {
		st := a2.srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0
	})
}

// TestClusterNodeStalls: a node that pauses past NodeTTL is taken for dead
// and its players and game server handed over, while its connections live
// on. Its players' requests still work, what it missed reaches them once it
// beats again (a match made meanwhile), and nothing is matched twice.
func TestClusterNodeStalls(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 60*time.Second)
	const key = "test-key-0123456789"
	o := newClusterOpts(t, r, Config{
		Modes:         map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}},
		GameServerKey: key,
	})
	o.rcfg.NodeTTL = time.Second
	a, b := o.node(t), o.node(t)
	nodes := []*testNode{a, b}
	a.follow(true) // b sweeps a
	gs, err := DialGameServer(ctx, a.url, newNetcodeServer(t), &GameServerConfig{Name: "gs", Capacity: 2, Key: key})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gs.Close()
	games := runGames(ctx, gs)
	defer games.stop()
	var playing []*clusterBot
	for i := range 2 {
		bt := newBot(t, ctx, nodes, 0, fmt.Sprint("p", i))
		if _, err := bt.c.Queue(ctx, "duel", "", 1000); err != nil {
			t.Fatal(err)
		}
		playing = append(playing, bt)
	}
	for _, bt := range playing {
		if err := bt.play(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A second game server, linked through b, for the match to come.
	gsb, err := DialGameServer(ctx, b.url, newNetcodeServer(t), &GameServerConfig{Name: "gsb", Capacity: 2, Key: key})
	if err != nil {
		t.Fatalf("DialGameServer: %v", err)
	}
	defer gsb.Close()
	gamesB := runGames(ctx, gsb)
	defer gamesB.stop()
	waiting := newBot(t, ctx, nodes, 0, "w")
	if _, err := waiting.c.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "b to be the janitor", func() bool { return b.janitor(t) })

	a.srv.eng.(*node).stalled.Store(true)
	nodeKey := a.store.key("node", a.srv.eng.(*node).id)
	waitFor(t, 20*time.Second, "a taken for dead", func() bool {
		n, err := b.store.rdb.Exists(context.Background(), nodeKey).Result()
		return err == nil && n == 0 && b.srv.Stats().GameServersDown == 1
	})
	// Meanwhile a partner for the waiting player comes through b: they are
	// matched onto gsb (gs is in its grace), and the waiting player, whose
	// node the store takes for dead, is not told.
	partner := newBotAt(t, ctx, b.url, nil, "partner")
	if _, err := partner.c.Queue(ctx, "duel", "", 1000); err != nil {
		t.Fatal(err)
	}
	if err := partner.play(ctx); err != nil {
		t.Fatal(err)
	}
	if partner.m.Server != gsb.ID() {
		t.Fatalf("matched onto %s, want gsb %s", partner.m.Server, gsb.ID())
	}
	// a's players are still served: a request of one, on its live
	// connection, is answered.
	if _, err := playing[0].c.Rooms(ctx, ""); err != nil {
		t.Fatalf("a request through the stalled node: %v", err)
	}
	for _, bt := range playing {
		if err := bt.waitSnaps(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	a.srv.eng.(*node).stalled.Store(false)
	// Beating again, a gives its player the match it missed.
	if err := waiting.play(ctx); err != nil {
		t.Fatal(err)
	}
	if waiting.m.Room != partner.m.Room {
		t.Fatalf("matched into %s, its partner into %s", waiting.m.Room, partner.m.Room)
	}
	for _, bt := range []*clusterBot{waiting, partner} {
		if err := bt.waitSnaps(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the game server linked again", func() bool {
		st := b.srv.Stats()
		return st.GameServers == 2 && st.GameServersDown == 0
	})
	for _, bt := range append(playing, waiting, partner) {
		if m := bt.extraMatch(); m != nil {
			t.Errorf("player %s matched twice: %s and %s", bt.c.Player(), bt.m.Room, m.Room)
		}
		if err := bt.c.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the lobby to hold nothing", func() bool {
		st := b.srv.Stats()
		return st.Rooms == 0 && st.Seats == 0 && st.Queued == 0
	})
}

// TestProtocolOnRedis runs the lobby's protocol tests with its state in
// Redis: store.lua must do what the hub does, message for message. (Every
// test of the package runs so with TICKWIRE_TEST_STORE=redis.)
func TestProtocolOnRedis(t *testing.T) {
	startRedis(t) // skips, or fails under CI=true, without redis-server
	redisLobbies.Store(true)
	defer redisLobbies.Store(false)
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{"BadInput", TestBadInput}, {"LobbyEndToEnd", TestLobbyEndToEnd}, {"GameServerReattachAfterGrace", TestGameServerReattachAfterGrace},
		{"SeatExpires", TestSeatExpires}, {"PrivateAndPublicRooms", TestPrivateAndPublicRooms},
		{"PartiesStayTogether", TestPartiesStayTogether}, {"LeaderLeavesQueue", TestLeaderLeavesQueue}, {"Backfill", TestBackfill},
		{"NoServer", TestNoServer}, {"GameServerLost", TestGameServerLost}, {"ReconnectWhileSeated", TestReconnectWhileSeated},
		{"Shutdown", TestShutdown}, {"GameServerNotAccepting", TestGameServerNotAccepting}, {"LobbyReconnect", TestLobbyReconnect},
		{"GameSurvivesLobbyCut", TestGameSurvivesLobbyCut}, {"ConnectedOnWelcome", TestConnectedOnWelcome},
		{"GameResumesThroughLobby", TestGameResumesThroughLobby},
	} {
		t.Run(tt.name, tt.test)
	}
}

// TestClusterRedisRefuses: a Redis that answers but refuses to serve (out
// of memory, a replica after a failover) is an outage, not a bug: the
// lobby refuses new work with unavailable, /readyz says so, and it comes
// back by itself when Redis serves again.
func TestClusterRedisRefuses(t *testing.T) {
	r := startRedis(t)
	ctx := ctxTimeout(t, 120*time.Second)
	o := newClusterOpts(t, r, Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	n := o.node(t)
	admin := redis.NewClient(&redis.Options{Network: "unix", Addr: strings.TrimPrefix(r.URL(), "unix://"), MaxRetries: -1})
	defer admin.Close()
	// A primary that does not answer, for the replica to wait for.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	primary := ln.Addr().(*net.TCPAddr)
	cases := []struct {
		name       string
		fault, fix []any
	}{
		{"out of memory", []any{"config", "set", "maxmemory", "1"}, []any{"config", "set", "maxmemory", "0"}},
		{"read-only replica", []any{"replicaof", "127.0.0.1", fmt.Sprint(primary.Port)}, []any{"replicaof", "no", "one"}},
	}
	p := guest(t, ctx, n.url, "p")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := admin.Do(ctx, tc.fault...).Err(); err != nil {
				t.Fatalf("%v: %v", tc.fault, err)
			}
			waitFor(t, 10*time.Second, "readyz to say unavailable", func() bool { return n.srv.Readiness().StoreDown })
			if _, err := p.Rooms(ctx, "duel"); !errors.Is(err, ErrUnavailable) {
				t.Errorf("rooms: %v, want unavailable", err)
			}
			tok, err := GuestToken(ctx, n.url, "late")
			if err != nil {
				t.Fatalf("guest tokens need no store: %v", err)
			}
			if c, err := Dial(ctx, n.url, tok, nil); !errors.Is(err, ErrUnavailable) {
				if c != nil {
					_ = c.Close()
				}
				t.Errorf("hello: %v, want unavailable", err)
			} else if strings.Contains(err.Error(), r.URL()[len("unix://"):]) {
				t.Errorf("hello: %v: the client is told where Redis is", err)
			}
			if m := n.srv.Metrics(); !m.StoreDown {
				t.Error("metrics: the store is not down")
			}

			if err := admin.Do(ctx, tc.fix...).Err(); err != nil {
				t.Fatalf("%v: %v", tc.fix, err)
			}
			waitFor(t, 20*time.Second, "readyz to say the store is back", func() bool { return !n.srv.Readiness().StoreDown })
			if _, err := p.Rooms(ctx, "duel"); err != nil {
				t.Errorf("rooms after Redis serves again: %v", err)
			}
			guest(t, ctx, n.url, "again")
		})
	}
}

// TestRedisStoreOneServer: a RedisStore serves one Server; one whose
// Server could not start (Redis down) can serve the next.
func TestRedisStoreOneServer(t *testing.T) {
	r := startRedis(t)
	st, err := NewRedisStore(context.Background(), RedisConfig{URL: r.URL(), Prefix: "one", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, err := NewGuests(&GuestsConfig{Secret: []byte("cluster-test-secret-0123456789"), Nonces: st})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}, Store: st, Auth: g}
	r.Stop()
	if srv, err := NewServer(&cfg); err == nil {
		_ = srv.Close()
		t.Fatal("NewServer with Redis down: no error")
	}
	r.Restart()
	srv, err := NewServer(&cfg)
	if err != nil {
		t.Fatalf("NewServer once Redis is back: %v", err)
	}
	defer srv.Close()
	if srv2, err := NewServer(&cfg); !errors.Is(err, ErrInvalidConfig) {
		if err == nil {
			_ = srv2.Close()
		}
		t.Fatalf("a second Server on one RedisStore: %v, want ErrInvalidConfig", err)
	}
}
