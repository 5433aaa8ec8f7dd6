package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestIdleSmoke: a small idle run measures both kinds, each with every
// session connected, and counts netcode's own goroutines for netcode only.
// Costs are machine-dependent and not compared.
func TestIdleSmoke(t *testing.T) {
	html := filepath.Join(t.TempDir(), "idle.html")
	var r idleReport
	decodeOne(t, runBench(t, "idle", "-sessions", "3", "-per-worker", "2", "-duration", "500ms", "-settle", "200ms",
		"-rounds", "2", "-json", "-html", html), &r)
	if r.Scenario != "idle" || r.Params.Sessions != 3 || r.Params.Rounds != 2 {
		t.Errorf("scenario %q params %+v", r.Scenario, r.Params)
	}
	if got := transportNames(r.Results, func(r idleResult) string { return r.Name }); strings.Join(got, ",") != "netcode,bare" {
		t.Fatalf("kinds %v, want netcode, bare", got)
	}
	for _, res := range r.Results {
		if res.Connected != 3 || len(res.Errors) != 0 {
			t.Errorf("%s: %d connected, errors %v", res.Name, res.Connected, res.Errors)
		}
		if res.ServerCPUCores <= 0 || res.GoroutinesPerSession <= 0 || res.HeapBytesPerSession <= 0 || res.ConnectP50MS <= 0 {
			t.Errorf("%s: figures missing: %+v", res.Name, res)
		}
	}
	nc, bare := r.Results[0], r.Results[1]
	if nc.OwnGoroutinesPerSession <= 0 || bare.OwnGoroutinesPerSession != 0 {
		t.Errorf("own goroutines per session: netcode %v, bare %v", nc.OwnGoroutinesPerSession, bare.OwnGoroutinesPerSession)
	}
	if r.CPURatio <= 0 || r.GoroutineRatio <= 0 || r.HeapRatio <= 0 {
		t.Errorf("ratios %v %v %v", r.CPURatio, r.GoroutineRatio, r.HeapRatio)
	}
	var sum float64
	for _, g := range r.OwnGoroutines {
		if !strings.HasPrefix(g.Function, netcodePrefix) {
			t.Errorf("group %q is not netcode's", g.Function)
		}
		sum += g.PerSession
	}
	if sum < nc.OwnGoroutinesPerSession-0.01 || sum > nc.OwnGoroutinesPerSession+0.01 {
		t.Errorf("groups add up to %v, not %v", sum, nc.OwnGoroutinesPerSession)
	}
	checkHTMLTables(t, html, []string{"netcode/bare", "(*peer).run"})
}

func TestCountNetcodeGoroutines(t *testing.T) {
	dump := `goroutine 1 [running]:
main.main()
	/src/main.go:10 +0x1

goroutine 7 [select]:
github.com/pion/sctp.(*Association).readLoop(0xc000123)
	/mod/sctp/association.go:1 +0x2
github.com/tickwire/tickwire/netcode.(*peer).readUnreliable(0xc0001, {0x0, 0x0})
	/src/netcode/link.go:5 +0x3
created by github.com/tickwire/tickwire/netcode.(*peer).start in goroutine 1
	/src/netcode/peer.go:9 +0x4

goroutine 8 [IO wait]:
github.com/tickwire/tickwire/netcode/internal/icemux.(*handle).ReadFromAddrPort(...)
	/src/netcode/internal/icemux/conn.go:1
github.com/pion/ice/v4.(*candidateBase).recvLoop(0xc0002)
	/mod/ice/candidate_base.go:1 +0x5
created by github.com/pion/ice/v4.(*candidateBase).start in goroutine 5
	/mod/ice/candidate_base.go:2 +0x6

goroutine 9 [chan receive]:
github.com/pion/webrtc/v4.(*DataChannel).readLoop(0xc0003)
	/mod/webrtc/datachannel.go:1 +0x6
created by github.com/tickwire/tickwire/netcode.(*peer).open in goroutine 7
	/src/netcode/peer.go:10 +0x7

goroutine 10 [select]:
github.com/tickwire/tickwire/netcode.(*peer).pingLoop.func1()
	/src/netcode/peer.go:20 +0x8
github.com/tickwire/tickwire/netcode.(*peer).pingLoop(0xc0004)
	/src/netcode/peer.go:21 +0x9
`
	total, groups := countNetcodeGoroutines(strings.NewReader(dump))
	want := map[string]int{
		netcodePrefix + ".(*peer).readUnreliable": 1,
		netcodePrefix + ".(*peer).pingLoop":       1,
	}
	if total != 2 || len(groups) != len(want) {
		t.Fatalf("total %d, groups %v; want 2, %v (a goroutine netcode only created, or one pion created that blocks in netcode, is not its own)", total, groups, want)
	}
	for fn, n := range want {
		if groups[fn] != n {
			t.Errorf("%s: %d, want %d (groups %v)", fn, groups[fn], n, groups)
		}
	}
}
