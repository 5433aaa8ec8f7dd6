package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape is one Gather of a registry, to read values from.
type scrape map[string]*dto.MetricFamily

func gather(t *testing.T, reg *prometheus.Registry) scrape {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := scrape{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf
	}
	return s
}

// value is the value of the metric name with the labels given as
// name=value pairs (a histogram's: its count), or -1 if there is none.
func (s scrape) value(name string, labels ...string) float64 {
	mf := s[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// TestMetrics: the lobby's and the sessions' metrics move as players play:
// connections, queues and their waits, matches, rooms, signals relayed,
// limits hit, sessions by state, round trips, snapshots, bytes, and the
// counters of sessions that ended stay counted.
func TestMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := lobby.NewServer(&lobby.Config{
		Modes:             map[string]lobby.Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}, "solo": {MinPlayers: 1, MaxPlayers: 4, FillWait: -1}},
		MaxRoomSeatsPerIP: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	ns, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{PingInterval: 50 * time.Millisecond}, UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	gs, err := srv.AttachGameServer(ctx, ns, &lobby.GameServerConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	gctx, stopGame := context.WithCancel(ctx)
	defer stopGame()
	wg.Add(1)
	go func() { defer wg.Done(); serveGame(gctx, gs, &wg) }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewLobbyCollector(srv), NewSessionCollector(ns))
	before := gather(t, reg)
	for _, name := range []string{"tickwire_lobby_matches_total", "tickwire_lobby_players_connected", "tickwire_netcode_snapshots_sent_total",
		"tickwire_netcode_bytes_total"} {
		if v := before.value(name); v != 0 {
			t.Errorf("%s = %v before anyone played, want 0", name, v)
		}
	}

	dial := func(name string) *lobby.Client {
		tok, err := lobby.GuestToken(ctx, hs.URL, name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := lobby.Dial(ctx, hs.URL, tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// A lone ticket waits in its queue.
	loner := dial("loner")
	if _, err := loner.Queue(ctx, "solo", "eu", 1000); err != nil {
		t.Fatal(err)
	}
	if v := gather(t, reg).value("tickwire_lobby_queue_tickets", "mode", "solo", "region", "eu"); v != 1 {
		t.Errorf("queue_tickets{solo,eu} = %v, want 1", v)
	}
	// One address may hold at most 2 seats in rooms nobody plays in yet: a
	// host's room of 2 takes them, and a second room is refused.
	host, other := dial("host"), dial("other")
	if _, err := host.CreateRoom(ctx, lobby.RoomOptions{Mode: "duel"}); err != nil {
		t.Fatal(err)
	}
	var le *lobby.Error
	if _, err := other.CreateRoom(ctx, lobby.RoomOptions{Mode: "duel"}); !errors.As(err, &le) || le.Code != lobby.CodeTooManyRooms {
		t.Fatalf("second room: %v, want too_many_rooms", err)
	}
	if err := host.Leave(ctx); err != nil {
		t.Fatal(err)
	}

	// Two players play a duel.
	var players []*netcode.Client
	var lcs []*lobby.Client
	for _, name := range []string{"ada", "grace"} {
		c := dial(name)
		if _, err := c.Queue(ctx, "duel", "", 1000); err != nil {
			t.Fatal(err)
		}
		lcs = append(lcs, c)
	}
	for _, c := range lcs {
		m, err := c.WaitMatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := c.Connect(ctx, m, &netcode.ClientConfig{Config: netcode.Config{PingInterval: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		players = append(players, nc)
	}
	var s scrape
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, nc := range players {
			_ = nc.SendInput([]byte("move"))
			_ = nc.SendEvent([]byte("hi"))
			_, _ = nc.ReadSnapshot(ctx)
		}
		s = gather(t, reg)
		if s.value("tickwire_netcode_rtt_seconds") == 2 && s.value("tickwire_netcode_inputs_total", "outcome", "received") > 0 &&
			s.value("tickwire_netcode_events_total", "direction", "received") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no round trips, inputs or events measured on both sessions in 20s: rtt count %v",
				s.value("tickwire_netcode_rtt_seconds"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range []struct {
		name   string
		labels []string
		min    float64 // at least
		max    float64 // at most; -1 for no bound
	}{
		{"tickwire_lobby_players_connected", nil, 5, 5}, // loner, host, other, ada, grace
		{"tickwire_lobby_players", nil, 5, 5},
		{"tickwire_lobby_matches_total", nil, 1, 1},
		{"tickwire_lobby_players_matched_total", nil, 2, 2},
		{"tickwire_lobby_queue_wait_seconds", nil, 2, 2},
		{"tickwire_lobby_rooms", nil, 1, 1},
		{"tickwire_lobby_seats", nil, 2, 2},
		{"tickwire_lobby_rooms_created_total", nil, 1, 1},
		{"tickwire_lobby_signals_total", []string{"outcome", "relayed"}, 2, -1}, // an offer and an answer, at least
		{"tickwire_lobby_limits_hit_total", []string{"limit", lobby.LimitRooms}, 1, 1},
		{"tickwire_lobby_game_servers", []string{"state", "linked"}, 1, 1},
		{"tickwire_lobby_store_up", nil, 1, 1},
		{"tickwire_netcode_sessions", []string{"state", "connected"}, 2, 2},
		{"tickwire_netcode_snapshots_sent_total", nil, 1, -1},
		{"tickwire_netcode_bytes_total", []string{"direction", "out"}, 1, -1},
		{"tickwire_netcode_bytes_total", []string{"direction", "in"}, 1, -1},
		{"tickwire_netcode_events_total", []string{"direction", "sent"}, 1, -1},
		{"tickwire_netcode_sessions_ended_total", nil, 0, 0},
		{"tickwire_netcode_udp_datagrams_total", []string{"result", "read"}, 1, -1},
	} {
		v := s.value(w.name, w.labels...)
		if v < w.min || (w.max >= 0 && v > w.max) {
			t.Errorf("%s%v = %v, want %v..%v", w.name, w.labels, v, w.min, w.max)
		}
	}

	// The sessions end: their counts stay, and the lobby lets them go.
	sent := s.value("tickwire_netcode_snapshots_sent_total")
	for _, nc := range players {
		_ = nc.Close()
	}
	waitScrape(t, reg, "sessions ended", func(s scrape) bool {
		return s.value("tickwire_netcode_sessions_ended_total") == 2 && s.value("tickwire_netcode_sessions", "state", "connected") == 0 &&
			s.value("tickwire_lobby_rooms") == 0
	})
	if v := gather(t, reg).value("tickwire_netcode_snapshots_sent_total"); v < sent {
		t.Errorf("snapshots_sent_total went from %v to %v as sessions ended: a counter never goes down", sent, v)
	}

	// And it is all on /metrics.
	ms := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ms.Close()
	resp, err := http.Get(ms.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tickwire_lobby_queue_wait_seconds_bucket", "tickwire_netcode_rtt_seconds_bucket", `limit="room_budget"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func waitScrape(t *testing.T, reg *prometheus.Registry, what string, cond func(scrape) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond(gather(t, reg)) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveGame is a game that sends every player snapshots at 50 Hz and
// reads what it sends.
func serveGame(ctx context.Context, gs *lobby.GameServer, wg *sync.WaitGroup) {
	for {
		p, err := gs.Accept(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					_ = p.Session.SendSnapshot([]byte("snapshot"))
					p.Session.ReadInputs(nil)
					for _, ev := range p.Session.ReadEvents(nil) {
						_ = p.Session.SendEvent(ev)
					}
				case <-p.Session.Done():
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

// TestDashboard: every Tickwire metric docs/grafana-dashboard.json graphs
// is one the collectors export.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct{ Targets []struct{ Expr string } }
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	srv, err := lobby.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ns, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	// What the collectors describe, whether or not they have a sample now
	// (a queue's length is there only while it has tickets).
	have := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	NewLobbyCollector(srv).Describe(ch)
	NewSessionCollector(ns).Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			have[m[1]] = true
		}
	}
	name := regexp.MustCompile(`tickwire_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, m := range name.FindAllString(q.Expr, -1) {
				n++
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if !have[base] {
					t.Errorf("the dashboard graphs %s, which no collector exports", m)
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("the dashboard queries %d Tickwire metrics; it should graph them all", n)
	}
}
