package repl

import (
	"slices"
	"sort"
	"time"
)

// The playout's constants; REPLICATION.md ("Playout (client)") states the rule
// they belong to, and js/src/playout.ts has the same numbers.
const (
	// playoutKeep is how many states' times the Playout remembers to
	// interpolate between: the 64 states a client keeps at least.
	playoutKeep = 64
	// playoutWindow is how many of the newest states the estimates (interval,
	// lateness, losses) look at: about a second at 30 states a second, short
	// enough to follow the path, long enough for a median to ignore losses.
	playoutWindow = 32
	// playoutMaxDelay bounds the delay, in intervals; the least is one.
	playoutMaxDelay = 8
	// Render time runs at most 1/playoutSlower slower than the local clock
	// (to grow the delay quickly when the path gets worse: until it has,
	// states arrive too late) and at most 1/playoutFaster faster (to shrink
	// it, which has no hurry), so that motion changes speed by a few percent
	// at most and never jumps backwards.
	playoutSlower = 10
	playoutFaster = 20
)

// Playout decides, for each frame, which two of the kept states the client
// renders between and how far between them, so that the world moves smoothly
// although states arrive unevenly and some never arrive. REPLICATION.md
// ("Playout (client)") specifies the rule; js/src/playout.ts is its twin.
//
// It works on the states' own times and arrivals, not on the Clock: what
// decides whether a state is there in time is when states arrive, and the
// one-way travel time that the Clock's server time includes would otherwise
// have to be part of the delay (at 100 ms one way and 30 ticks a second, two
// intervals behind the server's "now" is past the newest state that can have
// arrived).
//
// The zero Playout is ready to use. It is not safe for concurrent use: the
// caller serialises OnState and Sample (one goroutine, or one frame loop).
type Playout struct {
	base   time.Time // local time 0: the first state's arrival
	states [playoutKeep]stateTime
	n      int // states kept
	head   int // index of the oldest

	// The estimates, from the newest playoutWindow states (see estimate).
	interval time.Duration // between the states the server sends; 0 until two states
	jitter   time.Duration
	lead     time.Duration // the largest time − arrival: the least delayed state
	target   time.Duration // the delay aimed at

	started bool
	render  time.Duration // render time, on the server's clock
	local   time.Duration // the local time render was last advanced to
	shown   time.Duration // the moment last sampled: render time, held at newest + interval
	delay   time.Duration // the delay at the last Sample
}

type stateTime struct {
	tick    uint64
	time    time.Duration // on the server's clock
	arrival time.Duration // local, since Playout.base
}

func (p *Playout) at(i int) *stateTime { return &p.states[(p.head+i)%playoutKeep] }

// OnState records a state the client kept: its tick, its time on the server's
// clock and the local moment it arrived. A state whose tick or time is not
// above the newest's is ignored (the client drops stale states before this).
func (p *Playout) OnState(tick uint64, serverTime time.Duration, arrival time.Time) {
	if p.n == 0 {
		p.base = arrival
	} else if last := p.at(p.n - 1); tick <= last.tick || serverTime <= last.time {
		return
	}
	s := stateTime{tick: tick, time: serverTime, arrival: arrival.Sub(p.base)}
	if p.n < playoutKeep {
		*p.at(p.n) = s
		p.n++
	} else {
		p.states[p.head] = s
		p.head = (p.head + 1) % playoutKeep
	}
	p.estimate()
}

// estimate recomputes the interval, lateness, losses and target delay from
// the newest playoutWindow states, using medians so that lost states (a
// longer gap) and a server that sends only every k-th tick are both read
// correctly as long as fewer than half the gaps are losses.
func (p *Playout) estimate() {
	w := min(p.n, playoutWindow)
	if w < 2 {
		return
	}
	var (
		ticks   [playoutWindow]uint64
		perTick [playoutWindow]time.Duration
		late    [playoutWindow]time.Duration
	)
	first := p.n - w
	lead := p.at(first).time - p.at(first).arrival
	for i := 1; i < w; i++ {
		a, b := p.at(first+i-1), p.at(first+i)
		dt := b.tick - a.tick
		ticks[i-1] = dt
		perTick[i-1] = (b.time - a.time) / time.Duration(min(dt, 1<<32))
		lead = max(lead, b.time-b.arrival)
	}
	step := median(ticks[:w-1])
	p.interval = max(time.Duration(step)*median(perTick[:w-1]), 1)
	run := 0 // the longest run of states lost in a row
	for _, dt := range ticks[:w-1] {
		// Gaps in units of the usual step, rounded: 2 steps is one lost state.
		run = max(run, int((dt+step/2)/step)-1)
	}
	p.lead = lead
	for i := range w {
		s := p.at(first + i)
		late[i] = lead - (s.time - s.arrival)
	}
	slices.Sort(late[:w])
	p.jitter = late[w-2] // the largest lateness but one: one outlier is ignored
	losses := time.Duration(min(run, playoutMaxDelay))
	p.target = min(max(2*p.interval+p.jitter+losses*p.interval, p.interval), playoutMaxDelay*p.interval)
}

// median is the upper median (the element at n/2 once sorted); it sorts s.
func median[T uint64 | time.Duration](s []T) T {
	slices.Sort(s)
	return s[len(s)/2]
}

// Sample advances render time to the local moment local and says what to
// render: interpolate the states of ticks from and to by alpha (0 is from, 1
// is to). alpha is above 1 when render time is past the newest state, which
// is then to (extrapolate from the last two, at most one interval past the
// newest; beyond that Sample holds there). Before the render time reaches the
// oldest kept state, and while only one state is kept, from and to are the
// same tick and alpha is 0. ok is false before the first state.
//
// The moment sampled never goes backwards, however local, the states and the
// estimates move; a local earlier than the last is taken as the last.
func (p *Playout) Sample(local time.Time) (from, to uint64, alpha float64, ok bool) {
	if p.n == 0 {
		return 0, 0, 0, false
	}
	newest := p.at(p.n - 1)
	if p.interval == 0 {
		return newest.tick, newest.tick, 0, true
	}
	l := local.Sub(p.base)
	target := l + p.lead - p.target
	first := !p.started
	if first {
		p.started, p.render, p.local = true, target, l
	} else {
		dt := max(l-p.local, 0)
		p.local += dt
		next := p.render + dt
		switch e := target - next; {
		case e > playoutMaxDelay*p.interval:
			p.render = target // far behind (a long stall, a shorter path): catch up at once
		case e < -playoutMaxDelay*p.interval:
			// far ahead (a longer path): stop until the target is near
		default:
			p.render = next + min(max(e, -dt/playoutSlower), dt/playoutFaster)
		}
	}
	p.delay = p.local + p.lead - p.render
	if shown := min(p.render, newest.time+p.interval); first || shown > p.shown {
		p.shown = shown
	}

	t := p.shown
	oldest := p.at(0)
	if t <= oldest.time {
		return oldest.tick, oldest.tick, 0, true
	}
	if t >= newest.time {
		prev := p.at(p.n - 2)
		return prev.tick, newest.tick, float64(t-prev.time) / float64(newest.time-prev.time), true
	}
	// The first kept state after t; states are in time order.
	i := 1 + sort.Search(p.n-1, func(i int) bool { return p.at(i+1).time > t })
	a, b := p.at(i-1), p.at(i)
	return a.tick, b.tick, float64(t-a.time) / float64(b.time-a.time), true
}

// Time is the moment last sampled, on the server's clock: the render time,
// held at one interval past the newest state. A game compensating for lag
// tells the server this.
func (p *Playout) Time() time.Duration { return p.shown }

// Delay is how far behind the least delayed state's arrival render time ran
// at the last Sample: the buffering the client adds to the path's own delay.
func (p *Playout) Delay() time.Duration { return p.delay }

// TargetDelay is the delay the playout is moving towards.
func (p *Playout) TargetDelay() time.Duration { return p.target }

// Jitter is how much later than the least delayed state the states arrive
// (the window's largest lateness but one).
func (p *Playout) Jitter() time.Duration { return p.jitter }

// Interval is the usual interval between the states the server sends, on its
// clock: the tick interval times the usual tick step.
func (p *Playout) Interval() time.Duration { return p.interval }
