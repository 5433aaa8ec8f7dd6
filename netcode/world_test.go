//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// testDot is a game's moving thing as the tests declare it.
type testDot struct {
	X, Y    float64 `tw:"float,min=-100,max=100,step=0.01"`
	Heading float64 `tw:"angle,bits=10"`
	HP      int     `tw:"int,min=0,max=100"`
	Alive   bool
	Name    string `tw:"string,max=8"`
	Local   int    `tw:"-"`
}

// worldGame drives a World from a seeded random walk.
type worldGame struct {
	w    *World
	rng  *rand.Rand
	dots map[uint32]testDot
	next uint32
}

func newWorldGame(t *testing.T, cfg *WorldConfig, n int) *worldGame {
	w, err := NewWorld(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Register("dot", testDot{}); err != nil {
		t.Fatal(err)
	}
	if err := w.RegisterBytes("blob", 32); err != nil {
		t.Fatal(err)
	}
	g := &worldGame{w: w, rng: rand.New(rand.NewPCG(7, 8)), dots: map[uint32]testDot{}}
	for range n {
		g.add()
	}
	if err := w.SetBytes(1_000_000, "blob", []byte("scoreboard")); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *worldGame) add() {
	g.next++
	d := testDot{X: g.rng.Float64()*200 - 100, Y: g.rng.Float64()*200 - 100, HP: 100, Alive: true, Name: fmt.Sprint("d", g.next)}
	g.dots[g.next] = d
	g.set(g.next, d)
}

func (g *worldGame) set(id uint32, d testDot) {
	if err := g.w.Set(id, d); err != nil {
		panic(err)
	}
	if g.w.grid != nil {
		_ = g.w.Place(id, d.X, d.Y)
	}
}

// step moves a third of the dots, and now and then removes or adds one.
func (g *worldGame) step() {
	for id, d := range g.dots {
		switch r := g.rng.IntN(100); {
		case r < 2:
			delete(g.dots, id)
			g.w.Remove(id)
		case r < 35:
			d.X = math.Max(-100, math.Min(100, d.X+g.rng.NormFloat64()))
			d.Y = math.Max(-100, math.Min(100, d.Y+g.rng.NormFloat64()))
			d.Heading = math.Mod(d.Heading+0.1, 2*math.Pi)
			d.HP = g.rng.IntN(101)
			g.dots[id] = d
			g.set(id, d)
		}
	}
	if g.rng.IntN(2) == 0 {
		g.add()
	}
}

// checkConverged compares what c's replica holds with the server's
// world, as far as sees says c sees it.
func (g *worldGame) checkConverged(c *Client, sees func(id uint32, d testDot) bool) error {
	r := c.World()
	want := 1 // the blob
	for id, d := range g.dots {
		e, ok := r.Entity(id)
		if !sees(id, d) {
			if ok {
				return fmt.Errorf("entity %d seen, out of interest", id)
			}
			continue
		}
		want++
		if !ok {
			return fmt.Errorf("entity %d missing", id)
		}
		var got testDot
		if err := e.Decode(&got); err != nil {
			return err
		}
		if math.Abs(got.X-d.X) > 0.006 || math.Abs(got.Y-d.Y) > 0.006 || got.HP != d.HP || got.Alive != d.Alive || got.Name != d.Name ||
			math.Abs(math.Remainder(got.Heading-d.Heading, 2*math.Pi)) > 2*math.Pi/1024 {
			return fmt.Errorf("entity %d: %+v, want %+v", id, got, d)
		}
	}
	if n := len(r.Entities()); n != want {
		return fmt.Errorf("%d entities, want %d", n, want)
	}
	if b, ok := r.Entity(1_000_000); !ok || string(b.Bytes()) != "scoreboard" || b.Type() != "blob" {
		return fmt.Errorf("blob entity: %v %q", ok, b.Bytes())
	}
	return nil
}

// TestWorldUnderLoss: a world of moving, appearing and disappearing
// entities replicated at 30 Hz to two clients over a path that loses 0,
// 10 or 20% of packets each way, with 10 ms of jitter, one client seeing everything, the other
// through the grid: once the world stops changing and a client has
// acknowledged the latest tick, its replica equals the world as it sees
// it; no state was ever over the budget (Tick fails on one); the client
// that resumed on a new connection converges too.
func TestWorldUnderLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.1, 0.2} {
		t.Run(fmt.Sprint(loss), func(t *testing.T) {
			ln := newJitteryNet(t, 10*time.Millisecond, 10*time.Millisecond, int64(loss*100))
			srv := newTestServer(t, ln.server)
			c1, s1 := connect(t, srv, ln.client)
			c2, s2 := connect(t, srv, ln.client)
			g := newWorldGame(t, &WorldConfig{Budget: 600, GridCell: 20}, 150)
			g.w.Join(s1)
			v2 := g.w.Join(s2)
			v2.Focus(50, 50, 30)
			sees2 := func(id uint32, d testDot) bool {
				cell := func(v float64) float64 { return math.Floor(v / 20) }
				return cell(d.X) >= cell(20) && cell(d.X) <= cell(80) && cell(d.Y) >= cell(20) && cell(d.Y) <= cell(80)
			}
			ln.setLoss(loss)
			ctx := ctxTimeout(t, 60*time.Second)
			tick := time.NewTicker(time.Second / 30)
			defer tick.Stop()
			for i := range 90 {
				<-tick.C
				g.step()
				if i == 45 {
					// c1's connection fails; it resumes on a new one.
					_ = c1.p.link.Load().rc.close()
				}
				if err := g.w.Tick(); err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
			}
			// The world stands still; ticks go on until both clients hold
			// and acknowledged the latest, and it holds their whole view: a
			// state within the budget may leave some of it to the next
			// ticks (after a resume, say, when the types go in-band again).
			ln.setLoss(0)
			all := func(uint32, testDot) bool { return true }
			done := func(c *Client, s *Session) bool {
				sees := all
				if c == c2 {
					sees = sees2
				}
				return c.World().Tick() == g.w.tick && s.p.stateAck.Load() == g.w.tick && g.checkConverged(c, sees) == nil
			}
			for i := 0; ; i++ {
				if i > 300 || ctx.Err() != nil {
					t.Fatalf("not converged after %d more ticks: client 1 at %d (acked %d: %v), client 2 at %d (acked %d: %v), world at %d",
						i, c1.World().Tick(), s1.p.stateAck.Load(), g.checkConverged(c1, all), c2.World().Tick(), s2.p.stateAck.Load(), g.checkConverged(c2, sees2), g.w.tick)
				}
				<-tick.C
				if err := g.w.Tick(); err != nil {
					t.Fatal(err)
				}
				// Give this tick a moment to arrive and be acknowledged.
				for range 20 {
					if done(c1, s1) && done(c2, s2) {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				if done(c1, s1) && done(c2, s2) {
					break
				}
			}
			if err := g.checkConverged(c1, all); err != nil {
				t.Errorf("client 1: %v", err)
			}
			if err := g.checkConverged(c2, sees2); err != nil {
				t.Errorf("client 2: %v", err)
			}
			st1, st2 := c1.Stats(), s1.Stats()
			t.Logf("loss %.0f%%: client 1 got %d states, dropped %d, %d resumes; server sent %d; %d entities",
				100*loss, st1.StatesReceived, st1.StatesStale+st1.StatesUnknownBase, st1.Resumes, st2.StatesSent, g.w.Len())
			if st1.Resumes != 1 {
				t.Errorf("client 1 resumed %d times, want 1", st1.Resumes)
			}
		})
	}
}

// TestReplicaNext: Next reports what changed since the last call,
// several states as one, and fails when the client closes.
func TestReplicaNext(t *testing.T) {
	srv := newTestServer(t, loopbackConfig())
	c, s := connect(t, srv, nil)
	g := newWorldGame(t, nil, 0)
	g.w.Join(s)
	ctx := ctxTimeout(t, 20*time.Second)
	r := c.World()
	g.set(1, testDot{X: 1})
	g.set(2, testDot{X: 2})
	if err := g.w.Tick(); err != nil {
		t.Fatal(err)
	}
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(u.Created) != "[1 2 1000000]" || len(u.Changed)+len(u.Removed) != 0 {
		t.Fatalf("first update %+v", u)
	}
	g.set(1, testDot{X: 5})
	g.w.Remove(2)
	g.set(3, testDot{})
	if err := g.w.Tick(); err != nil {
		t.Fatal(err)
	}
	g.set(1, testDot{X: 6})
	if err := g.w.Tick(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool { return r.Tick() == 3 }, "tick 3")
	u, err = r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(u.Created, u.Changed, u.Removed) != "[3] [1] [2]" || u.Tick != 3 {
		t.Fatalf("update %+v", u)
	}
	e, _ := r.Entity(1)
	if x, _ := e.Float("x"); x != 6 {
		t.Errorf("x = %v, want 6", x)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next with nothing new: %v", err)
	}
	go func() { time.Sleep(20 * time.Millisecond); _ = c.Close() }()
	if _, err := r.Next(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

// TestWorldRefuses: types and values a world cannot replicate get clear
// errors.
func TestWorldRefuses(t *testing.T) {
	w, err := NewWorld(&WorldConfig{Budget: 400})
	if err != nil {
		t.Fatal(err)
	}
	type untagged struct{ X float64 }
	type badRange struct {
		X float64 `tw:"float,min=0,max=1e12,step=0.0001"`
	}
	type big struct {
		S string `tw:"string,max=1000"`
	}
	for _, tt := range []struct {
		name  string
		proto any
	}{{"untagged", untagged{}}, {"range", badRange{}}, {"not a struct", 3}, {"nil", nil}} {
		if err := w.Register(tt.name, tt.proto); !errors.Is(err, ErrInvalidType) {
			t.Errorf("Register %s: %v", tt.name, err)
		}
	}
	if err := w.Register("dot", testDot{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Register("dot", big{}); !errors.Is(err, ErrInvalidType) {
		t.Errorf("a name twice: %v", err)
	}
	if err := w.Register("big", big{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Set(1, big{S: string(make([]byte, 500))}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an entity over the budget: %v", err)
	}
	if err := w.Set(1, struct{}{}); !errors.Is(err, ErrInvalidType) {
		t.Errorf("an unregistered type: %v", err)
	}
	if err := w.SetBytes(1, "dot", nil); !errors.Is(err, ErrInvalidType) {
		t.Errorf("SetBytes of a struct type: %v", err)
	}
	if err := w.Place(1, 0, 0); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Place without a grid: %v", err)
	}
	if err := w.SetWeight(99, 2); !errors.Is(err, ErrNoEntity) {
		t.Errorf("SetWeight of no entity: %v", err)
	}
	if _, err := NewWorld(&WorldConfig{Budget: 10}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("a tiny budget: %v", err)
	}
}
