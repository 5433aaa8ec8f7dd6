//go:build !js

package lobby

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// benchLobby is a lobby for the benchmarks of issue 18: one node in
// memory ("memory"), one node on Redis ("redis-1") or three nodes on one
// Redis ("redis-3"). Every player and game server comes from 127.0.0.1,
// so the per-address limits are lifted.
type benchLobby struct {
	urls []string
	srvs []*Server
}

var benchModes = []string{"memory", "redis-1", "redis-3"}

func newBenchLobby(b *testing.B, mode string, cfg Config) *benchLobby {
	b.Helper()
	cfg.IPMessageRate, cfg.IPMessageBurst, cfg.MaxConnsPerIP, cfg.MaxTCPConnsPerIP = 1e9, 1e9, 1<<20, 1<<20
	cfg.MessageRate, cfg.MessageBurst = 1e9, 1e9
	cfg.SignalRate, cfg.SignalBurst, cfg.RoomSignalRate, cfg.RoomSignalBurst = 1e9, 1e9, 1e9, 1e9
	cfg.GameServerKey, cfg.MaxServerCapacity = "bench-key-0123456789", 1<<20
	l := &benchLobby{}
	if mode == "memory" {
		srv, url := testLobby(b, &cfg)
		l.urls, l.srvs = []string{url}, []*Server{srv}
		return l
	}
	n := 1
	if mode == "redis-3" {
		n = 3
	}
	o := newClusterOpts(b, startRedis(b), cfg)
	for range n {
		node := o.node(b)
		l.urls, l.srvs = append(l.urls, node.url), append(l.srvs, node.srv)
	}
	return l
}

// BenchmarkMatchRate measures how many tickets a lobby matches per second,
// over its protocol: 400 players connected through its nodes (in turn)
// queue for rooms of four at once, and the clock runs until the last has
// its match. No WebRTC: matchmaking, placement and the messages around it.
//
//	go test -run '^$' -bench MatchRate -benchtime 5x ./lobby/
func BenchmarkMatchRate(b *testing.B) {
	const players = 400
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			l := newBenchLobby(b, mode, Config{Modes: map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}}})
			ctx := ctxTimeout(b, 10*time.Minute)
			for i := range l.srvs {
				gs, err := DialGameServer(ctx, l.urls[i], newNetcodeServer(b), &GameServerConfig{Capacity: players,
					Key: "bench-key-0123456789"})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = gs.Close() })
			}
			matched := 0
			for b.Loop() {
				b.StopTimer()
				clients := make([]*Client, players)
				for i := range clients {
					clients[i] = guestAt(b, ctx, l.urls[i%len(l.urls)], "p", nil)
				}
				b.StartTimer()
				var wg sync.WaitGroup
				for i, c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := c.Queue(ctx, "squad", "", float64(i%50)); err != nil {
							b.Error(err)
							return
						}
						if _, err := c.WaitMatch(ctx); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				matched += players
				for _, c := range clients {
					_ = c.Leave(ctx)
					_ = c.Close()
				}
				waitFor(b, time.Minute, "rooms cleaned up", func() bool { return l.srvs[0].Stats().Rooms == 0 })
				b.StartTimer()
			}
			b.ReportMetric(float64(matched)/b.Elapsed().Seconds(), "tickets/s")
		})
	}
}

// BenchmarkClusterJoinToOpen is BenchmarkJoinToOpen in each mode: two
// players queue and the clock runs until both have both netcode channels
// open to the game server they were placed on. On three nodes the two
// players and the game server are each on another node, so every signal
// crosses nodes. p50 and p99 in ms.
//
//	go test -run '^$' -bench ClusterJoinToOpen -benchtime 100x ./lobby/
func BenchmarkClusterJoinToOpen(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			l := newBenchLobby(b, mode, Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			gs, err := DialGameServer(ctx, l.urls[len(l.urls)-1], newNetcodeServer(b), &GameServerConfig{Capacity: 1 << 16,
				Key: "bench-key-0123456789"})
			if err != nil {
				b.Fatal(err)
			}
			defer gs.Close()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := gs.Accept(ctx); err != nil {
						return
					}
				}
			}()
			joinToOpen(b, ctx, func() []*Client {
				return []*Client{guestAt(b, ctx, l.urls[0], "a", nil), guestAt(b, ctx, l.urls[min(1, len(l.urls)-1)], "b", nil)}
			})
		})
	}
}

// BenchmarkSignalRelay measures one signal's way from a player to its
// game server through the lobby: the player sends a candidate on its
// WebSocket, and the clock stops when the game server reads it from its
// own. Both are bare WebSockets in this process, so one clock times both
// ends. "redis-3" puts the player and the game server on different nodes:
// the signal crosses from one node to another through Redis; "redis-1"
// keeps them on one node. p50 and p99 in microseconds.
//
//	go test -run '^$' -bench SignalRelay -benchtime 2000x ./lobby/
func BenchmarkSignalRelay(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode, func(b *testing.B) {
			l := newBenchLobby(b, mode, Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
			ctx := ctxTimeout(b, 10*time.Minute)
			gsWS := dialBench(b, ctx, l.urls[len(l.urls)-1], "/v1/server")
			writeBench(b, ctx, gsWS, `{"type":"register","v":1,"key":"bench-key-0123456789","capacity":64}`)
			readBench(b, ctx, gsWS, proto.TypeRegistered)
			tok, err := GuestToken(ctx, l.urls[0], "p")
			if err != nil {
				b.Fatal(err)
			}
			pl := dialBench(b, ctx, l.urls[0], "/v1/play")
			writeBench(b, ctx, pl, `{"type":"hello","v":1,"token":"`+tok+`"}`)
			readBench(b, ctx, pl, proto.TypeWelcome)
			writeBench(b, ctx, pl, `{"type":"room.create","id":"1","mode":"duel"}`)
			var m proto.Match
			json.Unmarshal(readBench(b, ctx, pl, proto.TypeMatch), &m)
			readBench(b, ctx, gsWS, proto.TypeSeat)

			var lat []time.Duration
			for i := 0; b.Loop(); i++ {
				seq := strconv.Itoa(i)
				start := time.Now()
				writeBench(b, ctx, pl, `{"type":"signal","room":"`+m.Room+`","seat":"`+m.Seat+
					`","signal":{"type":"candidate","candidate":{"candidate":"candidate:`+seq+` 1 udp 1 127.0.0.1 9 typ host"}}}`)
				got := readBench(b, ctx, gsWS, proto.TypeSignal)
				lat = append(lat, time.Since(start))
				if !strings.Contains(string(got), "candidate:"+seq+" ") {
					b.Fatalf("signal %s relayed as %s", seq, got)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
		})
	}
}

func dialBench(b *testing.B, ctx context.Context, url, path string) *websocket.Conn {
	b.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+path, &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func writeBench(b *testing.B, ctx context.Context, ws *websocket.Conn, msg string) {
	if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		b.Fatal(err)
	}
}

// readBench reads until a message of type typ, and returns it.
func readBench(b *testing.B, ctx context.Context, ws *websocket.Conn, typ string) []byte {
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		var env proto.Envelope
		_ = json.Unmarshal(msg, &env)
		if env.Type == typ {
			return msg
		}
		if env.Type == proto.TypeError {
			b.Fatalf("waiting for %s: %s", typ, msg)
		}
	}
}
