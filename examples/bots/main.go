// Command bots runs a Tickwire game server and a few bot players in one
// process, to show the whole loop on one screen: the server ticks, reads
// inputs, moves players and broadcasts snapshots; bots send random moves,
// read snapshots and exchange reliable events with the server.
//
//	go run ./examples/bots -bots 3 -duration 10s -hz 30
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/netcode"
	"github.com/vmihailenco/msgpack/v5"
)

// Move is one input: a step of -1, 0 or +1 on each axis. On the wire it
// is two bytes, dx then dy. The server decodes whatever any player sends,
// so the plainer that format, the less a hostile one can make it do: a
// general decoder such as msgpack.Unmarshal allocates what a header
// claims before it finds the bytes missing (SECURITY.md).
type Move struct {
	DX, DY int8
}

func (m Move) encode() []byte { return []byte{byte(m.DX), byte(m.DY)} }

func decodeMove(b []byte) (Move, bool) {
	if len(b) != 2 {
		return Move{}, false
	}
	return Move{DX: int8(b[0]), DY: int8(b[1])}, true
}

// PlayerState is one player in a snapshot. as_array drops the field names
// from the encoding: a snapshot must fit in one datagram, so bytes count.
type PlayerState struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint16
	X, Y     int16
}

// Snapshot is the whole game state, sent to everyone every tick.
type Snapshot struct {
	Tick    uint32        `msgpack:"tick"`
	Players []PlayerState `msgpack:"players"`
}

const (
	arena = 100 // players stay within [-arena, arena] on both axes
	// maxBots keeps a snapshot well under netcode's default 1200-byte
	// limit (at most 10 bytes a player): one snapshot, one datagram. Bigger
	// games send each player only what is near it.
	maxBots = 64
)

func main() {
	bots := flag.Int("bots", 3, "number of bot players")
	duration := flag.Duration("duration", 10*time.Second, "how long to run (0 = until Ctrl-C)")
	hz := flag.Int("hz", 30, "server tick rate")
	flag.Parse()
	if *bots < 1 || *bots > maxBots || *hz < 1 || *hz > 1000 || *duration < 0 {
		fmt.Fprintf(os.Stderr, "need 1 <= -bots <= %d, 1 <= -hz <= 1000, -duration >= 0\n", maxBots)
		os.Exit(2)
	}
	if err := run(*bots, *duration, *hz); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(nbots int, duration time.Duration, hz int) error {
	// Ctrl-C (or the -duration timer) cancels ctx, and everything below
	// winds down from that one signal.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	// A loopback address keeps the demo off the network; a real server
	// would listen on ":0" or a fixed public port.
	srv, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	fmt.Printf("server listening on udp %s, ticking at %d Hz\n", srv.UDPAddr(), hz)

	// Each bot gets an in-memory signaling pipe instead of a lobby: one end
	// for srv.Accept, the other for netcode.Dial. The game loop learns of
	// new sessions through joins, so only it ever touches game state.
	joins := make(chan *netcode.Session, nbots)
	clients := make([]*netcode.Client, nbots)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range nbots {
		csig, ssig := netcode.SignalPipe()
		go func() {
			sess, err := srv.Accept(ctx, ssig)
			if err != nil {
				fmt.Println("server: accept failed:", err)
				return
			}
			joins <- sess
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i] = runBot(ctx, fmt.Sprintf("bot-%d", i+1), csig, hz)
		}()
	}

	players := gameLoop(ctx, joins, srv, hz, start)
	wg.Wait() // every bot has stopped sending and reading

	// Each end keeps its own counters: first the bots' view of the link,
	// then the server's.
	fmt.Printf("\nsummary after %v:\n", time.Since(start).Round(time.Millisecond))
	missing := 0
	for i, c := range clients {
		if c == nil {
			fmt.Printf("  bot-%d never connected\n", i+1)
			missing++
			continue
		}
		st := c.Stats()
		fmt.Printf("  bot-%d: %d inputs sent, %d snapshots received (%d lost, %d stale), rtt %v\n",
			i+1, st.InputsSent, st.SnapshotsReceived, st.Lost, st.SnapshotsStale, st.RTT.Round(time.Microsecond))
	}
	for _, p := range players {
		st := p.sess.Stats()
		fmt.Printf("  player %d (%s): ended at (%d, %d), %d snapshots sent, %d inputs received, %d events in / %d out\n",
			p.state.ID, p.name, p.state.X, p.state.Y, st.SnapshotsSent, st.InputsReceived, st.EventsReceived, st.EventsSent)
	}

	// Clients first, so each session ends with a normal close from its
	// player; Shutdown then closes the listener. Its timeout bounds how
	// long a stuck peer can hold up exit.
	for _, c := range clients {
		if c != nil {
			_ = c.Close()
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Println("server shut down cleanly")
	if missing > 0 {
		return fmt.Errorf("%d of %d bots did not connect", missing, nbots)
	}
	return nil
}

// player is the server's view of one connected player.
type player struct {
	sess  *netcode.Session
	name  string // what the client calls itself, for the log
	state PlayerState
}

// gameLoop is the authoritative server: on every tick it admits new players,
// answers their events, applies their inputs and broadcasts the result. It
// returns the players when ctx ends.
func gameLoop(ctx context.Context, joins <-chan *netcode.Session, srv *netcode.Server, hz int, start time.Time) []*player {
	var players []*player
	var nextID uint16
	tick := time.NewTicker(time.Second / time.Duration(hz))
	defer tick.Stop()
	report := time.NewTicker(time.Second)
	defer report.Stop()
	var snap Snapshot
	var inputs []netcode.Input // reused every tick: a tick loop should not allocate much
	var events [][]byte
	for {
		select {
		case <-ctx.Done():
			return players
		case sess := <-joins:
			nextID++
			players = append(players, &player{sess: sess, name: "?", state: PlayerState{ID: nextID}})
		case <-report.C:
			for _, p := range players {
				st := p.sess.Stats()
				fmt.Printf("[%4.1fs] player %d (%s): rtt %-7v snapshots sent %-4d inputs received %-4d loss %4.1f%%  bytes in %-6d out %d\n",
					time.Since(start).Seconds(), p.state.ID, p.name, st.RTT.Round(time.Microsecond),
					st.SnapshotsSent, st.InputsReceived, st.Loss*100, st.BytesIn, st.BytesOut)
			}
		case <-tick.C:
			players = slices.DeleteFunc(players, func(p *player) bool {
				if err := p.sess.Err(); err != nil {
					fmt.Printf("server: player %d left: %v\n", p.state.ID, err)
					return true
				}
				return false
			})
			snap.Tick++
			snap.Players = snap.Players[:0]
			for _, p := range players {
				// Events are reliable and ordered: here, the bot's hello.
				events = p.sess.ReadEvents(events[:0])
				for _, ev := range events {
					fmt.Printf("server: player %d says %q\n", p.state.ID, ev)
					p.name = strings.TrimPrefix(string(ev), "hello from ")
					_ = p.sess.SendEvent(fmt.Appendf(nil, "welcome, you are player %d", p.state.ID))
				}
				// Inputs are unreliable: apply whatever arrived since the
				// last tick, clamped, since the server never trusts a
				// client's idea of how far it may move.
				inputs = p.sess.ReadInputs(inputs[:0])
				for _, in := range inputs {
					m, ok := decodeMove(in.Payload)
					if !ok {
						continue // a malformed input is dropped, not fatal
					}
					s := &p.state
					s.X = clamp(s.X+int16(clamp(m.DX, -1, 1)), -arena, arena)
					s.Y = clamp(s.Y+int16(clamp(m.DY, -1, 1)), -arena, arena)
				}
				snap.Players = append(snap.Players, p.state)
			}
			b, err := msgpack.Marshal(&snap)
			if err == nil {
				// Broadcast never blocks: a congested player just misses
				// this snapshot and gets the next one.
				err = srv.Broadcast(b)
			}
			if err != nil {
				fmt.Println("server: broadcast:", err)
			}
		}
	}
}

// runBot connects one bot and plays until ctx ends. It returns the client
// (still open, for its stats) or nil if it could not connect.
func runBot(ctx context.Context, name string, sig netcode.Signaler, hz int) *netcode.Client {
	t0 := time.Now()
	dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := netcode.Dial(dialCtx, sig, nil)
	cancel()
	if err != nil {
		fmt.Printf("%s: connect failed: %v\n", name, err)
		return nil
	}
	fmt.Printf("%s connected in %v\n", name, time.Since(t0).Round(time.Millisecond))
	if err := c.SendEvent([]byte("hello from " + name)); err != nil {
		fmt.Printf("%s: hello: %v\n", name, err)
	}

	// Snapshots arrive on their own goroutine: ReadSnapshot waits for the
	// newest one, skipping any the bot was too slow for.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			snap, err := c.ReadSnapshot(ctx)
			if err != nil {
				return
			}
			// A real client would interpolate and render s here.
			var s Snapshot
			if err := msgpack.Unmarshal(snap.Payload, &s); err == nil && first {
				fmt.Printf("%s first snapshot: tick %d, %d players\n", name, s.Tick, len(s.Players))
				first = false
			}
		}
	}()

	// Input goes out at about the tick rate, as a real client samples its
	// controller once per frame.
	tick := time.NewTicker(time.Second / time.Duration(hz))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return c
		case <-tick.C:
		}
		for _, ev := range c.ReadEvents(nil) {
			fmt.Printf("%s got event: %q\n", name, ev)
		}
		m := Move{DX: int8(rand.IntN(3) - 1), DY: int8(rand.IntN(3) - 1)}
		// ErrCongested just means this input is dropped; the next one
		// supersedes it anyway.
		if err := c.SendInput(m.encode()); err != nil && !errors.Is(err, netcode.ErrCongested) {
			fmt.Printf("%s: input: %v\n", name, err)
		}
	}
}

func clamp[T int8 | int16](v, lo, hi T) T { return max(lo, min(v, hi)) }
