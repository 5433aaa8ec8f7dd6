package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// chromiumForTest returns the Chromium to test with, or "" to leave the
// browser rows out; under CI it must be there.
func chromiumForTest(t *testing.T) string {
	t.Helper()
	const path = "/usr/bin/chromium"
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: apt-get install -y chromium", path)
		}
		t.Logf("%s is missing (apt-get install -y chromium): Go rows only", path)
		return ""
	}
	return path
}

// TestConnectSmoke: every client connects to every server it is paired
// with, and SNAP is negotiated exactly where both ends enable it.
// Times are not asserted.
func TestConnectSmoke(t *testing.T) {
	chromium := chromiumForTest(t)
	html := filepath.Join(t.TempDir(), "connect.html")
	var r connectReport
	decodeOne(t, runBench(t, "connect", "-n", "3", "-batch", "2", "-chromium", chromium, "-delay", "5ms", "-delay-n", "3",
		"-json", "-html", html), &r)
	want := []string{"go-netcode", "go-bare", "go-bare-snap"}
	if chromium != "" {
		for _, c := range []string{"chromium", "chromium-trial"} {
			for _, s := range []string{"netcode", "bare", "bare-snap"} {
				want = append(want, c+"-"+s)
			}
		}
		if !strings.HasPrefix(r.Params.Chromium, "Chromium") || !slices.Equal(r.Params.TrialFlags, []string{"--force-fieldtrials=" + snapFieldTrial}) {
			t.Errorf("params %+v", r.Params)
		}
	} else if !strings.HasPrefix(r.Params.Chromium, "not run") {
		t.Errorf("chromium %q, want not run", r.Params.Chromium)
	}
	want = append(want, "go-netcode-vnet-5ms", "go-bare-vnet-5ms", "go-bare-snap-vnet-5ms")
	if r.Params.DelayMS != 5 || r.Params.DelayN != 3 {
		t.Errorf("vnet params %+v", r.Params)
	}
	if got := transportNames(r.Results, func(r connectResult) string { return r.Name }); !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for _, res := range r.Results {
		if res.N != 3 || res.Failed != 0 || len(res.Errors) != 0 {
			t.Errorf("%s: %d connections, %d failed: %v", res.Name, res.N, res.Failed, res.Errors)
		}
		if !(0 < res.P50MS && res.P50MS <= res.P99MS && res.P99MS <= res.MaxMS) {
			t.Errorf("%s: percentiles out of order: %+v", res.Name, res)
		}
		// pion offers sctp-init only with SNAP on, as netcode has it and
		// the bare-snap pairs do; a pion answerer answers with it only to
		// an offer that had it, and only with SNAP on. Chromium offers it
		// only in its field trial.
		snapServer := strings.HasSuffix(res.Name, "-snap") || strings.Contains(res.Name, "-snap-") || strings.Contains(res.Name, "netcode")
		switch {
		case strings.HasPrefix(res.Name, "go-") && snapServer:
			if res.OfferSctpInit != 1 || res.AnswerSctpInit != 1 {
				t.Errorf("%s: sctp-init in %v of offers, %v of answers; want all", res.Name, res.OfferSctpInit, res.AnswerSctpInit)
			}
		case snapServer:
			if res.AnswerSctpInit != res.OfferSctpInit {
				t.Errorf("%s: sctp-init in %v of offers, %v of answers; want the same", res.Name, res.OfferSctpInit, res.AnswerSctpInit)
			}
		default:
			if res.AnswerSctpInit != 0 {
				t.Errorf("%s: sctp-init in %v of answers, want none", res.Name, res.AnswerSctpInit)
			}
		}
		if strings.HasPrefix(res.Name, "chromium-") && !strings.HasPrefix(res.Name, "chromium-trial-") && res.OfferSctpInit != 0 {
			t.Errorf("%s: Chromium offered sctp-init without its field trial", res.Name)
		}
	}
	checkHTML(t, html, []string{"go-bare-snap"})
}
