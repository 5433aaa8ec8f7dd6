package repl

import (
	"encoding/binary"
	"math"
	"sort"
	"testing"
	"time"
)

// The traces here are the ones js/test/playout.test.ts replays against the
// TypeScript twin: the same PRNG (mulberry32), the same generator, in float
// milliseconds (the same IEEE arithmetic in both), so both implementations
// face the same arrivals and must meet the same assertions.

// mulberry32 is a small seeded PRNG, chosen because it is as easy to write
// exactly in TypeScript (Math.imul) as in Go.
type mulberry32 uint32

func (m *mulberry32) float() float64 {
	*m += 0x6D2B79F5
	a := uint32(*m)
	t := (a ^ a>>15) * (1 | a)
	t = (t + (t^t>>7)*(61|t)) ^ t
	return float64(t^t>>14) / 4294967296
}

// traceOpts describes a path from server to client; times are in ms of the
// client's clock, which is the true clock.
type traceOpts struct {
	hz                 float64 // server ticks a second
	step               int     // the server sends every step-th tick
	seconds            float64 // how long the trace runs
	latency            float64 // one-way base delay
	jitter             float64 // each state's delay varies by ± this, uniformly
	loss               float64 // each state is lost with this probability
	burstFrom, burstTo float64 // every state sent in [burstFrom, burstTo) is lost
	stallFrom, stallTo float64 // every state sent in [stallFrom, stallTo) arrives at stallTo + latency at the earliest
	ppm                float64 // the server's clock runs this many parts per million fast
	serverStart        float64 // the server's clock at the client's 0
	seed               uint32
}

type traceState struct {
	tick    uint64
	time    float64 // server's clock
	arrival float64 // client's clock
}

// trace makes the states a client keeps, in arrival order, without the stale
// ones (a state arriving after a newer one), which the client drops.
func trace(o traceOpts) []traceState {
	rng := mulberry32(o.seed)
	var sent []traceState
	interval := 1000 / o.hz
	for k := 1; float64(k*o.step)*interval < o.seconds*1000; k++ {
		tick := k * o.step
		send := float64(tick) * interval
		lost := rng.float() < o.loss
		arrival := send + o.latency + (rng.float()*2-1)*o.jitter
		if send >= o.burstFrom && send < o.burstTo {
			lost = true
		}
		if send >= o.stallFrom && send < o.stallTo {
			arrival = math.Max(arrival, o.stallTo+o.latency)
		}
		if !lost {
			sent = append(sent, traceState{uint64(tick), o.serverStart + send*(1+o.ppm/1e6), arrival})
		}
	}
	sort.SliceStable(sent, func(i, j int) bool { return sent[i].arrival < sent[j].arrival })
	var kept []traceState
	for _, s := range sent {
		if len(kept) == 0 || s.tick > kept[len(kept)-1].tick {
			kept = append(kept, s)
		}
	}
	return kept
}

// frame is what one Sample said, in ms.
type frame struct {
	local         float64
	from, to      uint64
	alpha         float64
	shown         float64 // the moment rendered, from from, to and alpha
	newest        float64 // the newest state's time then
	delay, target float64
	jitter        float64
	interval      float64
}

var epoch = time.Unix(1_700_000_000, 0)

func at(ms float64) time.Time      { return epoch.Add(dur(ms)) }
func dur(ms float64) time.Duration { return time.Duration(math.Round(ms * 1e6)) }
func ms(d time.Duration) float64   { return float64(d) / 1e6 }

// play feeds a trace to a Playout and samples it at 60 frames a second.
func play(t *testing.T, states []traceState, seconds float64) []frame {
	t.Helper()
	var p Playout
	times := map[uint64]float64{}
	var frames []frame
	next := 0
	newest := math.NaN()
	for f := 0; float64(f)*1000/60 < seconds*1000; f++ {
		local := float64(f) * 1000 / 60
		for ; next < len(states) && states[next].arrival <= local; next++ {
			s := states[next]
			p.OnState(s.tick, dur(s.time), at(s.arrival))
			times[s.tick] = s.time
			newest = s.time
		}
		from, to, alpha, ok := p.Sample(at(local))
		if !ok {
			if next > 0 {
				t.Fatalf("frame at %.1f ms: not ok after %d states", local, next)
			}
			continue
		}
		if math.IsNaN(alpha) || math.IsInf(alpha, 0) || alpha < 0 {
			t.Fatalf("frame at %.1f ms: alpha %v", local, alpha)
		}
		tf, tt := times[from], times[to]
		frames = append(frames, frame{
			local: local, from: from, to: to, alpha: alpha,
			shown: tf + alpha*(tt-tf), newest: newest,
			delay: ms(p.Delay()), target: ms(p.TargetDelay()), jitter: ms(p.Jitter()), interval: ms(p.Interval()),
		})
	}
	return frames
}

// checkFrames asserts what holds on every path: the moment rendered never
// goes backwards, never runs more than one interval past the newest state
// (interval is the path's, or the largest the playout has measured, if more:
// early in a lossy trace it can measure more than the truth), and the target
// delay stays within [1, 8] of the intervals the playout measures.
func checkFrames(t *testing.T, frames []frame, interval float64) {
	t.Helper()
	const eps = 1e-6 // ms; the ns rounding of the durations
	for i, f := range frames {
		if i > 0 && f.shown < frames[i-1].shown-eps {
			t.Fatalf("frame at %.1f ms: rendered %.6f ms, before the previous frame's %.6f", f.local, f.shown, frames[i-1].shown)
		}
		if f.interval == 0 {
			continue
		}
		interval = math.Max(interval, f.interval)
		if f.shown > f.newest+interval+eps {
			t.Fatalf("frame at %.1f ms: rendered %.3f ms, more than an interval past the newest state %.3f", f.local, f.shown, f.newest)
		}
		if f.target > 8*f.interval+eps || f.target < f.interval-eps {
			t.Fatalf("frame at %.1f ms: target delay %.3f ms outside [1, 8] intervals of %.3f", f.local, f.target, f.interval)
		}
	}
}

func clean30() traceOpts {
	return traceOpts{hz: 30, step: 1, seconds: 20, latency: 40, serverStart: 1234.5, seed: 1}
}

func TestPlayoutClean(t *testing.T) {
	const interval = 1000.0 / 30
	for _, o := range []traceOpts{
		clean30(),
		func() traceOpts { o := clean30(); o.ppm = 100; return o }(),
		func() traceOpts { o := clean30(); o.ppm = -100; return o }(),
		func() traceOpts { o := clean30(); o.hz, o.step = 60, 2; return o }(), // every other tick of 60: 30 states a second
	} {
		frames := play(t, trace(o), o.seconds)
		checkFrames(t, frames, interval)
		last := frames[len(frames)-1]
		if math.Abs(last.delay-2*interval) > 1 || math.Abs(last.interval-interval) > 0.01 {
			t.Errorf("%+v: delay %.3f ms, interval %.3f; want 2 intervals of %.3f", o, last.delay, last.interval, interval)
		}
		// After the first second: always interpolating, alpha moving on
		// through each pair of states, each pair of consecutive ticks in turn.
		var prev *frame
		for i := range frames {
			f := &frames[i]
			if f.local < 1000 {
				continue
			}
			if f.alpha > 1 || f.to <= f.from || f.to-f.from != uint64(o.step) {
				t.Fatalf("%+v: frame at %.1f ms: from %d to %d alpha %v, want interpolation between neighbours", o, f.local, f.from, f.to, f.alpha)
			}
			if prev != nil && prev.from == f.from && f.alpha <= prev.alpha {
				t.Fatalf("%+v: frame at %.1f ms: alpha %v after %v", o, f.local, f.alpha, prev.alpha)
			}
			prev = f
		}
	}
}

func TestPlayoutJitterAndLoss(t *testing.T) {
	const interval = 1000.0 / 30
	// The mean delays js/test/playout.test.ts pins too: the twins agree.
	twin := map[float64]float64{0.05: 104.857, 0.1: 120.060, 0.2: 163.957}
	for _, loss := range []float64{0.05, 0.1, 0.2} {
		o := clean30()
		o.jitter, o.loss, o.seed = 10, loss, 7
		frames := play(t, trace(o), o.seconds)
		checkFrames(t, frames, interval)
		var sum float64
		var n, extrapolated int
		for _, f := range frames[len(frames)/2:] {
			sum += f.delay
			n++
			if f.alpha > 1 {
				extrapolated++
			}
		}
		mean := sum / float64(n)
		// Jitter of 20 ms end to end and runs of losses: more than the clean
		// path's two intervals, still at most eight.
		if mean < 2*interval+10 || mean > 8*interval {
			t.Errorf("loss %v: mean delay %.1f ms, want between %.1f and %.1f", loss, mean, 2*interval+10, 8*interval)
		}
		if math.Abs(mean-twin[loss]) > 0.01 {
			t.Errorf("loss %v: mean delay %.3f ms, the TypeScript twin's %.3f", loss, mean, twin[loss])
		}
		// The delay is there so that states are in time: extrapolating is rare.
		if extrapolated*20 > n {
			t.Errorf("loss %v: extrapolated in %d of %d frames", loss, extrapolated, n)
		}
		t.Logf("loss %v: mean delay %.1f ms (%.2f intervals), extrapolated %d of %d frames", loss, mean, mean/interval, extrapolated, n)
	}
}

func TestPlayoutLossBurst(t *testing.T) {
	const interval = 1000.0 / 30
	o := clean30()
	o.seconds, o.burstFrom, o.burstTo = 15, 5000, 5200 // six states lost in a row
	frames := play(t, trace(o), o.seconds)
	checkFrames(t, frames, interval)
	var peak float64
	for i, f := range frames {
		peak = math.Max(peak, f.delay)
		if i > 0 && frames[i-1].interval > 0 {
			// Smoothly: the delay moves by at most a tenth of the frame time.
			dt := f.local - frames[i-1].local
			if d := f.delay - frames[i-1].delay; math.Abs(d) > dt/10+1e-3 {
				t.Fatalf("frame at %.1f ms: delay moved %.3f ms in %.1f ms", f.local, d, dt)
			}
		}
	}
	last := frames[len(frames)-1]
	// The target is 8 intervals while the run of losses is in the window
	// (32 states, about a second), which the delay follows at 10 % for that
	// second: 2 + 3 intervals.
	if peak < 4.5*interval || math.Abs(last.delay-2*interval) > 1 {
		t.Errorf("delay peaked at %.1f ms and ended at %.1f ms; want at least 4.5 intervals, then back to 2 of %.1f", peak, last.delay, interval)
	}
}

func TestPlayoutLateStates(t *testing.T) {
	const interval = 1000.0 / 30
	o := clean30()
	o.seconds, o.stallFrom, o.stallTo = 10, 5000, 5500 // half a second of states held up, then delivered at once
	frames := play(t, trace(o), o.seconds)
	checkFrames(t, frames, interval)
	var extrapolated, held int
	for i, f := range frames {
		if f.alpha > 1 {
			extrapolated++
		}
		if i > 0 && f.shown == frames[i-1].shown && math.Abs(f.shown-(f.newest+interval)) < 1e-3 {
			held++
		}
	}
	if extrapolated == 0 || held == 0 {
		t.Errorf("extrapolated %d frames, held %d; want both during the stall", extrapolated, held)
	}
	last := frames[len(frames)-1]
	if last.alpha > 1 || last.shown < last.newest-8*interval {
		t.Errorf("after the stall: alpha %v, rendering %.1f ms behind the newest state", last.alpha, last.newest-last.shown)
	}
}

// A playout's output for random paths: never NaN, never a negative alpha,
// never backwards, never more than an interval past the newest state.
func TestPlayoutRandomTraces(t *testing.T) {
	rng := mulberry32(99)
	for i := range 40 {
		hz := []float64{10, 20, 30, 60}[int(rng.float()*4)]
		o := traceOpts{
			hz: hz, step: 1 + int(rng.float()*3), seconds: 6,
			latency: rng.float() * 150, jitter: rng.float() * 40, loss: rng.float() * 0.4,
			burstFrom: rng.float() * 6000, stallFrom: rng.float() * 6000,
			ppm: rng.float()*400 - 200, serverStart: rng.float() * 1e6, seed: uint32(i),
		}
		o.burstTo = o.burstFrom + rng.float()*500
		o.stallTo = o.stallFrom + rng.float()*1000
		frames := play(t, trace(o), o.seconds)
		checkFrames(t, frames, float64(o.step)*1000/hz*(1+o.ppm/1e6))
	}
}

func TestPlayoutEdges(t *testing.T) {
	var p Playout
	if _, _, _, ok := p.Sample(at(0)); ok {
		t.Fatal("Sample ok before any state")
	}
	p.OnState(5, dur(100), at(10))
	if from, to, alpha, ok := p.Sample(at(20)); !ok || from != 5 || to != 5 || alpha != 0 {
		t.Fatalf("one state: %d %d %v %v, want 5 5 0 true", from, to, alpha, ok)
	}
	p.OnState(5, dur(200), at(30)) // stale tick
	p.OnState(6, dur(100), at(30)) // time not after the newest's
	if p.Interval() != 0 {
		t.Fatalf("interval %v from ignored states", p.Interval())
	}
	p.OnState(6, dur(150), at(60))
	if p.Interval() != dur(50) || p.TargetDelay() != dur(100) {
		t.Fatalf("interval %v target %v, want 50ms and 100ms", p.Interval(), p.TargetDelay())
	}
	// Render time starts at the target: 100 ms behind the states' arrival.
	if from, to, alpha, ok := p.Sample(at(60)); !ok || from != 5 || to != 5 || alpha != 0 {
		t.Fatalf("before the oldest: %d %d %v %v, want 5 5 0 true", from, to, alpha, ok)
	}
	if from, to, alpha, _ := p.Sample(at(135)); from != 5 || to != 6 || math.Abs(alpha-0.5) > 1e-6 {
		t.Fatalf("midway: %d %d %v, want 5 6 0.5", from, to, alpha)
	}
	// A local time that goes backwards is taken as the last.
	if from, to, alpha, _ := p.Sample(at(100)); from != 5 || to != 6 || math.Abs(alpha-0.5) > 1e-6 {
		t.Fatalf("local backwards: %d %d %v, want 5 6 0.5", from, to, alpha)
	}
	// No more states: extrapolate to one interval past the newest, then hold.
	if from, to, alpha, _ := p.Sample(at(185)); from != 5 || to != 6 || math.Abs(alpha-1.5) > 1e-6 {
		t.Fatalf("extrapolating: %d %d %v, want 5 6 1.5", from, to, alpha)
	}
	if from, to, alpha, _ := p.Sample(at(1000)); from != 5 || to != 6 || math.Abs(alpha-2) > 1e-6 || p.Time() != dur(200) {
		t.Fatalf("holding: %d %d %v at %v, want 5 6 2 at 200ms", from, to, alpha, p.Time())
	}
}

// FuzzPlayout drives a Playout with arbitrary states and frames: whatever
// the server and the local clock do, Sample gives a finite, non-negative
// alpha, and the moment it renders never goes backwards.
func FuzzPlayout(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("\x01\x21\x00\x10\x02\x21\x00\x10\x00\x00\x00\x40\x01\x21\x00\x10\x01\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Playout
		var tick uint64
		var server, local time.Duration
		last := time.Duration(math.MinInt64)
		for len(data) >= 4 {
			op, a, b := data[0], binary.LittleEndian.Uint16(data[1:3]), data[3]
			data = data[4:]
			if op&1 == 0 {
				tick += uint64(b)
				server += time.Duration(a) * time.Millisecond / 16
				p.OnState(tick, server, epoch.Add(local))
				continue
			}
			local += time.Duration(int16(a)) * time.Millisecond / 8
			_, _, alpha, ok := p.Sample(epoch.Add(local))
			if !ok || p.Interval() == 0 {
				continue
			}
			if math.IsNaN(alpha) || math.IsInf(alpha, 0) || alpha < 0 {
				t.Fatalf("alpha %v", alpha)
			}
			if p.Time() < last {
				t.Fatalf("rendered %v after %v", p.Time(), last)
			}
			last = p.Time()
		}
	})
}
