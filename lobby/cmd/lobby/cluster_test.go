package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/redistest"
	"github.com/tickwire/tickwire/lobby"
)

// TestParseConfigCluster: the flags of issue 18 and what they refuse.
func TestParseConfigCluster(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  func(string) string
		err  string // a substring of the error; "" means valid
	}{
		{name: "defaults", args: nil},
		{name: "redis", args: []string{"-redis", "redis://127.0.0.1:6379/0", "-guest-secret", "0123456789abcdef"}},
		{name: "redis from env", env: env("TICKWIRE_LOBBY_REDIS", "unix:///run/redis.sock", "TICKWIRE_LOBBY_GUEST_SECRET", "0123456789abcdef")},
		{name: "redis without a shared secret", args: []string{"-redis", "redis://127.0.0.1:6379/0"}, err: "-guest-secret"},
		{name: "redis not a URL", args: []string{"-redis", "127.0.0.1:6379", "-guest-secret", "0123456789abcdef"}, err: "want a URL"},
		{name: "prefix with braces", args: []string{"-redis-prefix", "{x}"}, err: "braces"},
		{name: "json logs", args: []string{"-log-format", "json"}},
		{name: "other logs", args: []string{"-log-format", "xml"}, err: "want text or json"},
		{name: "pprof", args: []string{"-pprof", "127.0.0.1:6060"}},
		{name: "pprof without port", args: []string{"-pprof", "localhost"}, err: "-pprof"},
		{name: "negative drain", args: []string{"-drain-timeout", "-1s"}, err: "-drain-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := tt.env
			if getenv == nil {
				getenv = env()
			}
			c, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("parseConfig: %v", err)
				}
				if tt.name == "defaults" && (!c.Metrics || c.DrainTimeout != 30*time.Second || c.LogFormat != "text" || c.Redis != "" ||
					c.RedisPrefix != "tickwire" || c.Pprof != "") {
					t.Errorf("defaults: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("parseConfig: %v, want an error with %q", err, tt.err)
			}
		})
	}
}

// TestRunCluster: two lobby commands on one Redis are one lobby: a player
// through each is matched with the other and they play on one node's
// embedded game server; both serve /metrics, and -log-format json logs one
// JSON object a line.
func TestRunCluster(t *testing.T) {
	r := redistest.Start(t)
	var bases []string
	var logs []*syncBuffer
	var stops []func()
	for range 2 {
		cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-modes", "default=2-2", "-redis", r.URL(),
			"-guest-secret", "cluster-secret-0123456789", "-log-format", "json"}, env(), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, base, l, stop := startCommand(t, cfg)
		bases, logs, stops = append(bases, base), append(logs, l), append(stops, stop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, err := range playPair(ctx, bases[0], bases[1]) {
		if err != nil {
			t.Fatal(err)
		}
	}
	var matches float64
	for _, base := range bases {
		body := get(t, base+"/metrics")
		for _, want := range []string{"tickwire_lobby_players", "tickwire_netcode_sessions", "go_goroutines", "tickwire_lobby_store_up 1"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s/metrics lacks %s", base, want)
			}
		}
		matches += metricValue(body, "tickwire_lobby_matches_total")
	}
	if matches != 1 {
		t.Errorf("the nodes made %v matches between them, want 1", matches)
	}
	http.DefaultClient.CloseIdleConnections()
	for _, stop := range stops {
		stop()
	}
	for _, l := range logs {
		sc := bufio.NewScanner(strings.NewReader(l.String()))
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "{") {
				continue // the banner
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] == nil {
				t.Errorf("log line is not a JSON record: %q", line)
			}
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// metricValue reads an unlabelled sample from a Prometheus text page.
func metricValue(page, name string) float64 {
	for _, line := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_ = json.Unmarshal([]byte(v), &f)
			return f
		}
	}
	return -1
}

// TestRunDrain: SIGTERM drains the embedded game server before the
// command stops: /readyz fails at once (no new room would find a server),
// the running game plays on, and the command exits when it ends.
func TestRunDrain(t *testing.T) {
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-modes", "default=2-2", "-drain-timeout", "30s"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	term := make(chan os.Signal, 1)
	cfg.sigterm = term
	logs := &syncBuffer{}
	cfg.out = logs
	baseCh := make(chan string, 1)
	cfg.ready = func(base string) { baseCh <- base }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- run(ctx, cfg) }()
	base := <-baseCh
	defer func() {
		if t.Failed() {
			t.Logf("command output:\n%s", logs.String())
		}
	}()

	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	var players []*lobby.Client
	for i := range 2 {
		tok, err := lobby.GuestToken(pctx, base, "p")
		if err != nil {
			t.Fatal(err)
		}
		c, err := lobby.Dial(pctx, base, tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Queue(pctx, "default", "", float64(i)); err != nil {
			t.Fatal(err)
		}
		players = append(players, c)
	}
	for _, c := range players {
		m, err := c.WaitMatch(pctx)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := c.Connect(pctx, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.World().Next(pctx); err != nil {
			t.Fatal(err)
		}
	}

	term <- syscall.SIGTERM
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %s while draining", resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-runErr:
		t.Fatalf("the command stopped (%v) while its game was being played", err)
	default:
	}
	for _, c := range players {
		if err := c.Leave(pctx); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the command did not stop once its game ended")
	}
	if !strings.Contains(logs.String(), "game server drained") {
		t.Errorf("log lacks the drain:\n%s", logs.String())
	}
}
