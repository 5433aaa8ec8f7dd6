// Package metrics exports what a Tickwire lobby and a game server's netcode
// sessions are doing to Prometheus (github.com/prometheus/client_golang),
// so that an operator can watch them: players, queues and their waits,
// matches, rooms, signaling relayed and refused, limits hit, sessions by
// state, round trips and loss, snapshots sent and dropped, bytes, restarts
// and resumes. docs/grafana-dashboard.json graphs them.
//
// Both collectors read their source at each scrape: they add nothing to the
// lobby's or the game's hot paths.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewLobbyCollector(lobbySrv), metrics.NewSessionCollector(netcodeSrv))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickwire/tickwire/lobby"
)

// LobbyCollector reads a lobby.Server's Metrics at each scrape.
//
// With several lobby nodes on a shared store (lobby.RedisStore) every node
// reports the whole lobby's gauges (queues, rooms, seats, game servers) and
// its own counters (matches its matchmaker made, signals it relayed, limits
// it applied) and its own connections: take the max of a gauge over nodes,
// the sum of a counter.
type LobbyCollector struct {
	s *lobby.Server

	players, connected, queue, parties, rooms, seats, servers, tcp, storeUp *prometheus.Desc
	matches, matched, created, signals, limits, unavailable, wait           *prometheus.Desc
}

// NewLobbyCollector returns a collector of s's metrics.
func NewLobbyCollector(s *lobby.Server) *LobbyCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tickwire_lobby_"+name, help, labels, nil)
	}
	return &LobbyCollector{
		s:           s,
		players:     d("players", "Players the lobby knows: connected, or holding a seat or a queue place."),
		connected:   d("players_connected", "Player connections to this lobby node."),
		queue:       d("queue_tickets", "Tickets waiting in matchmaking.", "mode", "region"),
		parties:     d("parties", "Parties."),
		rooms:       d("rooms", "Rooms placed on game servers."),
		seats:       d("seats", "Seats held in rooms, claimed or not."),
		servers:     d("game_servers", "Game servers registered: linked now, or down and in their grace.", "state"),
		tcp:         d("tcp_connections", "TCP connections open to this node through Server.Listener."),
		storeUp:     d("store_up", "1 while the lobby's store serves (always, in memory); 0 while it is unavailable (Redis down, unreachable or refusing) and the lobby refuses new work."),
		matches:     d("matches_total", "Matches this node's matchmaker made (new rooms and backfills)."),
		matched:     d("players_matched_total", "Players seated by this node's matches."),
		created:     d("rooms_created_total", "Rooms made with room.create through this node."),
		signals:     d("signals_total", "Signals between players and game servers, by what became of them.", "outcome"),
		limits:      d("limits_hit_total", "Requests and connections a limit refused, by limit (SECURITY.md).", "limit"),
		unavailable: d("unavailable_total", "Requests and connections refused with unavailable: the store was unavailable."),
		wait:        d("queue_wait_seconds", "How long the tickets this node matched had waited in the queue."),
	}
}

// Describe implements prometheus.Collector.
func (c *LobbyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.players, c.connected, c.queue, c.parties, c.rooms, c.seats, c.servers, c.tcp,
		c.storeUp, c.matches, c.matched, c.created, c.signals, c.limits, c.unavailable, c.wait} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LobbyCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.s.Metrics()
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.players, m.Players)
	gauge(c.connected, m.Connected)
	for _, q := range m.Queues {
		gauge(c.queue, q.Tickets, q.Mode, q.Region)
	}
	gauge(c.parties, m.Parties)
	gauge(c.rooms, m.Rooms)
	gauge(c.seats, m.Seats)
	gauge(c.servers, m.GameServers, "linked")
	gauge(c.servers, m.GameServersDown, "down")
	gauge(c.tcp, m.TCPConns)
	up := 1
	if m.StoreDown {
		up = 0
	}
	gauge(c.storeUp, up)
	counter(c.matches, m.MatchesMade)
	counter(c.matched, m.PlayersMatched)
	counter(c.created, m.RoomsCreated)
	counter(c.signals, m.SignalsRelayed, "relayed")
	counter(c.signals, m.SignalsRefused, "refused")
	counter(c.signals, m.SignalsDropped, "dropped")
	for limit, n := range m.LimitsHit {
		counter(c.limits, n, limit)
	}
	counter(c.unavailable, m.Unavailable)
	ch <- histogram(c.wait, m.QueueWait)
}

// histogram turns a lobby.Histogram into a Prometheus one, whose buckets
// are cumulative.
func histogram(d *prometheus.Desc, h lobby.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		buckets[b] = n
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
