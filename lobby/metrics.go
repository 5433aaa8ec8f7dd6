//go:build !js

package lobby

import (
	"sync"
	"sync/atomic"
	"time"
)

// Metrics is what a lobby node holds and has done, for monitoring: the
// Stats gauges and counters that only go up from the node's start. With a
// shared store the gauges count the whole lobby and the counters what this
// node did: sum them over the nodes. The metrics package turns them into
// Prometheus metrics.
type Metrics struct {
	Stats
	// Queues are the tickets waiting, by mode and region.
	Queues []QueueLen
	// StoreDown is set while the shared store cannot be reached.
	StoreDown bool

	// MatchesMade counts the matches this node's matchmaker placed (new
	// rooms and backfills), PlayersMatched the players they seated, and
	// QueueWait how long each of their tickets had waited, in seconds.
	MatchesMade    uint64
	PlayersMatched uint64
	QueueWait      Histogram
	// RoomsCreated counts rooms made by room.create.
	RoomsCreated uint64
	// SignalsRelayed counts signals passed on, player to game server and
	// back; SignalsRefused those refused (not_in_room, bad_seat,
	// signal_limited, not_your_room, not_your_player); SignalsDropped those
	// that found no one to take them (a game server in its grace or behind,
	// a player without a lobby connection).
	SignalsRelayed uint64
	SignalsRefused uint64
	SignalsDropped uint64
	// LimitsHit counts, by limit, the requests and connections a limit of
	// SECURITY.md refused: LimitMessageRate, LimitConnsPerIP, and so on.
	LimitsHit map[string]uint64
	// Unavailable counts what was refused with unavailable: the shared
	// store could not be reached.
	Unavailable uint64
}

// QueueLen is one matchmaking queue's length.
type QueueLen struct {
	Mode, Region string
	Tickets      int
}

// Histogram is a distribution: Counts[i] observations were at most
// Bounds[i] (and above Bounds[i-1]), the last count those above every
// bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// The limits that LimitsHit counts, as SECURITY.md names them.
const (
	LimitMessageRate   = "message_rate"     // MessageRate, IPMessageRate: rate_limited, 4003
	LimitConnsPerIP    = "conns_per_ip"     // MaxConnsPerIP: HTTP 429
	LimitTCPConnsPerIP = "tcp_conns_per_ip" // MaxTCPConnsPerIP: connection closed at once
	LimitKeyFailures   = "key_failures"     // KeyFailureBurst: wrong game-server keys
	LimitSignals       = "signal_budget"    // SignalRate, RoomSignalRate: signal_limited
	LimitRooms         = "room_budget"      // RoomCreateRate, MaxRoomSeatsPerIP: too_many_rooms
	LimitSendQueue     = "send_queue"       // SendQueue: a player that does not read, 1008
	LimitGuestRate     = "guest_rate"       // IPMessageRate on /v1/guest: HTTP 429
)

var limitNames = []string{LimitMessageRate, LimitConnsPerIP, LimitTCPConnsPerIP, LimitKeyFailures, LimitSignals,
	LimitRooms, LimitSendQueue, LimitGuestRate}

// queueWaitBounds are the QueueWait buckets, in seconds: matchmaking waits
// from a millisecond (a full match at once) to minutes (FillWait, wide
// windows).
var queueWaitBounds = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// counters are the Metrics counters, written by any goroutine.
type counters struct {
	matches, matched, roomsCreated     atomic.Uint64
	relayed, refused, dropped, unavail atomic.Uint64
	limits                             [8]atomic.Uint64 // by limitNames index
	waitMu                             sync.Mutex
	waitCounts                         []uint64
	waitCount                          uint64
	waitSum                            float64
}

func newCounters() *counters {
	return &counters{waitCounts: make([]uint64, len(queueWaitBounds)+1)}
}

func (c *counters) limit(name string) {
	for i, n := range limitNames {
		if n == name {
			c.limits[i].Add(1)
			return
		}
	}
}

// wait records one ticket's wait from queue to match.
func (c *counters) wait(d time.Duration) {
	s := max(d.Seconds(), 0)
	i := len(queueWaitBounds)
	for j, b := range queueWaitBounds {
		if s <= b {
			i = j
			break
		}
	}
	c.waitMu.Lock()
	c.waitCounts[i]++
	c.waitCount++
	c.waitSum += s
	c.waitMu.Unlock()
}

// signal counts what became of one signal.
func (c *counters) signal(outcome string) {
	switch outcome {
	case "relayed":
		c.relayed.Add(1)
	case "dropped":
		c.dropped.Add(1)
	case "", "gone":
	default:
		c.refused.Add(1)
	}
}

func (c *counters) fill(m *Metrics) {
	m.MatchesMade, m.PlayersMatched, m.RoomsCreated = c.matches.Load(), c.matched.Load(), c.roomsCreated.Load()
	m.SignalsRelayed, m.SignalsRefused, m.SignalsDropped = c.relayed.Load(), c.refused.Load(), c.dropped.Load()
	m.Unavailable = c.unavail.Load()
	m.LimitsHit = make(map[string]uint64, len(limitNames))
	for i, n := range limitNames {
		m.LimitsHit[n] = c.limits[i].Load()
	}
	c.waitMu.Lock()
	m.QueueWait = Histogram{Bounds: queueWaitBounds, Counts: append([]uint64(nil), c.waitCounts...), Count: c.waitCount,
		Sum: c.waitSum}
	c.waitMu.Unlock()
}
