package repl

import "time"

// Samples is a client's record, per entity, of the values its states
// carried (REPLICATION.md, "Per entity"): states against alternating
// bases may hold an older value of an entity than the state before, so
// rendering plays each entity out from what was carried, in tick order,
// rather than from whole states. It is not safe for concurrent use.
type Samples struct {
	m map[uint32]*sampleRing
}

// SampleWindow is how many ticks past the newest state's origin for an
// entity a newer sample still counts.
const SampleWindow = 16

const samplesKept = 8

type sample struct {
	tick uint64
	time time.Duration
	e    *Entity
}

type sampleRing struct {
	s    [samplesKept]sample
	n    int // how many, at most samplesKept
	head int // index of the oldest
}

func (r *sampleRing) at(i int) *sample { return &r.s[(r.head+i)%samplesKept] }

func (r *sampleRing) push(x sample) {
	if r.n < samplesKept {
		r.s[(r.head+r.n)%samplesKept] = x
		r.n++
		return
	}
	r.s[r.head] = x
	r.head = (r.head + 1) % samplesKept
}

// NewSamples is an empty record.
func NewSamples() *Samples { return &Samples{m: make(map[uint32]*sampleRing)} }

// Add records what st carried: each entity whose origin is st's tick.
func (x *Samples) Add(st *State) {
	for i, o := range st.orig {
		if o != st.Tick {
			continue
		}
		id := st.ids[i]
		r := x.m[id]
		if r == nil {
			r = &sampleRing{}
			x.m[id] = r
		}
		r.push(sample{tick: st.Tick, time: st.Time, e: st.ents[i]})
	}
	// Entities the newest state no longer has are forgotten now and then.
	if len(x.m) > 2*st.Len()+64 {
		for id := range x.m {
			if _, ok := st.Get(id); !ok {
				delete(x.m, id)
			}
		}
	}
}

// At plays entity i of the newest state st out at server time t: the two
// samples to interpolate between and how far (alpha above 1 extrapolates;
// from is nil when one value holds).
func (x *Samples) At(st *State, i int, t time.Duration) (from, to *Entity, alpha float64) {
	id, e := st.ids[i], st.ents[i]
	origin := st.orig[i]
	r := x.m[id]
	if r == nil {
		return nil, e, 0
	}
	// The usable samples, oldest first: those after the origin only
	// within the window.
	var use [samplesKept]*sample
	n := 0
	for k := range r.n {
		s := r.at(k)
		if s.tick > origin && s.tick+SampleWindow < st.Tick || !s.e.Type.Same(e.Type) {
			continue
		}
		use[n] = s
		n++
	}
	switch {
	case n == 0:
		return nil, e, 0
	case t < use[0].time || n == 1:
		return nil, use[0].e, 0
	}
	last := use[n-1]
	if t >= last.time {
		prev := use[n-2]
		span := last.time - prev.time
		if span <= 0 {
			return nil, last.e, 0
		}
		return prev.e, last.e, 1 + float64(min(t-last.time, span))/float64(span)
	}
	for k := 1; k < n; k++ {
		if b := use[k]; t < b.time {
			a := use[k-1]
			if b.time <= a.time {
				return nil, b.e, 0
			}
			return a.e, b.e, float64(t-a.time) / float64(b.time-a.time)
		}
	}
	return nil, last.e, 0
}
