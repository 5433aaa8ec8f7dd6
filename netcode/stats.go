package netcode

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of one connection's counters, from this side's point
// of view: a Client sends inputs and receives snapshots, a server Session the
// reverse.
type Stats struct {
	// RTT is the smoothed round-trip time and RTTVar its mean deviation
	// (RFC 6298), from pings on the snapshot channel. Zero until the first pong.
	RTT    time.Duration
	RTTVar time.Duration

	SnapshotsSent     uint64
	SnapshotsReceived uint64
	// SnapshotsStale counts snapshots that arrived after a newer one and
	// were dropped.
	SnapshotsStale uint64
	InputsSent     uint64
	InputsReceived uint64
	InputsStale    uint64
	// InputsOverflow counts inputs dropped because the game did not read
	// them before ServerConfig.InputQueue newer ones arrived.
	InputsOverflow uint64
	// Congested counts unreliable sends refused with ErrCongested.
	Congested uint64

	EventsSent     uint64
	EventsReceived uint64
	// EventsUnacked is how many sent events the peer has not yet confirmed:
	// they wait in the resend buffer, bounded by Config.EventBuffer bytes.
	EventsUnacked uint64
	// EventsResent counts events sent again on a resumed connection because
	// the peer had not confirmed them; the peer drops those it already had.
	EventsResent uint64
	// Restarts counts ICE restarts, Resumes sessions resumed on a new
	// PeerConnection.
	Restarts uint64
	Resumes  uint64

	// Lost counts unreliable messages from the peer that never arrived in
	// order (gaps in their sequence numbers). Loss is the recent fraction
	// lost, smoothed over about four ping intervals.
	Lost uint64
	Loss float64

	// StatesSent (server) and StatesReceived (client) count replicated
	// states (World, Replica). A client drops those it cannot use: stale
	// ones (not newer than its newest), and those against a base it no
	// longer keeps (StatesUnknownBase).
	StatesSent        uint64
	StatesReceived    uint64
	StatesStale       uint64
	StatesUnknownBase uint64

	// BytesIn and BytesOut count data channel message bytes, both channels.
	BytesIn  uint64
	BytesOut uint64
	// Malformed counts messages from the peer that were not understood
	// (unknown kinds included).
	Malformed uint64
	// CandidatesRefused counts candidates the client named that a server
	// did not use: addresses it may not send to (ServerConfig.AllowLocalCandidates,
	// SECURITY.md) or that do not parse. Server only.
	CandidatesRefused uint64
}

// counters are the live values behind Stats. Each is written by one
// goroutine and read by any, hence atomics rather than a lock on a hot path.
type counters struct {
	unrelSent, unrelRecv, unrelStale, inputsOverflow, congested atomic.Uint64
	eventsSent, eventsRecv, eventsResent                        atomic.Uint64
	statesSent, statesRecv, statesStale, statesNoBase           atomic.Uint64
	// State acks a server took alone and riding on inputs (REPLICATION.md,
	// "Acks"); a client counts those it sent alone.
	stateAcksAlone, stateAcksRiding                       atomic.Uint64
	restarts, resumes                                     atomic.Uint64
	lost, bytesIn, bytesOut, malformed, candidatesRefused atomic.Uint64
	lossBits                                              atomic.Uint64 // float64

	// lossWindow is owned by the ping loop.
	prevLost, prevRecv uint64
}

// updateLoss folds the interval since the previous call into the smoothed
// loss estimate. Called from the ping loop only.
// activity counts the snapshots, inputs and events sent and received: what
// the game did, as against pings and acks.
func (c *counters) activity() uint64 {
	return c.unrelSent.Load() + c.unrelRecv.Load() + c.eventsSent.Load() + c.eventsRecv.Load() + c.statesSent.Load() + c.statesRecv.Load()
}

func (c *counters) updateLoss() {
	lost, recv := c.lost.Load(), c.unrelRecv.Load()
	dl, dr := lost-c.prevLost, recv-c.prevRecv
	c.prevLost, c.prevRecv = lost, recv
	if dl+dr == 0 {
		return
	}
	sample := float64(dl) / float64(dl+dr)
	old := math.Float64frombits(c.lossBits.Load())
	c.lossBits.Store(math.Float64bits(old + (sample-old)/4))
}

// rttEstimator smooths round-trip samples as TCP does (RFC 6298 2.2-2.3),
// except that it seeds from the lowest of the first seedSamples samples.
// The first ping goes out as the channels open, while the other side may
// still be starting up: in the browser that sample measured 17-63 ms against
// 1.2 ms after, and smoothing by 1/8 every PingInterval carried it for
// seconds. A startup delay only ever inflates a sample, so the lowest is
// the truest seed.
type rttEstimator struct {
	mu           sync.Mutex
	srtt, rttvar time.Duration
	n            int
}

const seedSamples = 4

func (r *rttEstimator) add(sample time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.srtt == 0 || (r.n <= seedSamples && sample < r.srtt) {
		r.srtt, r.rttvar = sample, sample/2
		return
	}
	d := r.srtt - sample
	if d < 0 {
		d = -d
	}
	r.rttvar += (d - r.rttvar) / 4
	r.srtt += (sample - r.srtt) / 8
}

func (r *rttEstimator) get() (srtt, rttvar time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.srtt, r.rttvar
}

func (c *counters) loss() float64 { return math.Float64frombits(c.lossBits.Load()) }
