package repl

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGrid: Near finds exactly the placed ids whose cells the query's
// square touches, after moves and removals, against a brute force.
func TestGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	g := NewGrid(10)
	pos := map[uint32][2]float64{}
	for range 2000 {
		id := uint32(rng.IntN(300))
		if rng.IntN(5) == 0 {
			g.Remove(id)
			delete(pos, id)
			continue
		}
		p := [2]float64{rng.Float64()*400 - 200, rng.Float64()*400 - 200}
		g.Place(id, p[0], p[1])
		pos[id] = p
	}
	cell := func(v float64) float64 { return math.Floor(v / 10) }
	for _, q := range [][3]float64{{0, 0, 15}, {-200, 190, 5}, {50, 50, 0}, {0, 0, 1e6}, {1e12, -1e12, 1}, {math.NaN(), 0, 3}} {
		var got, want []uint32
		g.Near(q[0], q[1], q[2], func(id uint32) { got = append(got, id) })
		for id, p := range pos {
			cx, cy := cell(p[0]), cell(p[1])
			lx, hx, ly, hy := cell(q[0]-q[2]), cell(q[0]+q[2]), cell(q[1]-q[2]), cell(q[1]+q[2])
			if math.IsNaN(q[0]) {
				lx, hx = 0, 0
			}
			if cx >= lx && cx <= hx && cy >= ly && cy <= hy {
				want = append(want, id)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("Near%v: %d ids, want %d", q, len(got), len(want))
		}
	}
}
