package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// ccu re-executes this binary as its client workers.
	if os.Getenv(workerEnv) != "" {
		os.Exit(run(context.Background(), os.Args[1:], newEnv(os.Stdin, os.Stdout, os.Stderr)))
	}
	// Every transport here must shut down completely; a leak would also
	// skew later measurements in the same process.
	goleak.VerifyTestMain(m)
}

// runBench runs a subcommand in-process and returns its stdout; stderr goes
// to the test log when it fails.
func runBench(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	e := newEnv(strings.NewReader(""), &stdout, &stderr)
	if code := run(ctx, args, e); code != 0 {
		t.Fatalf("bench %s: exit %d\nstderr:\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.Bytes()
}

// decodeOne decodes stdout as exactly one JSON object.
func decodeOne(t *testing.T, out []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode output: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value on stdout:\n%s", out)
	}
}

func transportNames[T any](results []T, name func(T) string) []string {
	var out []string
	for _, r := range results {
		out = append(out, name(r))
	}
	return out
}

// checkResult checks what holds of any result whatever the machine: counts
// add up and percentiles are ordered. Never timings.
func checkResult(t *testing.T, r result, n int) {
	t.Helper()
	if r.Error != "" {
		t.Errorf("%s broke: %s", r.Transport, r.Error)
	}
	if r.N != n {
		t.Errorf("%s: n = %d, want %d", r.Transport, r.N, n)
	}
	if r.Lost < 0 || r.Lost >= r.N {
		t.Errorf("%s: lost %d of %d", r.Transport, r.Lost, r.N)
	}
	if !(0 < r.P50 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.Max) {
		t.Errorf("%s: percentiles out of order: %+v", r.Transport, r.latency)
	}
}

func TestRTTSmoke(t *testing.T) {
	html := filepath.Join(t.TempDir(), "rtt.html")
	var r rttReport
	decodeOne(t, runBench(t, "rtt", "-n", "200", "-json", "-html", html), &r)
	if r.Scenario != "rtt" || r.Size != 64 {
		t.Errorf("scenario %q size %d, want rtt 64", r.Scenario, r.Size)
	}
	want := []string{"udp", "websocket", "dc-reliable", "dc-unreliable", "netcode"}
	if got := transportNames(r.Results, func(r result) string { return r.Transport }); !slices.Equal(got, want) {
		t.Fatalf("transports %v, want %v", got, want)
	}
	for _, res := range r.Results {
		checkResult(t, res, 200)
	}
	checkHTML(t, html, want)
}

func checkHTML(t *testing.T, path string, names []string) {
	t.Helper()
	checkHTMLTables(t, path, append([]string{"<svg", "<polyline"}, names...))
}

// checkHTMLTables checks a report with or without charts: complete, self
// contained, and naming names.
func checkHTMLTables(t *testing.T, path string, names []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, s := range append([]string{"<table", "</html>"}, names...) {
		if !strings.Contains(page, s) {
			t.Errorf("HTML report lacks %q", s)
		}
	}
	// Self-contained: nothing fetched, nothing run.
	for _, s := range []string{"<script", "http://", "https://"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), s) {
			t.Errorf("HTML report contains %q", s)
		}
	}
}

func TestRTTTable(t *testing.T) {
	out := string(runBench(t, "rtt", "-n", "20"))
	for _, s := range []string{"transport", "p99", "udp", "websocket", "dc-reliable", "dc-unreliable", "netcode"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func checkLossResults(t *testing.T, results []lossResult, n int) {
	t.Helper()
	want := []string{"dc-reliable", "dc-unreliable", "netcode"}
	if got := transportNames(results, func(r lossResult) string { return r.Transport }); !slices.Equal(got, want) {
		t.Fatalf("transports %v, want %v", got, want)
	}
	for _, r := range results {
		checkResult(t, r.result, n)
		if r.Delivered < 0 || r.Delivered > 1 {
			t.Errorf("%s: delivered %v not in [0, 1]", r.Transport, r.Delivered)
		}
		if r.Delivered != float64(r.N-r.Lost)/float64(r.N) {
			t.Errorf("%s: delivered %v does not match %d lost of %d", r.Transport, r.Delivered, r.Lost, r.N)
		}
		if r.WirePacketsPerMsg <= 0 {
			t.Errorf("%s: %v packets per message", r.Transport, r.WirePacketsPerMsg)
		}
	}
}

func TestLossSmoke(t *testing.T) {
	var r lossReport
	decodeOne(t, runBench(t, "loss", "-loss", "0.05", "-delay", "10ms", "-duration", "1s", "-drain", "1s", "-json"), &r)
	if r.Scenario != "loss" || r.Params.Loss != 0.05 || r.Params.DelayMS != 10 || r.Params.Hz != 60 {
		t.Errorf("scenario %q params %+v", r.Scenario, r.Params)
	}
	checkLossResults(t, r.Results, 60)
	for _, res := range r.Results {
		if res.BackSent != 0 {
			t.Errorf("%s sent %d back without -back-hz", res.Transport, res.BackSent)
		}
	}
}

// TestLossBack: with -back-hz, every transport's client sends messages back
// (netcode as inputs), and packets per message count them too.
func TestLossBack(t *testing.T) {
	var r lossReport
	decodeOne(t, runBench(t, "loss", "-loss", "0", "-delay", "5ms", "-duration", "1s", "-drain", "500ms", "-back-hz", "30", "-json"), &r)
	if r.Params.BackHz != 30 {
		t.Errorf("params %+v", r.Params)
	}
	checkLossResults(t, r.Results, 60)
	for _, res := range r.Results {
		// About 45 over the second the stream lasts and its drain; a loaded
		// machine's ticker may drop some.
		if res.BackSent < 5 || res.BackSent > 60 {
			t.Errorf("%s sent %d back, want about 45 (1.5 s at 30 Hz)", res.Transport, res.BackSent)
		}
	}
}

func TestGridSmoke(t *testing.T) {
	html := filepath.Join(t.TempDir(), "grid.html")
	var r gridReport
	decodeOne(t, runBench(t, "grid", "-losses", "0,0.05", "-delays", "5ms", "-duration", "500ms", "-drain", "500ms",
		"-json", "-html", html), &r)
	if r.Scenario != "grid" || len(r.Cells) != 2 {
		t.Fatalf("scenario %q with %d cells, want grid with 2", r.Scenario, len(r.Cells))
	}
	for i, c := range r.Cells {
		if c.Loss != []float64{0, 0.05}[i] || c.DelayMS != 5 {
			t.Errorf("cell %d: loss %v delay %vms", i, c.Loss, c.DelayMS)
		}
		checkLossResults(t, c.Results, 30)
	}
	checkHTML(t, html, []string{"dc-reliable", "dc-unreliable", "netcode"})
}

func TestCCUSmoke(t *testing.T) {
	html := filepath.Join(t.TempDir(), "ccu.html")
	prof := filepath.Join(t.TempDir(), "ccu.pprof")
	var r ccuReport
	decodeOne(t, runBench(t, "ccu", "-clients", "4", "-per-worker", "2", "-duration", "2s", "-warmup", "200ms",
		"-project", "10,20", "-worker-nice", "5", "-cpuprofile", prof, "-json", "-html", html), &r)
	if r.Scenario != "ccu" || r.Params.Clients != 4 || r.Params.Workers != 2 {
		t.Errorf("scenario %q params %+v", r.Scenario, r.Params)
	}
	if r.ClientsConnected != 4 {
		t.Errorf("clients_connected = %d, want 4; errors: %v", r.ClientsConnected, r.Errors)
	}
	if r.Delivered <= 0 || r.Delivered > 1 {
		t.Errorf("delivered %v not in (0, 1]", r.Delivered)
	}
	if r.SnapshotsSent != r.Ticks*r.ClientsConnected || r.Ticks < 1 {
		t.Errorf("%d snapshots sent in %d ticks to %d clients", r.SnapshotsSent, r.Ticks, r.ClientsConnected)
	}
	if !(0 < r.SnapshotP50US && r.SnapshotP50US <= r.SnapshotP99US && r.SnapshotP99US <= r.SnapshotMaxUS) {
		t.Errorf("snapshot percentiles out of order: %v %v %v", r.SnapshotP50US, r.SnapshotP99US, r.SnapshotMaxUS)
	}
	if r.ServerCPUCores <= 0 || r.ServerCPUPerSnapshotUS <= 0 || r.ServerHeapBytesPerClient <= 0 || r.ServerGoroutinesPerClient <= 0 || r.ConnectP50MS <= 0 {
		t.Errorf("server figures missing: %+v", r)
	}
	if r.Params.WorkerProcs != 1 || r.Params.WorkerNice != 5 {
		t.Errorf("worker params %+v", r.Params)
	}
	// Linux counts the workers' CPU; root counts the server's packets.
	if runtime.GOOS == "linux" && (r.ClientsCPUCores < 0 || r.ClientCPUPerSnapshotUS < 0) {
		t.Errorf("clients' CPU missing: %v cores, %v per snapshot", r.ClientsCPUCores, r.ClientCPUPerSnapshotUS)
	}
	if runtime.GOOS == "linux" && os.Geteuid() == 0 && (r.ServerPacketsInPerSnapshot <= 0 || r.ServerPacketsOutPerSnapshot < 1 || r.ServerCPUPerPacketUS <= 0) {
		// Every snapshot sent is a packet out at least.
		t.Errorf("server packets per snapshot: %v in, %v out", r.ServerPacketsInPerSnapshot, r.ServerPacketsOutPerSnapshot)
	}
	if p := r.Projection; p == nil || len(p.Phases) != 2 || p.Phases[0].Hz != 10 || p.Phases[1].Hz != 20 {
		t.Errorf("projection %+v, want phases at 10 and 20 Hz", p)
	} else {
		for _, ph := range p.Phases {
			if ph.Ticks < 1 || ph.ServerCPUCores <= 0 || ph.Delivered <= 0 || ph.Delivered > 1 {
				t.Errorf("projection phase %+v", ph)
			}
		}
		if p.ServerCPUCores <= 0 {
			t.Errorf("projected %v cores", p.ServerCPUCores)
		}
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("CPU profile not written: %v", err)
	}
	checkHTML(t, html, []string{"snapshot latency", "connect time"})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"rtt", "-n", "0"},
		{"rtt", "extra"},
		{"loss", "-loss", "1"},
		{"grid", "-delays", "fast"},
		{"sctp", "-modes", "lossy"},
		{"sctp", "-back-hz", "-1"},
		{"ccu", "-clients", "0"},
		{"ccu", "-project", "30"},
		{"ccu", "-worker-nice", "20"},
		{"idle", "-rounds", "0"},
		{"connect", "-n", "0"},
		{"compare", "rtt"},
		{"compare", "-base", "HEAD"},
		{"compare", "-base", "HEAD", "-tool", "mine", "rtt"},
		{"compare", "-base", "HEAD", "results"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, newEnv(strings.NewReader(""), &stdout, &stderr)); code != 2 {
			t.Errorf("bench %q: exit %d, want 2", args, code)
		}
		if stdout.Len() != 0 {
			t.Errorf("bench %q printed on stdout: %s", args, stdout.String())
		}
	}
}

// TestResultsMarkdown renders the write-up from canned reports: the
// measurements themselves are the other tests' business.
func TestResultsMarkdown(t *testing.T) {
	lat := latency{P50: 40, P90: 60, P99: 200, Max: 900}
	rtt := &rttReport{Size: 64, Results: []result{
		{Transport: "dc-unreliable", N: 10, latency: lat},
		{Transport: "netcode", N: 10, latency: latency{P50: 45, P90: 70, P99: 250, Max: 990}},
	}}
	loss := &lossReport{Params: lossParams{Loss: 0.05, DelayMS: 25, Hz: 60, Size: 300, DurationS: 10}, Results: []lossResult{
		{result: result{Transport: "dc-reliable", N: 600, latency: latency{P50: 26e3, P90: 1e6, P99: 2.5e6, Max: 3e6}}, Delivered: 1},
		{result: result{Transport: "netcode", N: 600, Lost: 30, latency: latency{P50: 25.5e3, P90: 26e3, P99: 27e3, Max: 30e3}}, Delivered: 0.95},
	}}
	ccu := ccuReport{Params: ccuParams{Clients: 500, Hz: 30}, ClientsConnected: 500, SnapshotP99US: 50e3, Delivered: 0.9, Ticks: 600, TicksExpected: 600}
	var md bytes.Buffer
	writeResultsMarkdown(&md, resultsDoc{
		started: time.Now(), rtt: rtt, loss: loss, grid: &gridReport{}, ccus: []ccuReport{ccu}, goalClients: 500,
		commands: []string{"go run ./bench rtt -json"}, profileTop: "flat flat%\n",
	})
	out := md.String()
	for _, s := range []string{
		"| loopback: netcode p50 ≤ 1.2× dc-unreliable p50 | 45.0 us vs 40.0 us: 1.12× | yes |",
		"netcode p99 within 20% of the delay (≤ 30.0 ms) | 27.0 ms | yes |",
		"dc-reliable p99 in seconds | 2.50 s | yes |",
		"**breaks**: p99 50.0 ms over one tick, 90.0% delivered",
		"go run ./bench rtt -json",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("write-up lacks %q:\n%s", s, out)
		}
	}
}
