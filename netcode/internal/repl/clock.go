package repl

import "time"

// clockSamples is how many of the server's pings the Clock remembers: 16, as
// REPLICATION.md ("Playout") says, which is 8 s at the default 500 ms ping
// interval. Longer would ride out longer congestion but follow clock drift
// less closely (100 ppm is 0.8 ms over 8 s).
const clockSamples = 16

// Clock estimates the server's clock from the server's pings, with NTP's
// clock filter: of the last 16 pings it trusts the one that was delayed least,
// because queueing only ever delays a ping, so a late ping is an outlier and
// none is ever early.
//
// Its estimate is the filter's, unsmoothed: when the best sample ages out, or
// the RTT estimate moves, ServerTime can step by a few milliseconds either
// way. Rendering does not depend on it (Playout keeps its own monotonic
// render time from the states' arrivals, see REPLICATION.md), so a step never
// makes the picture go backwards; a caller that needs a reading that never
// decreases keeps the largest it has seen.
//
// The zero Clock is ready to use. It is not safe for concurrent use; the
// connection's goroutine owns it.
type Clock struct {
	base    time.Time // local time 0: the first arrival
	samples [clockSamples]clockSample
	n, next int
}

type clockSample struct {
	lead   time.Duration // server time − local arrival: larger is less delayed
	offset time.Duration // lead + rtt/2: server time − local time
}

// Observe takes one server ping: serverTime is the ping's time (on the
// server's clock, since its session began), arrival the local moment it
// arrived, and rtt the client's current smoothed round-trip time from its own
// pings, half of which is the ping's travel time on an unloaded path.
func (c *Clock) Observe(serverTime time.Duration, arrival time.Time, rtt time.Duration) {
	if c.n == 0 {
		c.base = arrival
	}
	if rtt < 0 {
		rtt = 0
	}
	lead := serverTime - arrival.Sub(c.base)
	c.samples[c.next] = clockSample{lead: lead, offset: lead + rtt/2}
	c.next = (c.next + 1) % clockSamples
	if c.n < clockSamples {
		c.n++
	}
}

// ServerTime is the server's clock at the local moment local, or false before
// the first ping.
func (c *Clock) ServerTime(local time.Time) (time.Duration, bool) {
	off, ok := c.offset()
	if !ok {
		return 0, false
	}
	return local.Sub(c.base) + off, true
}

// offset is the server's clock minus the local clock (counted from the first
// ping's arrival), from the least delayed of the remembered pings, or false
// before the first ping. Ties go to the newest sample, whose RTT is freshest.
func (c *Clock) offset() (time.Duration, bool) {
	if c.n == 0 {
		return 0, false
	}
	best := -1
	for k := range c.n {
		i := (c.next - 1 - k + clockSamples) % clockSamples // newest first
		if best < 0 || c.samples[i].lead > c.samples[best].lead {
			best = i
		}
	}
	return c.samples[best].offset, true
}
