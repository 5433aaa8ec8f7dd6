// Command lobbybots plays the lobby's demo game with a few bots, the way a
// real native client would: each bot gets a guest token, connects to the
// lobby, queues for a match, opens its netcode channels to the game server
// through the lobby's signaling, sends moves and follows the replicated
// world (its own dot, the other players' and the bots'), then leaves. Start a lobby with its embedded game server first:
//
//	make run                                   # or: go run ./lobby/cmd/lobby
//	go run ./examples/lobbybots -lobby http://127.0.0.1:8080 -bots 4 -mode default -duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// options are the command's flags.
type options struct {
	Lobby        string        // the lobby's base URL
	Bots         int           // how many bots
	Mode, Region string        // what to queue for
	Duration     time.Duration // how long each bot plays once connected
	MatchTimeout time.Duration // how long a bot waits for its match and connection
	Hz           int           // inputs per second
	Verbose      bool          // print every event
}

// maxBots stays under the lobby's default of 32 connections per IP address.
const maxBots = 32

func main() {
	var o options
	flag.StringVar(&o.Lobby, "lobby", "http://127.0.0.1:8080", "the lobby's base URL")
	flag.IntVar(&o.Bots, "bots", 4, fmt.Sprintf("number of bots, 1 to %d", maxBots))
	flag.StringVar(&o.Mode, "mode", "default", "game mode to queue for")
	flag.StringVar(&o.Region, "region", "", "region to queue in (empty: any)")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each bot plays once connected")
	flag.DurationVar(&o.MatchTimeout, "match-timeout", 30*time.Second, "how long a bot waits to be matched and connected")
	flag.IntVar(&o.Hz, "hz", 30, "inputs per second per bot")
	flag.BoolVar(&o.Verbose, "v", false, "print every event the bots receive")
	flag.Parse()
	if o.Bots < 1 || o.Bots > maxBots || o.Hz < 1 || o.Hz > 1000 || o.Duration <= 0 || o.MatchTimeout <= 0 || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "need 1 <= -bots <= %d, 1 <= -hz <= 1000, positive -duration and -match-timeout, no arguments\n", maxBots)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results := run(ctx, o, os.Stdout)
	failed, connected := 0, 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
		if r.Wait > 0 {
			connected++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d bots failed\n", failed, len(results))
		if connected == 0 {
			fmt.Fprintf(os.Stderr, "is a lobby with a game server running at %s? Start one with: make run\n", o.Lobby)
		}
		os.Exit(1)
	}
}

// result is what one bot did.
type result struct {
	Name    string
	Player  string // the lobby's player id
	Room    string
	Dot     uint16  // the bot's id in the game, from the welcome event
	Players int     // players' dots in the world, last seen
	Dots    int     // all dots in the world, last seen
	X, Y    float64 // the bot's dot, last seen
	States  int     // world updates read
	Events  int     // events received
	Wait    time.Duration
	Stats   netcode.Stats
	Err     error
}

// run plays every bot to the end and prints a summary to out.
func run(ctx context.Context, o options, out io.Writer) []result {
	pr := &printer{w: out}
	start := time.Now()
	results := make([]result, o.Bots)
	var wg sync.WaitGroup
	for i := range o.Bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = playBot(ctx, o, fmt.Sprintf("bot-%d", i+1), pr)
		}()
	}
	wg.Wait()

	pr.printf("\nsummary after %v:\n", time.Since(start).Round(time.Millisecond))
	for _, r := range results {
		if r.Wait == 0 { // never connected
			pr.printf("  %-6s failed: %v\n", r.Name, r.Err)
			continue
		}
		pr.printf("  %-6s room %s  dot %-2d  matched+connected in %-6v  %4d states (%d dropped)  %4d inputs  %d events  %d players, %d dots  at (%.0f, %.0f)  rtt %v\n",
			r.Name, r.Room, r.Dot, r.Wait.Round(time.Millisecond), r.Stats.StatesReceived, r.Stats.StatesStale+r.Stats.StatesUnknownBase, r.Stats.InputsSent,
			r.Events, r.Players, r.Dots, r.X, r.Y, r.Stats.RTT.Round(time.Microsecond))
		if r.Err != nil {
			pr.printf("         failed: %v\n", r.Err)
		}
	}
	return results
}

// printer serialises the bots' lines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// playBot is one bot from guest token to leaving.
func playBot(ctx context.Context, o options, name string, pr *printer) (r result) {
	r.Name = name
	t0 := time.Now()
	mctx, cancel := context.WithTimeout(ctx, o.MatchTimeout)
	defer cancel()

	// 1. A guest token, then the lobby connection. Tokens are single use:
	// a reconnecting client would use c.NextToken().
	tok, err := lobby.GuestToken(mctx, o.Lobby, name)
	if err != nil {
		r.Err = err
		return r
	}
	c, err := lobby.Dial(mctx, o.Lobby, tok, nil)
	if err != nil {
		r.Err = err
		return r
	}
	defer c.Close()
	r.Player = c.Player()

	// 2. Matchmaking: the lobby answers the queue at once, and the match
	// comes once enough players wait.
	if _, err := c.Queue(mctx, o.Mode, o.Region, 1000); err != nil {
		r.Err = fmt.Errorf("queue: %w", err)
		return r
	}
	m, err := c.WaitMatch(mctx)
	if err != nil {
		r.Err = fmt.Errorf("wait for a match: %w", err)
		return r
	}
	r.Room = m.Room

	// 3. The netcode channels to the game server, with the lobby carrying
	// the WebRTC signaling and the match's ICE servers.
	nc, err := c.Connect(mctx, m, nil)
	if err != nil {
		r.Err = fmt.Errorf("connect to game server %s: %w", m.Server, err)
		return r
	}
	defer nc.Close()
	r.Wait = time.Since(t0)
	pr.printf("%s: %s in room %s on %s with %d players, connected after %v\n",
		name, c.Player(), m.Room, m.Server, len(m.Players), r.Wait.Round(time.Millisecond))

	// 4. Play: the world's updates on one goroutine, moves and events on
	// this one.
	pctx, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	var mu sync.Mutex // guards r's game fields between the two goroutines
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		world := nc.World()
		for {
			if _, err := world.Next(pctx); err != nil {
				return
			}
			mu.Lock()
			r.States++
			r.Dots, r.Players = 0, 0
			for _, id := range world.Entities() {
				e, _ := world.Entity(id)
				var d dots.Dot
				if e.Type() != "dot" || e.Decode(&d) != nil {
					continue
				}
				r.Dots++
				if d.Player {
					r.Players++
				}
				if id == uint32(r.Dot) {
					r.X, r.Y = d.X, d.Y
				}
			}
			mu.Unlock()
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(o.Hz))
	defer tick.Stop()
	var events [][]byte
	mv := dots.Move{DX: int8(rand.IntN(3) - 1), DY: int8(rand.IntN(3) - 1)}
loop:
	for {
		select {
		case <-pctx.Done():
			break loop
		case <-nc.Done():
			r.Err = fmt.Errorf("game server closed the connection: %w", nc.Err())
			break loop
		case n := <-c.Notices():
			if o.Verbose {
				pr.printf("%s: lobby notice %s %s %s\n", name, n.Type, n.Room, n.Reason)
			}
		case <-tick.C:
		}
		events = nc.ReadEvents(events[:0])
		for _, b := range events {
			ev, err := dots.DecodeEvent(b)
			if err != nil {
				continue
			}
			mu.Lock()
			r.Events++
			if ev.Type == dots.EventWelcome {
				r.Dot = ev.ID
			}
			mu.Unlock()
			if o.Verbose || ev.Type == dots.EventLeft {
				pr.printf("%s: %s %s (dot %d)\n", name, ev.Type, ev.Name, ev.ID)
			}
		}
		// A bot wanders: it keeps a direction for a while, then picks another.
		if rand.IntN(15) == 0 {
			mv = dots.Move{DX: int8(rand.IntN(3) - 1), DY: int8(rand.IntN(3) - 1)}
		}
		b, _ := dots.EncodeMove(mv)
		// ErrCongested just means this input is dropped; the next one
		// supersedes it anyway.
		if err := nc.SendInput(b); err != nil && !errors.Is(err, netcode.ErrCongested) && r.Err == nil && !errors.Is(err, netcode.ErrClosed) {
			r.Err = fmt.Errorf("input: %w", err)
		}
	}
	stop()
	wg.Wait()
	r.Stats = nc.Stats()

	// 5. Leave the room through the lobby, which releases the seat and has
	// the game server close the session; then close our end.
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer lcancel()
	if err := c.Leave(lctx); err != nil && r.Err == nil && ctx.Err() == nil {
		r.Err = fmt.Errorf("leave: %w", err)
	}
	if r.Err == nil && r.States == 0 {
		r.Err = errors.New("no world state received")
	}
	return r
}
