package repl

import "math"

// Grid is the built-in interest: entities placed in square cells, and a
// query for those in the cells a square around a circle touches. It is
// not safe for concurrent use.
type Grid struct {
	cell  float64
	cells map[[2]int32][]uint32
	at    map[uint32][2]int32
}

// NewGrid is a grid of cells size wide (size > 0).
func NewGrid(size float64) *Grid {
	return &Grid{cell: size, cells: make(map[[2]int32][]uint32), at: make(map[uint32][2]int32)}
}

func (g *Grid) key(x, y float64) [2]int32 {
	c := func(v float64) int32 {
		v = math.Floor(v / g.cell)
		if math.IsNaN(v) {
			return 0
		}
		return int32(max(math.MinInt32, min(math.MaxInt32, v)))
	}
	return [2]int32{c(x), c(y)}
}

// Place puts id at (x, y), moving it if it was elsewhere.
func (g *Grid) Place(id uint32, x, y float64) {
	k := g.key(x, y)
	if old, ok := g.at[id]; ok {
		if old == k {
			return
		}
		g.unlink(id, old)
	}
	g.at[id] = k
	g.cells[k] = append(g.cells[k], id)
}

// Remove takes id off the grid.
func (g *Grid) Remove(id uint32) {
	if old, ok := g.at[id]; ok {
		g.unlink(id, old)
		delete(g.at, id)
	}
}

func (g *Grid) unlink(id uint32, k [2]int32) {
	ids := g.cells[k]
	for i, x := range ids {
		if x == id {
			ids[i] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
			break
		}
	}
	if len(ids) == 0 {
		delete(g.cells, k)
	} else {
		g.cells[k] = ids
	}
}

// Placed reports whether id is on the grid.
func (g *Grid) Placed(id uint32) bool { _, ok := g.at[id]; return ok }

// Near calls fn with each id in the cells that the square around the
// circle at (x, y) of radius r touches. Cells are visited as many as the
// square covers, or every occupied cell when that is fewer.
func (g *Grid) Near(x, y, r float64, fn func(id uint32)) {
	lo, hi := g.key(x-r, y-r), g.key(x+r, y+r)
	span := (int64(hi[0]) - int64(lo[0]) + 1) * (int64(hi[1]) - int64(lo[1]) + 1)
	if span > int64(len(g.cells)) {
		for k, ids := range g.cells {
			if k[0] >= lo[0] && k[0] <= hi[0] && k[1] >= lo[1] && k[1] <= hi[1] {
				for _, id := range ids {
					fn(id)
				}
			}
		}
		return
	}
	for cx := lo[0]; ; cx++ {
		for cy := lo[1]; ; cy++ {
			for _, id := range g.cells[[2]int32{cx, cy}] {
				fn(id)
			}
			if cy == hi[1] {
				break
			}
		}
		if cx == hi[0] {
			break
		}
	}
}
