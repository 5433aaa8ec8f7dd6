package repl

import (
	"math"
	"testing"
)

func TestClockBeforeAndAfterOnePing(t *testing.T) {
	var c Clock
	if _, ok := c.ServerTime(at(0)); ok {
		t.Fatal("ServerTime ok before any ping")
	}
	// Sent at server time 1000 ms, arrived at local 500 after 20 ms of a 40 ms
	// round trip: the server's clock is 1020 − 500 = 520 ms ahead.
	c.Observe(dur(1000), at(500), dur(40))
	if st, ok := c.ServerTime(at(700)); !ok || st != dur(1220) {
		t.Fatalf("ServerTime %v %v, want 1.22s", st, ok)
	}
}

// pingOpts describe the server's pings: every 500 ms, 25 ms on the way on
// an unloaded path (plus up to 1 ms), some of them queued much longer.
type pingOpts struct {
	seconds     float64
	delayed     float64 // the fraction of pings queued 50–200 ms more
	ppm         float64 // the server's clock runs this many parts per million fast
	serverStart float64 // the server's clock at the client's 0
	seed        uint32
}

// clockError replays the pings to a Clock and returns the largest error of
// its estimate, at each arrival and halfway to the next, once it has seen 16
// pings (before then one delayed ping could be all it has).
func clockError(o pingOpts) float64 {
	rng := mulberry32(o.seed)
	server := func(local float64) float64 { return o.serverStart + local*(1+o.ppm/1e6) }
	var c Clock
	worst := 0.0
	for k := 1; float64(k)*500 < o.seconds*1000; k++ {
		send := float64(k) * 500
		delay := 25 + rng.float()
		extra := 50 + rng.float()*150
		if rng.float() < o.delayed {
			delay += extra
		}
		arrival := send + delay
		c.Observe(dur(server(send)), at(arrival), dur(50.5))
		if k <= 16 {
			continue
		}
		for _, l := range []float64{arrival, arrival + 250} {
			st, _ := c.ServerTime(at(l))
			worst = math.Max(worst, math.Abs(ms(st)-server(l)))
		}
	}
	return worst
}

func TestClockOutliersAndDrift(t *testing.T) {
	for _, o := range []pingOpts{
		{seconds: 120, serverStart: 1234.5, seed: 3},
		{seconds: 120, delayed: 0.3, serverStart: 1234.5, seed: 4},
		{seconds: 120, delayed: 0.3, ppm: 100, serverStart: 5e6, seed: 5},
		{seconds: 120, delayed: 0.3, ppm: -100, serverStart: 0, seed: 6},
	} {
		// Within a couple of ms: the unloaded path's 1 ms of spread, plus the
		// drift over the 8 s of samples (0.8 ms at 100 ppm).
		if e := clockError(o); e > 2 {
			t.Errorf("%+v: the estimate was off by %.3f ms", o, e)
		} else {
			t.Logf("%+v: off by at most %.3f ms", o, e)
		}
	}
}
