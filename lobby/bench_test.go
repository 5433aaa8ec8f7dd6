//go:build !js

package lobby

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// BenchmarkJoinToOpen measures, on loopback, the time from two players
// sending "queue" to both having both netcode channels open to the game
// server the lobby placed them on: matchmaking, placement, brokered
// signaling and the WebRTC handshake. Reported as p50/p99 in ms.
//
//	go test -run '^$' -bench JoinToOpen -benchtime 50x ./lobby/
func BenchmarkJoinToOpen(b *testing.B) {
	// All players come from 127.0.0.1: lift the per-IP budget.
	srv, url := testLobby(b, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}, IPMessageRate: 1e6, IPMessageBurst: 1e6})
	gs := attach(b, srv, 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			p, err := gs.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				<-p.Session.Done()
			}()
		}
	}()
	defer wg.Wait()
	defer cancel()

	joinToOpen(b, ctx, func() []*Client { return []*Client{guest(b, ctx, url, "a"), guest(b, ctx, url, "b")} })
}

// joinToOpen times, per b.Loop iteration, two new players (newPlayers,
// untimed) queueing for a duel until both have their channels open, and
// reports the p50 and p99.
func joinToOpen(b *testing.B, ctx context.Context, newPlayers func() []*Client) {
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		players := newPlayers()
		b.StartTimer()
		start := time.Now()
		var pw sync.WaitGroup
		errs := make(chan error, 2)
		for _, c := range players {
			pw.Add(1)
			go func() {
				defer pw.Done()
				if _, err := c.Queue(ctx, "duel", "", 1000); err != nil {
					errs <- err
					return
				}
				m, err := c.WaitMatch(ctx)
				if err != nil {
					errs <- err
					return
				}
				nc, err := c.Connect(ctx, m, nil)
				if err != nil {
					errs <- err
					return
				}
				b.Cleanup(func() { _ = nc.Close() })
			}()
		}
		pw.Wait()
		lat = append(lat, time.Since(start))
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		b.StopTimer()
		for _, c := range players {
			_ = c.Leave(ctx)
			_ = c.Close()
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkIdleConnection measures what one idle player connection costs:
// heap and goroutines once authenticated and doing nothing. The clients are
// bare WebSockets in the same process, so their side is included: the
// lobby's share is below the figure, not above it.
//
//	go test -run '^$' -bench IdleConnection -benchtime 1x ./lobby/
func BenchmarkIdleConnection(b *testing.B) {
	const n = 500
	iss, err := NewGuests(nil)
	if err != nil {
		b.Fatal(err)
	}
	srv, url := testLobby(b, &Config{Auth: iss, MaxConnsPerIP: n + 10, IPMessageRate: 1e6, IPMessageBurst: 1e6})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for b.Loop() {
		heap0, g0 := heapAndGoroutines()
		conns := make([]*websocket.Conn, 0, n)
		for i := range n {
			tok, _, err := iss.IssueToken(iss.NewGuest(fmt.Sprint("p", i)))
			if err != nil {
				b.Fatal(err)
			}
			ws, _, err := websocket.Dial(ctx, "ws"+url[len("http"):]+"/v1/play", &websocket.DialOptions{
				Subprotocols: []string{proto.Subprotocol}, HTTPClient: &http.Client{},
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"hello","v":1,"token":"`+tok+`"}`)); err != nil {
				b.Fatal(err)
			}
			if _, _, err := ws.Read(ctx); err != nil { // welcome
				b.Fatal(err)
			}
			conns = append(conns, ws)
		}
		waitFor(b, 10*time.Second, "all connected", func() bool { return srv.Stats().Connected == n })
		heap1, g1 := heapAndGoroutines()
		b.ReportMetric(float64(heap1-heap0)/n, "heap-B/conn")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/conn")
		for _, ws := range conns {
			_ = ws.CloseNow()
		}
		waitFor(b, 10*time.Second, "all gone", func() bool { return srv.Stats().Connected == 0 })
	}
}

func heapAndGoroutines() (uint64, int) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// BenchmarkHubMatchmaking measures matchmaking as the lobby runs it, in its
// one state goroutine, without the network: queue requests handled, tickets
// matched by mode and rating, rooms placed on game servers, seat messages to
// the servers and match messages to the players encoded and queued. 10,000
// players in parties of one queue in "squad" (4 players), ratings spread
// 0..3000, then matchmaking runs on a clock that advances 100 ms a tick.
//
//	go test -run '^$' -bench HubMatchmaking ./lobby/
func BenchmarkHubMatchmaking(b *testing.B) {
	const n = 10_000
	cfg, err := (&Config{Modes: map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}}}).resolve()
	if err != nil {
		b.Fatal(err)
	}
	// A connection that keeps nothing: what is sent is encoded and dropped
	// (a queue of 0 closes it at the first message, and a closed one drops).
	discard := func() *conn { return newConn(nil, "", 0) }
	var matched int
	for b.Loop() {
		b.StopTimer()
		h, err := newHub(cfg, newCounters())
		if err != nil {
			b.Fatal(err)
		}
		h.soon = time.NewTimer(time.Hour)
		h.attachServer(discard(), &proto.Register{Capacity: n, Region: ""}, true)
		players := make([]*player, n)
		for i := range players {
			c := discard()
			h.attachPlayer(c, Identity{Player: fmt.Sprint("p", i), Name: "bot"}, "", "", time.Time{})
			players[i] = c.player
		}
		now := time.Unix(1_800_000_000, 0)
		cfg.Now = func() time.Time { return now }
		b.StartTimer()
		for i, p := range players {
			h.queue(p, &proto.Queue{Mode: "squad", Rating: float64(i * 7919 % 3000)})
		}
		for tick := 0; len(h.tickets) > 0 && tick < 1000; tick++ {
			h.tick(now)
			now = now.Add(100 * time.Millisecond)
		}
		b.StopTimer()
		matched += n - len(h.tickets)
		h.soon.Stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(matched)/b.Elapsed().Seconds(), "tickets/s")
}
