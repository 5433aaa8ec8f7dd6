//go:build !js

package lobby

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// churnCyclesEnv sets how many players TestChurnSoak plays through the
// lobby; `make soak` sets it to 1000 or more.
const churnCyclesEnv = "TICKWIRE_CHURN_CYCLES"

// churnDefaultCycles is the count `make test` runs.
const churnDefaultCycles = 1000

// Leak tolerances, measured against a baseline taken after a warm-up: a
// leak of one goroutine, one file descriptor or a few KiB per cycle
// exceeds them many times over.
const (
	churnGoroutineSlack = 5
	churnFDSlack        = 5
	// The heap legitimately keeps a little per player: the used-nonce LRU
	// of guest tokens and the netcode server's spent resume tokens (both
	// bounded, by MaxUsed and 65536 entries).
	churnHeapPerCycle = 1 << 10
	churnHeapSlack    = 2 << 20
)

// TestChurnSoak: full players come and go through an in-process lobby and
// game server: each gets a guest token, dials the lobby, queues for a
// one-player mode, connects its netcode channels, receives a snapshot,
// has an event echoed, and leaves (through the lobby or by closing its
// game connection), several at a time. Afterwards the goroutines, file
// descriptors and heap are back to what they were after a warm-up, and
// the lobby holds no player, room or seat.
func TestChurnSoak(t *testing.T) {
	cycles := churnDefaultCycles
	if s := os.Getenv(churnCyclesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive count", churnCyclesEnv, s)
		}
		cycles = n
	}
	if testing.Short() {
		cycles = min(cycles, 50)
	}
	const workers = 8
	ctx := ctxTimeout(t, 15*time.Minute)
	srv, url := testLobby(t, &Config{
		Modes:        map[string]Mode{"solo": {MinPlayers: 1, MaxPlayers: 1}},
		TickInterval: 10 * time.Millisecond,
		// Every player comes from 127.0.0.1.
		MaxConnsPerIP: 4 * workers, IPMessageRate: 1e6, IPMessageBurst: 1e6,
	})
	ns := newNetcodeServer(t)
	gs, err := srv.AttachGameServer(ctx, ns, &GameServerConfig{Capacity: 4 * workers})
	if err != nil {
		t.Fatalf("AttachGameServer: %v", err)
	}
	stopGame := churnGame(ctx, gs, ns)
	defer func() {
		stopGame()
		_ = gs.Close()
	}()

	var failures atomic.Int32
	play := func(n int) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1))
					if i > n || ctx.Err() != nil || failures.Load() > 0 {
						return
					}
					if err := churnCycle(ctx, url, i); err != nil {
						if failures.Add(1) == 1 {
							t.Errorf("player %d: %v", i, err)
						}
						return
					}
				}
			})
		}
		wg.Wait()
		if failures.Load() > 0 {
			t.FailNow()
		}
	}

	play(2 * workers) // warm-up: pools, caches and lazily started goroutines
	base := churnSettle(t, srv, ns, nil)
	start := time.Now()
	play(cycles)
	elapsed := time.Since(start)
	end := churnSettle(t, srv, ns, &base)
	t.Logf("CHURN %d players (%d at a time) in %v, %.1f ms a player; after vs warm-up: goroutines %d -> %d, fds %d -> %d, heap %.1f -> %.1f MiB (%+d B a player)",
		cycles, workers, elapsed.Round(time.Millisecond), float64(elapsed.Milliseconds())/float64(cycles),
		base.goroutines, end.goroutines, base.fds, end.fds, float64(base.heap)/(1<<20), float64(end.heap)/(1<<20),
		(int64(end.heap)-int64(base.heap))/int64(cycles))
	if limit := base.heap + uint64(churnHeapSlack+churnHeapPerCycle*cycles); end.heap > limit {
		t.Errorf("heap grew from %d to %d bytes over %d players, limit %d: a leak", base.heap, end.heap, cycles, limit)
	}
}

// churnGame runs a small game on gs: a loop that, every 20 ms, echoes each
// player's events, drains its inputs and broadcasts a snapshot, and a loop
// that takes the players gs accepts. stop ends both and waits for them.
func churnGame(ctx context.Context, gs *GameServer, ns *netcode.Server) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, err := gs.Accept(ctx); err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var evs [][]byte
		var ins []netcode.Input
		for n := uint64(0); ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, s := range ns.Sessions() {
				evs = s.ReadEvents(evs[:0])
				for _, ev := range evs {
					_ = s.SendEvent(append([]byte("echo:"), ev...))
				}
				ins = s.ReadInputs(ins[:0])
			}
			_ = ns.Broadcast(strconv.AppendUint([]byte("tick "), n, 10))
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// churnCycle is one player's life, from guest token to goodbye.
func churnCycle(ctx context.Context, url string, i int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tok, err := GuestToken(ctx, url, fmt.Sprintf("churn%d", i))
	if err != nil {
		return fmt.Errorf("guest token: %w", err)
	}
	c, err := Dial(ctx, url, tok, nil)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if _, err := c.Queue(ctx, "solo", "", 0); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	m, err := c.WaitMatch(ctx)
	if err != nil {
		return fmt.Errorf("wait match: %w", err)
	}
	nc, err := c.Connect(ctx, m, nil)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	if snap, err := nc.ReadSnapshot(ctx); err != nil || !bytes.HasPrefix(snap.Payload, []byte("tick ")) {
		return fmt.Errorf("snapshot %q, %v", snap.Payload, err)
	}
	_ = nc.SendInput([]byte{1})
	msg := "hello from " + c.Player()
	if err := nc.SendEvent([]byte(msg)); err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	if ev, err := nc.ReadEvent(ctx); err != nil || string(ev) != "echo:"+msg {
		return fmt.Errorf("event %q, %v; want the echo", ev, err)
	}
	if i%2 == 0 {
		// Leave through the lobby, which closes the game connection.
		if err := c.Leave(ctx); err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		select {
		case <-nc.Done():
		case <-ctx.Done():
			return errors.New("game connection still open after leaving the room")
		}
		return nil
	}
	// Or close the game connection, which the game server reports.
	_ = nc.Close()
	return waitLeft(ctx, c, m.Room)
}

// churnUsage is what the process holds once the players are gone.
type churnUsage struct {
	goroutines, fds int
	heap            uint64
}

// churnSettle waits, boundedly, for the lobby and the game server to let go
// of every player and, with base, for goroutines and file descriptors to
// come back to it; then it measures.
func churnSettle(t *testing.T, srv *Server, ns *netcode.Server, base *churnUsage) churnUsage {
	t.Helper()
	waitFor(t, 30*time.Second, "the lobby and the game server to let go of every player", func() bool {
		st := srv.Stats()
		return st.Players == 0 && st.Connected == 0 && st.Queued == 0 && st.Rooms == 0 && st.Seats == 0 && len(ns.Sessions()) == 0
	})
	var u churnUsage
	measure := func() {
		// Keep-alive connections of GuestToken's client are a pool, not a leak.
		http.DefaultClient.CloseIdleConnections()
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		u = churnUsage{goroutines: runtime.NumGoroutine(), fds: openFDs(t), heap: ms.HeapAlloc}
	}
	measure()
	if base == nil {
		// The warm-up's last goroutines may still be ending: the baseline
		// is the count once it has held for half a second (or after 10 s).
		deadline, last, held := time.Now().Add(10*time.Second), u.goroutines, 0
		for held < 5 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if measure(); u.goroutines == last {
				held++
			} else {
				last, held = u.goroutines, 0
			}
		}
		return u
	}
	deadline := time.Now().Add(30 * time.Second)
	for u.goroutines > base.goroutines+churnGoroutineSlack || u.fds > base.fds+churnFDSlack {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("after the players left: %d goroutines (%d after the warm-up), %d file descriptors (%d): a leak\n%s",
				u.goroutines, base.goroutines, u.fds, base.fds, buf.String())
		}
		time.Sleep(100 * time.Millisecond)
		measure()
	}
	return u
}

// openFDs counts this process's open file descriptors (Linux), or -1.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
