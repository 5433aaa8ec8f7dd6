package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIssue16Markdown renders the issue 16 section and goals from canned
// compares: the measurements are the other tests' business.
func TestIssue16Markdown(t *testing.T) {
	m := func(name string, base, head float64) compareMetric {
		x := head / base
		return compareMetric{Name: name, Base: base, Head: head, Ratio: &x, BaseRuns: []float64{base}, HeadRuns: []float64{head}}
	}
	rep := func(head string, metrics ...compareMetric) *compareReport {
		r := &compareReport{Base: compareSide{Commit: "907f4b313aaaa"}, Metrics: metrics}
		if head != "" {
			r.HeadReports = []json.RawMessage{json.RawMessage(head)}
		}
		return r
	}
	d := newIssue16Doc("907f4b3", 1, 20*time.Second, "go")
	d.ccu500.r = rep("", m("server_cpu_per_snapshot_us", 60, 15))
	d.grid.r = rep("", m("cells[loss=0,delay_ms=25].results[transport=netcode].wire_packets_per_msg", 7, 1.1),
		m("cells[loss=0.05,delay_ms=75].results[transport=netcode].wire_packets_per_msg", 4.8, 1.7))
	d.idle.r = rep(`{"own_goroutines":[{"function":"github.com/tickwire/tickwire/netcode.(*peer).run","per_session":1}]}`,
		m("cpu_ratio", 4.5, 1.2), m("results[name=netcode].own_goroutines_per_session", 8, 1), m("results[name=netcode].heap_bytes_per_session", 160<<10, 90<<10))
	d.connect.r = rep(`{"params":{"chromium":"Chromium 156"}}`, m("results[name=go-netcode].p50_ms", 6, 2), m("results[name=chromium-netcode].p50_ms", 9.5, 9))
	d.ccu1000.err = errors.New("exit status 1\nmore")
	var md bytes.Buffer
	writeResultsMarkdown(&md, resultsDoc{started: time.Now(), rtt: &rttReport{}, loss: &lossReport{}, grid: &gridReport{}, issue16: d})
	out := md.String()
	for _, s := range []string{
		"| issue 16: server CPU per snapshot, 500 clients at 30 Hz, ≤ 1/3 of 907f4b3's | 15.0 us vs 60.0 us: 0.25× | yes |",
		"| issue 16: netcode packets per message at 0% loss, 25 ms ≤ 1.2 | 1.10 (907f4b3: 7.00) | yes |",
		"| issue 16: netcode packets per message at 5% loss, 75 ms ≤ 1.5 | 1.70 (907f4b3: 4.80) | **no** |",
		"| issue 16: netcode packets per message at 0% loss, 0 ms ≤ 1.2 | not measured | **no** |",
		"| issue 16: 100 idle sessions cost ≤ 1.3× the server CPU of 100 bare pion PeerConnections | 1.20× (907f4b3: 4.50×) | yes |",
		"| issue 16: netcode's own goroutines per session ≤ 2 | 1.00 (907f4b3: 8.00) | yes |",
		"| issue 16: server heap per idle session ≤ 100 KiB | 90 KiB (907f4b3: 160 KiB) | yes |",
		"| issue 16: 1000 clients at 30 Hz, the server under one core | failed: exit status 1 | **no** |",
		"| issue 16: go-netcode, offer to both channels open, p50 ≤ ½ of 907f4b3's | 2.0 ms vs 6.0 ms: 0.33× | yes |",
		"| issue 16: chromium-netcode, offer to both channels open, p50 ≤ ½ of 907f4b3's | 9.0 ms vs 9.5 ms: 0.95× | **no** |",
		"## Issue 16: netcode's session core against 907f4b3 (`compare`)",
		"**1000 clients failed**",
		"| `.(*peer).run` | 1.00 |",
		"| `server_cpu_per_snapshot_us` | 60 | 15 | 0.250 | 0%, 0% |",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("write-up lacks %q", s)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestCCU1000Verdict(t *testing.T) {
	kept := ccuReport{Params: ccuParams{Clients: 1000}, ClientsConnected: 1000, Delivered: 0.995, Ticks: 300, TicksExpected: 300, ServerCPUCores: 0.8}
	if m, ok := ccu1000Verdict(&kept); !ok || !strings.HasPrefix(m, "measured: 0.80 cores") {
		t.Errorf("clients kept up, 0.8 cores: %q, %v", m, ok)
	}
	starved := kept
	starved.Delivered, starved.ServerCPUCores = 0.2, 0.9
	if _, ok := ccu1000Verdict(&starved); ok {
		t.Error("starved clients and no projection: met")
	}
	starved.Projection = &ccuProjection{ServerCPUCores: 1.4, ClientsKeptUp: true, Phases: []ccuProjectionPhase{{Hz: 2}, {Hz: 8}}}
	if m, ok := ccu1000Verdict(&starved); ok || !strings.Contains(m, "projected from 2 Hz and 8 Hz: 1.40 cores") {
		t.Errorf("projected 1.4 cores: %q, %v", m, ok)
	}
	starved.Projection.ServerCPUCores = 0.7
	if _, ok := ccu1000Verdict(&starved); !ok {
		t.Error("projected 0.7 cores where the clients kept up: not met")
	}
	starved.Projection.ClientsKeptUp = false
	if m, ok := ccu1000Verdict(&starved); ok || !strings.Contains(m, "lower bound") {
		t.Errorf("projection from starved clients: %q, %v", m, ok)
	}
}
