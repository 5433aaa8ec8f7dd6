package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIssue17Markdown renders the issue 17 section and goals from a canned
// report: the measurement is TestReplicationSmoke's business.
func TestIssue17Markdown(t *testing.T) {
	params := replParams{Loss: 0.05, DelayMS: 25, JitterMS: 10, Clients: 4, DurationS: 10, WarmupS: 2, Hz: 30, CubeHz: 60, RenderHz: 60, Budget: 1200}
	d := &issue17Doc{args: []string{"replication", "-duration", "10s"}, took: 31 * time.Second, r: &replReport{Params: params,
		Reference: &replResult{Scene: "reference", Hz: 30, Entities: 1024, Moving: 256, StateBytesPerClientS: 31000, StateBytesPerState: 1030,
			MsgpackBytesPerTick: 60419, MsgpackArrayBytesPerTick: 35843, MsgpackBytesPerS: 1812570, Ratio: 58.5, ArrayRatio: 34.7,
			MoversPerState: 140, MoverSamples: 1000, MoverAgeMean: 3.3, MoverAgeP99: 21, MoverRegressions: 0.44,
			ErrorSamples: 1000, ErrorP50: 2, ErrorP90: 7, ErrorP99: 19, ErrorMax: 31, CarriedErrorP99: 0.04,
			PlayoutDelayMeanMS: 106, TickWallUSPerClient: 280, TickCPUUSPerClient: 190},
		Cubes: &replResult{Scene: "cubes", Hz: 60, Entities: 901, MovedPerTick: 12.3, StateBytesPerClientS: 9200, KbitPerClientS: 73.6,
			BitsPerEntityPerState: 1.36, MsgpackBytesPerTick: 74786, MsgpackArrayBytesPerTick: 63073, Ratio: 487},
	}}
	var md bytes.Buffer
	writeResultsMarkdown(&md, resultsDoc{started: time.Now(), rtt: &rttReport{}, loss: &lossReport{}, grid: &gridReport{}, issue17: d})
	out := md.String()
	for _, s := range []string{
		"| issue 17: reference scene, deltas take ≥ 5× fewer bytes per client than msgpack full state | 31000 B/s vs 1812570 B/s: 58.5× (34.7× against msgpack by position) | yes |",
		"| issue 17: Fiedler's cubes, kbit/s per client ≤ 256 | 73.6 kbit/s, 1.36 bits per cube per snapshot | yes |",
		"## Issue 17: state replication (`replication`)",
		"`go run ./bench replication -duration 10s` (took 31s)",
		"### Reference scene: 1024 entities, 256 moving, 30 Hz",
		"| position error p99 | 19.00 |",
		"| interpolated per mover | 0.04 |",
		"| movers per state | 140.0 of 256 |",
		"### Fiedler's cubes: 901 cubes at 60 Hz",
		"| bits per cube per snapshot | 1.36 |",
		"| World.Tick per client per tick | 280.0 us | wall; CPU time of its thread 190.0 us |",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("write-up lacks %q", s)
		}
	}
	if t.Failed() {
		t.Log(out)
	}

	failed := &issue17Doc{args: []string{"replication"}, err: errors.New("exit status 1\nmore")}
	md.Reset()
	writeIssue17Markdown(&md, failed)
	if !strings.Contains(md.String(), "**Failed**") {
		t.Errorf("a failed run's section: %s", md.String())
	}
	for _, g := range issue17Goals(failed) {
		if g.met || g.measured != "failed: exit status 1" {
			t.Errorf("goal of a failed run: %+v", g)
		}
	}
	if g := issue17Goals(&issue17Doc{skipped: "-replication=false"}); len(g) != 0 {
		t.Errorf("goals of a skipped section: %+v", g)
	}
}
