package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickwire/tickwire/netcode"
)

// SessionCollector reads a game server's netcode sessions at each scrape:
// Server.Sessions with each Session's State and Stats, and Server.Stats.
// Its counters add up every session the server has had since the collector
// was made: it keeps the last figures of the sessions it saw, and when a
// session has ended, its final ones.
type SessionCollector struct {
	ns *netcode.Server

	mu     sync.Mutex
	seen   map[*netcode.Session]struct{}
	closed netcode.Stats // the sum over sessions that ended
	ended  uint64

	sessions, endedDesc, rtt, loss, snapshots, dropped, inputs, events, bytes, restarts, resumes, udp *prometheus.Desc
}

// RTT buckets, in seconds: loopback to intercontinental.
var rttBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1}

// Loss buckets, as fractions.
var lossBuckets = []float64{0, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}

// NewSessionCollector returns a collector of ns's sessions.
func NewSessionCollector(ns *netcode.Server) *SessionCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tickwire_netcode_"+name, help, labels, nil)
	}
	return &SessionCollector{
		ns:        ns,
		seen:      map[*netcode.Session]struct{}{},
		sessions:  d("sessions", "Open sessions by state: connecting, connected, reconnecting (ICE restart), resuming (a new PeerConnection).", "state"),
		endedDesc: d("sessions_ended_total", "Sessions that ended."),
		rtt:       d("rtt_seconds", "Smoothed round-trip time of the open sessions, at the scrape (those with a measurement)."),
		loss:      d("loss_ratio", "Recent loss of the players' inputs on the open sessions, at the scrape."),
		snapshots: d("snapshots_sent_total", "Snapshots sent to players."),
		dropped:   d("snapshots_dropped_total", "Snapshots not sent because the player's channel was congested (ErrCongested)."),
		inputs:    d("inputs_total", "Inputs from players, by what became of them.", "outcome"),
		events:    d("events_total", "Reliable events, by direction.", "direction"),
		bytes:     d("bytes_total", "Data channel message bytes, by direction.", "direction"),
		restarts:  d("ice_restarts_total", "ICE restarts."),
		resumes:   d("resumes_total", "Sessions resumed on a new PeerConnection."),
		udp:       d("udp_datagrams_total", "Datagrams at the game port: read, and dropped by cause.", "result"),
	}
}

// Describe implements prometheus.Collector.
func (c *SessionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessions, c.endedDesc, c.rtt, c.loss, c.snapshots, c.dropped, c.inputs, c.events,
		c.bytes, c.restarts, c.resumes, c.udp} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *SessionCollector) Collect(ch chan<- prometheus.Metric) {
	open := c.ns.Sessions()
	states := map[netcode.State]int{}
	var rtts, losses []float64
	c.mu.Lock()
	now := map[*netcode.Session]struct{}{}
	total := c.closed
	for _, s := range open {
		now[s] = struct{}{}
		st := s.Stats()
		add(&total, st)
		states[s.State()]++
		if st.RTT > 0 {
			rtts = append(rtts, st.RTT.Seconds())
			losses = append(losses, st.Loss)
		}
	}
	for s := range c.seen {
		if _, ok := now[s]; !ok {
			// Ended since the last scrape: its final figures stay counted.
			st := s.Stats()
			add(&c.closed, st)
			add(&total, st)
			c.ended++
		}
	}
	c.seen = now
	ended := c.ended
	c.mu.Unlock()

	for _, state := range []netcode.State{netcode.StateConnecting, netcode.StateConnected, netcode.StateReconnecting, netcode.StateResuming} {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(states[state]), state.String())
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.endedDesc, ended)
	ch <- distribution(c.rtt, rtts, rttBuckets)
	ch <- distribution(c.loss, losses, lossBuckets)
	counter(c.snapshots, total.SnapshotsSent)
	counter(c.dropped, total.Congested)
	counter(c.inputs, total.InputsReceived, "received")
	counter(c.inputs, total.InputsStale, "stale")
	counter(c.inputs, total.InputsOverflow, "overflow")
	counter(c.events, total.EventsSent, "sent")
	counter(c.events, total.EventsReceived, "received")
	counter(c.events, total.EventsResent, "resent")
	counter(c.bytes, total.BytesIn, "in")
	counter(c.bytes, total.BytesOut, "out")
	counter(c.restarts, total.Restarts)
	counter(c.resumes, total.Resumes)
	u := c.ns.Stats()
	counter(c.udp, u.UDPRead, "read")
	counter(c.udp, u.UDPUnknown, "unknown")
	counter(c.udp, u.UDPOverPeerLimit, "over_peer_limit")
	counter(c.udp, u.UDPQueueFull, "queue_full")
	counter(c.udp, u.UDPSuppressed, "suppressed")
}

// add sums the counters of s into t.
func add(t *netcode.Stats, s netcode.Stats) {
	t.SnapshotsSent += s.SnapshotsSent
	t.Congested += s.Congested
	t.InputsReceived += s.InputsReceived
	t.InputsStale += s.InputsStale
	t.InputsOverflow += s.InputsOverflow
	t.EventsSent += s.EventsSent
	t.EventsReceived += s.EventsReceived
	t.EventsResent += s.EventsResent
	t.BytesIn += s.BytesIn
	t.BytesOut += s.BytesOut
	t.Restarts += s.Restarts
	t.Resumes += s.Resumes
}

// distribution is a histogram of values observed now.
func distribution(d *prometheus.Desc, values, bounds []float64) prometheus.Metric {
	buckets := make(map[float64]uint64, len(bounds))
	var sum float64
	for _, v := range values {
		sum += v
	}
	for _, b := range bounds {
		var n uint64
		for _, v := range values {
			if v <= b {
				n++
			}
		}
		buckets[b] = n
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(values)), sum, buckets)
}
