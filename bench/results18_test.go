package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestParseBenchOutput parses go test -bench output as the lobby's
// benchmarks print it (the first case is a real run's, verbatim).
func TestParseBenchOutput(t *testing.T) {
	modes := lobbyModeNames()
	res := func(bench, mode string, n int, metrics map[string]float64) benchResult {
		name := bench
		if mode != "" {
			name += "/" + mode
		}
		return benchResult{Name: name, Bench: bench, Mode: mode, N: n, Metrics: metrics}
	}
	for _, c := range []struct {
		name    string
		out     string
		want    benchOutput
		wantErr string // a substring of the error; "" for none
	}{
		{
			name: "real run, GOMAXPROCS 2",
			out: `goos: linux
goarch: amd64
pkg: github.com/tickwire/tickwire/lobby
cpu: Oxide Virtual Turin-like Processor             
BenchmarkSignalRelay/memory-2         	    3000	     90961 ns/op	        60.00 p50-us	       364.0 p99-us
BenchmarkSignalRelay/redis-1-2        	    3000	    313204 ns/op	       277.0 p50-us	      1037 p99-us
BenchmarkSignalRelay/redis-3-2        	    3000	    450099 ns/op	       291.0 p50-us	      2617 p99-us
PASS
ok  	github.com/tickwire/tickwire/lobby	4.071s
`,
			want: benchOutput{Results: []benchResult{
				res("BenchmarkSignalRelay", "memory", 3000, map[string]float64{"ns/op": 90961, "p50-us": 60, "p99-us": 364}),
				res("BenchmarkSignalRelay", "redis-1", 3000, map[string]float64{"ns/op": 313204, "p50-us": 277, "p99-us": 1037}),
				res("BenchmarkSignalRelay", "redis-3", 3000, map[string]float64{"ns/op": 450099, "p50-us": 291, "p99-us": 2617}),
			}},
		},
		{
			// No suffix at GOMAXPROCS 1: "redis-1" is the mode, not redis at 1.
			name: "GOMAXPROCS 1, CRLF, name line before logs",
			out: "BenchmarkMatchRate/memory\r\n    cluster_bench_test.go:99: a log line\r\n" +
				"BenchmarkMatchRate/memory \t 5\t 116456725 ns/op\t 3435 tickets/s\r\n" +
				"BenchmarkMatchRate/redis-1 \t 5\t 113363916 ns/op\t 3528 tickets/s\r\n",
			want: benchOutput{Results: []benchResult{
				res("BenchmarkMatchRate", "memory", 5, map[string]float64{"ns/op": 116456725, "tickets/s": 3435}),
				res("BenchmarkMatchRate", "redis-1", 5, map[string]float64{"ns/op": 113363916, "tickets/s": 3528}),
			}},
		},
		{
			name: "malformed line left out, the others kept",
			out: `BenchmarkClusterJoinToOpen/memory-2         	      60	  13826671 ns/op	         9.590 p50-ms	        70.88 p99-ms
BenchmarkClusterJoinToOpen/redis-1-2        	      60	  16083300 ns/op	        fast p50-ms	        38.52 p99-ms
BenchmarkClusterJoinToOpen/redis-3-2        	      60	  23999508 ns/op	        15.76 p50-ms	       263.2 p99-ms
`,
			want: benchOutput{Results: []benchResult{
				res("BenchmarkClusterJoinToOpen", "memory", 60, map[string]float64{"ns/op": 13826671, "p50-ms": 9.59, "p99-ms": 70.88}),
				res("BenchmarkClusterJoinToOpen", "redis-3", 60, map[string]float64{"ns/op": 23999508, "p50-ms": 15.76, "p99-ms": 263.2}),
			}},
			wantErr: `line 2 "BenchmarkClusterJoinToOpen/redis-1-2`,
		},
		{
			name:    "value without its unit",
			out:     "BenchmarkMatchRate/redis-3-2\t5\t197020545 ns/op\t2030\n",
			want:    benchOutput{},
			wantErr: "value and unit pairs",
		},
		{
			name:    "iterations not a count",
			out:     "BenchmarkMatchRate/memory-2\tfive\t1 ns/op\n",
			want:    benchOutput{},
			wantErr: "not a positive count",
		},
		{
			name: "skipped and failed sub-benchmarks",
			out: `BenchmarkMatchRate/memory-2 	5	116456725 ns/op	3435 tickets/s
--- SKIP: BenchmarkMatchRate/redis-1
    redistest.go:40: redis-server not found; install it
--- FAIL: BenchmarkMatchRate/redis-3
    cluster_bench_test.go:70: dial: connection refused
FAIL
exit status 1
`,
			want: benchOutput{
				Results: []benchResult{res("BenchmarkMatchRate", "memory", 5, map[string]float64{"ns/op": 116456725, "tickets/s": 3435})},
				Notes: []benchNote{
					{Name: "BenchmarkMatchRate/redis-1", Kind: "SKIP", Reason: "redistest.go:40: redis-server not found; install it"},
					{Name: "BenchmarkMatchRate/redis-3", Kind: "FAIL", Reason: "cluster_bench_test.go:70: dial: connection refused"},
				},
			},
		},
		{
			name: "no sub-benchmark",
			out:  "BenchmarkEncode-8   1000000   1042 ns/op   64 B/op   1 allocs/op\n",
			want: benchOutput{Results: []benchResult{
				res("BenchmarkEncode", "", 1000000, map[string]float64{"ns/op": 1042, "B/op": 64, "allocs/op": 1}),
			}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseBenchOutput(c.out, modes)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("error %v, want one with %q", err, c.wantErr)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestIssue18Markdown renders the section from canned output.
func TestIssue18Markdown(t *testing.T) {
	parse := func(name, out string) *lobbyBench {
		o, err := parseBenchOutput(out, lobbyModeNames())
		if err != nil {
			t.Fatal(err)
		}
		return &lobbyBench{name: name, n: 5, shown: "go test -bench '^" + name + "$'", took: 3 * time.Second, out: o}
	}
	d := &issue18Doc{
		match: parse("BenchmarkMatchRate", "BenchmarkMatchRate/memory-2\t5\t1 ns/op\t9360 tickets/s\n"+
			"BenchmarkMatchRate/redis-1-2\t5\t1 ns/op\t3150 tickets/s\nBenchmarkMatchRate/redis-3-2\t5\t1 ns/op\t3710 tickets/s\n"),
		open: parse("BenchmarkClusterJoinToOpen", "BenchmarkClusterJoinToOpen/memory-2\t60\t1 ns/op\t10.44 p50-ms\t44 p99-ms\n"),
		signal: parse("BenchmarkSignalRelay", "BenchmarkSignalRelay/memory-2\t9\t1 ns/op\t40 p50-us\t193 p99-us\n"+
			"BenchmarkSignalRelay/redis-1-2\t9\t1 ns/op\t260 p50-us\t1232 p99-us\nBenchmarkSignalRelay/redis-3-2\t9\t1 ns/op\t163 p50-us\t1033 p99-us\n"),
	}
	var md bytes.Buffer
	writeIssue18Markdown(&md, d)
	out := md.String()
	for _, s := range []string{
		"| | one node, in memory | one node on Redis | three nodes on Redis |",
		"| tickets matched per second | 9360 | 3150 | 3710 |",
		"| queue to both channels open, p50 | 10.4 ms | — | — |",
		"| one signal, player to game server, p99 | 193 us | 1232 us | 1033 us |",
		"Cross-node signaling adds -97 us at p50 and -199 us at p99",
		"Against one node in memory, where a signal never leaves the process: +123 us at p50, +840 us at p99.",
		"go test -bench '^BenchmarkSignalRelay$'    # 3s",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("section lacks %q", s)
		}
	}
	if t.Failed() {
		t.Log(out)
	}

	md.Reset()
	writeIssue18Markdown(&md, &issue18Doc{noRedis: "redis-server is not on PATH", match: d.match})
	if s := "**Redis modes not measured**: redis-server is not on PATH"; !strings.Contains(md.String(), s) {
		t.Errorf("section without Redis lacks %q:\n%s", s, md.String())
	}
	md.Reset()
	writeIssue18Markdown(&md, &issue18Doc{skipped: "-lobby=false"})
	if s := "Not measured: -lobby=false."; !strings.Contains(md.String(), s) {
		t.Errorf("skipped section lacks %q:\n%s", s, md.String())
	}
}

// TestLobbyUsage: bad counts are refused before anything runs.
func TestLobbyUsage(t *testing.T) {
	for _, args := range [][]string{{"lobby", "-match-n", "0"}, {"lobby", "extra"}, {"results", "-lobby-signal-n", "0"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, newEnv(strings.NewReader(""), &stdout, &stderr)); code != 2 {
			t.Errorf("bench %q: exit %d, want 2", args, code)
		}
		if stdout.Len() != 0 {
			t.Errorf("bench %q printed on stdout: %s", args, stdout.String())
		}
	}
}
