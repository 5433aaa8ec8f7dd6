package main

import (
	"math"

	"github.com/tickwire/tickwire/netcode"
)

// The cube scene after Glenn Fiedler's "Snapshot Compression"
// (gafferongames.com): 900 cubes on a 30 × 30 grid and a player cube that
// drives through them, 901 in all. A cube the player touches is knocked
// away with a hop and a roll; a knocked cube knocks those it hits in turn,
// slows on the ground and comes to rest. The simulation is deterministic
// (no randomness, a fixed step), so every run moves the same cubes.
//
// Positions travel as Fiedler's do: x and y within [-256, 255] m and z
// within [0, 31] m, 512 values a metre (18, 18 and 14 bits); orientations
// as smallest three in 9 bits a component (29 bits).

const (
	cubeGrid    = 30
	cubeSpacing = 3.0 // metres between cubes at the start
	cubeHalf    = 0.5 // a cube is 1 m wide
	playerHalf  = 1.0 // the player is 2 m wide
	cubeGravity = 9.8
)

// cube is the cube scene's entity, as a game declares it.
type cube struct {
	ID   uint32     `tw:"-"`
	X, Y float64    `tw:"float,min=-256,max=255,step=0.001953125"`
	Z    float64    `tw:"float,min=0,max=31,step=0.001953125"`
	Rot  [4]float64 `tw:"quat,bits=9"`
}

type cubeBody struct {
	pos, vel [3]float64
	q        [4]float64 // x, y, z, w
	spin     [3]float64 // angular velocity, rad/s
	resting  bool
}

type cubeScene struct {
	hz     int
	bodies []cubeBody // the cubes, then the player last
	cubes  []cube
	// buckets is a spatial hash of the moving and resting cubes, remade
	// every tick, for contacts between cubes.
	buckets map[[2]int][]int
}

func newCubeScene(hz int) *cubeScene {
	s := &cubeScene{hz: hz, buckets: make(map[[2]int][]int)}
	off := -cubeSpacing * (cubeGrid - 1) / 2
	for i := range cubeGrid * cubeGrid {
		b := cubeBody{resting: true, q: [4]float64{0, 0, 0, 1}}
		b.pos = [3]float64{off + float64(i%cubeGrid)*cubeSpacing, off + float64(i/cubeGrid)*cubeSpacing, cubeHalf}
		s.bodies = append(s.bodies, b)
	}
	s.bodies = append(s.bodies, cubeBody{q: [4]float64{0, 0, 0, 1}})
	s.cubes = make([]cube, len(s.bodies))
	for i := range s.cubes {
		s.cubes[i].ID = uint32(i + 1)
	}
	return s
}

func (s *cubeScene) name() string  { return "cubes" }
func (s *cubeScene) entities() int { return len(s.bodies) }
func (s *cubeScene) moving() int   { return 0 } // what moved: the mean set a tick
func (s *cubeScene) full() any     { return s.cubes }

func (s *cubeScene) register(w *netcode.World) error { return w.Register("cube", cube{}) }

// player is where the player cube is at time t (seconds): a Lissajous
// path over the field, up to about 11 m/s.
func playerAt(t float64) [3]float64 {
	return [3]float64{42 * math.Sin(2*math.Pi*t/29), 42 * math.Sin(2*math.Pi*t/19+0.5), playerHalf}
}

func (s *cubeScene) step(w *netcode.World, tick uint64) (int, error) {
	dt := 1 / float64(s.hz)
	t := float64(tick) * dt
	pl := &s.bodies[len(s.bodies)-1]
	p, prev := playerAt(t), playerAt(t-dt)
	pv := [3]float64{(p[0] - prev[0]) / dt, (p[1] - prev[1]) / dt, 0}
	yaw := math.Atan2(pv[1], pv[0])
	pl.pos, pl.vel = p, pv
	pl.q = [4]float64{0, 0, math.Sin(yaw / 2), math.Cos(yaw / 2)}
	pspeed := math.Hypot(pv[0], pv[1])

	cubes := s.bodies[:len(s.bodies)-1]
	changed := make([]bool, len(s.bodies))
	changed[len(s.bodies)-1] = true
	// The player knocks what it touches.
	reach := playerHalf + cubeHalf + 0.1
	for i := range cubes {
		b := &cubes[i]
		dx, dy := b.pos[0]-p[0], b.pos[1]-p[1]
		if dx*dx+dy*dy >= reach*reach || b.pos[2] > 2*playerHalf+cubeHalf {
			continue
		}
		s.knock(b, dx, dy, max(1.3*pspeed, 2), reach, p)
		changed[i] = true
	}
	// Cubes knock cubes.
	clear(s.buckets)
	for i := range cubes {
		k := cubeBucket(cubes[i].pos)
		s.buckets[k] = append(s.buckets[k], i)
	}
	for i := range cubes {
		b := &cubes[i]
		speed := math.Hypot(b.vel[0], b.vel[1])
		if b.resting || speed < 1 {
			continue
		}
		k := cubeBucket(b.pos)
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for _, j := range s.buckets[[2]int{k[0] + dx, k[1] + dy}] {
					o := &cubes[j]
					if j == i || math.Hypot(o.vel[0], o.vel[1]) >= speed/2 {
						continue
					}
					ox, oy := o.pos[0]-b.pos[0], o.pos[1]-b.pos[1]
					if ox*ox+oy*oy >= 4*cubeHalf*cubeHalf*1.1 || math.Abs(o.pos[2]-b.pos[2]) > 2*cubeHalf {
						continue
					}
					s.knock(o, ox, oy, 0.6*speed, 2*cubeHalf+0.05, b.pos)
					b.vel[0], b.vel[1] = 0.5*b.vel[0], 0.5*b.vel[1]
					changed[j] = true
				}
			}
		}
	}
	for i := range cubes {
		b := &cubes[i]
		if b.resting {
			continue
		}
		s.integrate(b, dt)
		changed[i] = true
	}
	set := 0
	for i := range s.bodies {
		if !changed[i] && tick > 1 {
			continue
		}
		b, c := &s.bodies[i], &s.cubes[i]
		c.X, c.Y, c.Z, c.Rot = b.pos[0], b.pos[1], b.pos[2], b.q
		if err := w.Set(c.ID, *c); err != nil {
			return set, err
		}
		set++
	}
	return set, nil
}

func cubeBucket(p [3]float64) [2]int {
	return [2]int{int(math.Floor(p[0] / 2)), int(math.Floor(p[1] / 2))}
}

// knock sends b away from the point from, along (dx, dy), at speed,
// moved out to dist so that one touch is one knock, hopping if it was on
// the ground.
func (s *cubeScene) knock(b *cubeBody, dx, dy, speed, dist float64, from [3]float64) {
	n := math.Hypot(dx, dy)
	if n < 1e-9 {
		dx, dy, n = 1, 0, 1
	}
	dx, dy = dx/n, dy/n
	b.vel[0], b.vel[1] = dx*speed, dy*speed
	if b.pos[2] <= cubeHalf+1e-6 {
		b.vel[2] = 0.3 * speed
	}
	b.pos[0], b.pos[1] = from[0]+dx*dist, from[1]+dy*dist
	// A roll about the horizontal axis across the motion.
	b.spin = [3]float64{-dy * speed / cubeHalf, dx * speed / cubeHalf, 0}
	b.resting = false
}

// integrate moves b by one step: gravity, a bounce on the ground,
// friction there, and rest once slow on the ground.
func (s *cubeScene) integrate(b *cubeBody, dt float64) {
	b.vel[2] -= cubeGravity * dt
	for k := range 3 {
		b.pos[k] += b.vel[k] * dt
	}
	for k := range 2 {
		if b.pos[k] < -250 || b.pos[k] > 250 {
			b.pos[k] = math.Max(-250, math.Min(250, b.pos[k]))
			b.vel[k] = -b.vel[k]
		}
	}
	onGround := false
	if b.pos[2] <= cubeHalf {
		b.pos[2] = cubeHalf
		if b.vel[2] < -1 {
			b.vel[2] = -0.3 * b.vel[2]
		} else {
			b.vel[2], onGround = 0, true
		}
	}
	if onGround {
		speed := math.Hypot(b.vel[0], b.vel[1])
		slower := math.Max(0, speed*(1-2*dt)-3*dt)
		if slower == 0 {
			b.vel, b.spin, b.resting = [3]float64{}, [3]float64{}, true
			return
		}
		b.vel[0], b.vel[1] = b.vel[0]*slower/speed, b.vel[1]*slower/speed
		b.spin = [3]float64{-b.vel[1] / cubeHalf, b.vel[0] / cubeHalf, 0}
	}
	b.q = quatIntegrate(b.q, b.spin, dt)
}

// quatIntegrate turns q by angular velocity w for dt.
func quatIntegrate(q [4]float64, w [3]float64, dt float64) [4]float64 {
	a := math.Sqrt(w[0]*w[0]+w[1]*w[1]+w[2]*w[2]) * dt
	if a < 1e-12 {
		return q
	}
	s := math.Sin(a/2) / (a / dt)
	r := [4]float64{w[0] * s, w[1] * s, w[2] * s, math.Cos(a / 2)}
	// r ⊗ q
	out := [4]float64{
		r[3]*q[0] + r[0]*q[3] + r[1]*q[2] - r[2]*q[1],
		r[3]*q[1] - r[0]*q[2] + r[1]*q[3] + r[2]*q[0],
		r[3]*q[2] + r[0]*q[1] - r[1]*q[0] + r[2]*q[3],
		r[3]*q[3] - r[0]*q[0] - r[1]*q[1] - r[2]*q[2],
	}
	n := math.Sqrt(out[0]*out[0] + out[1]*out[1] + out[2]*out[2] + out[3]*out[3])
	for k := range out {
		out[k] /= n
	}
	return out
}
