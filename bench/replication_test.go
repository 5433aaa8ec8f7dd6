package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/tickwire/tickwire/netcode"
)

// TestReplicationSmoke runs both scenes briefly: what holds whatever the
// machine, never timings.
func TestReplicationSmoke(t *testing.T) {
	var r replReport
	decodeOne(t, runBench(t, "replication", "-clients", "2", "-duration", "1s", "-warmup", "500ms", "-input-hz", "60", "-json"), &r)
	if r.Scenario != "replication" || r.Params.Clients != 2 || r.Params.Hz != 30 || r.Params.CubeHz != 60 || r.Params.Loss != 0.05 || r.Params.InputHz != 60 {
		t.Errorf("scenario %q params %+v", r.Scenario, r.Params)
	}
	if r.Reference == nil || r.Cubes == nil {
		t.Fatalf("scenes missing: %+v", r)
	}
	for _, res := range []*replResult{r.Reference, r.Cubes} {
		if len(res.Errors) > 0 {
			t.Errorf("%s: %v", res.Scene, res.Errors)
		}
		if res.Ticks < 1 || res.StatesSent < 1 || res.StateBytesPerClientS <= 0 || res.StateBytesPerState > replBudget {
			t.Errorf("%s: %d ticks, %.0f states sent, %.0f B/s, %.0f B a state", res.Scene, res.Ticks, res.StatesSent,
				res.StateBytesPerClientS, res.StateBytesPerState)
		}
		if res.ClientPacketsPerS < 60/2 {
			t.Errorf("%s: %.1f packets a second from a client sending 60 inputs a second", res.Scene, res.ClientPacketsPerS)
		}
		if res.MsgpackBytesPerTick <= res.MsgpackArrayBytesPerTick || res.Ratio <= 0 {
			t.Errorf("%s: msgpack %.0f B by name, %.0f B by position, ratio %.2f", res.Scene, res.MsgpackBytesPerTick,
				res.MsgpackArrayBytesPerTick, res.Ratio)
		}
	}
	ref := r.Reference
	if ref.ClientEntities <= 0 || ref.ClientEntities > float64(ref.Entities) {
		t.Errorf("reference: %.1f entities at a client of %d", ref.ClientEntities, ref.Entities)
	}
	if ref.Entities != refMoving+refResting || ref.Moving != refMoving {
		t.Errorf("reference: %d entities, %d moving", ref.Entities, ref.Moving)
	}
	if ref.ErrorSamples == 0 || ref.MoverSamples == 0 || ref.MoversPerState <= 0 || ref.MoversPerState > refMoving {
		t.Errorf("reference: %d error samples, %d mover samples, %.1f movers a state", ref.ErrorSamples, ref.MoverSamples, ref.MoversPerState)
	}
	if !(ref.ErrorP50 <= ref.ErrorP99 && ref.ErrorP99 <= ref.ErrorMax) || ref.PlayoutDelayMeanMS <= 0 {
		t.Errorf("reference: error p50 %.2f p99 %.2f max %.2f, playout delay %.1f ms", ref.ErrorP50, ref.ErrorP99, ref.ErrorMax, ref.PlayoutDelayMeanMS)
	}
	if r.Cubes.Entities != cubeGrid*cubeGrid+1 || r.Cubes.BitsPerEntityPerState <= 0 || r.Cubes.KbitPerClientS <= 0 {
		t.Errorf("cubes: %d entities, %.2f bits a cube, %.1f kbit/s", r.Cubes.Entities, r.Cubes.BitsPerEntityPerState, r.Cubes.KbitPerClientS)
	}

	var table bytes.Buffer
	if err := r.writeTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"reference scene: 1024 entities, 256 moving", "Fiedler's cubes: 901 cubes at 60 Hz", "bits per cube per snapshot", "position error p99"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
}

func TestReplicationUsage(t *testing.T) {
	for _, args := range [][]string{
		{"replication", "-scenes", "teapots"},
		{"replication", "-clients", "0"},
		{"replication", "-loss", "1"},
		{"replication", "-hz", "0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, newEnv(strings.NewReader(""), &stdout, &stderr)); code != 2 {
			t.Errorf("bench %q: exit %d, want 2", args, code)
		}
	}
}

// TestReplicationTickOf: a mover's position tells the tick it is of.
func TestReplicationTickOf(t *testing.T) {
	s := newRefScene()
	for k := range s.ids {
		for _, tick := range []float64{1, 2, 37, 300, 1000} {
			x, y := s.truth(k, tick)
			// Quantised as they travel, to the centimetre.
			x, y = math.Round(x*100)/100, math.Round(y*100)/100
			if got := s.tickOf(k, x, y, tick+3); got != tick {
				t.Fatalf("mover %d at tick %v: tickOf says %v", k, tick, got)
			}
		}
	}
}

func TestReplicationCarriedAt(t *testing.T) {
	h := []replSample{{10, 0, 0}, {12, 2, 4}, {13, 3, 6}}
	for _, c := range []struct {
		t, x, y float64
		ok      bool
	}{
		{9, 0, 0, false},
		{10, 0, 0, true},
		{11, 1, 2, true},
		{12.5, 2.5, 5, true},
		{13.5, 3.5, 7, true}, // extrapolated
		{20, 4, 8, true},     // held a tick past the newest
	} {
		x, y, ok := replCarriedAt(h, c.t)
		if ok != c.ok || (ok && (math.Abs(x-c.x) > 1e-9 || math.Abs(y-c.y) > 1e-9)) {
			t.Errorf("at %v: (%v, %v, %v), want (%v, %v, %v)", c.t, x, y, ok, c.x, c.y, c.ok)
		}
	}
}

// TestReplicationCubeScene: the player knocks cubes, which come to rest: after the
// first tick the game sets only the cubes that move, and some moved.
func TestReplicationCubeScene(t *testing.T) {
	w, err := netcode.NewWorld(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newCubeScene(60)
	if err := s.register(w); err != nil {
		t.Fatal(err)
	}
	moved := map[int]bool{}
	most := 0
	for tick := uint64(1); tick <= 1200; tick++ {
		n, err := s.step(w, tick)
		if err != nil {
			t.Fatal(err)
		}
		if tick == 1 && n != len(s.bodies) {
			t.Fatalf("tick 1 set %d of %d", n, len(s.bodies))
		}
		if tick > 1 {
			most = max(most, n)
		}
		for i, b := range s.bodies[:len(s.bodies)-1] {
			if !b.resting {
				moved[i] = true
			}
		}
	}
	resting := 0
	for _, b := range s.bodies[:len(s.bodies)-1] {
		if b.resting {
			resting++
		}
	}
	if len(moved) < 20 || most >= len(s.bodies) || resting < len(s.bodies)/2 {
		t.Errorf("%d cubes ever moved, at most %d set a tick, %d at rest at the end", len(moved), most, resting)
	}
	if w.Len() != len(s.bodies) {
		t.Errorf("world has %d entities, want %d", w.Len(), len(s.bodies))
	}
}
