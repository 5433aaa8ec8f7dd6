package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBrowserSmoke: a short browser run reports the three clients with
// every round trip back, a page load to open for each tab, the two
// clients' sizes and the goals judged. It needs chromium and the
// TypeScript client's build (make js); without them it skips, or fails
// under CI=true.
func TestBrowserSmoke(t *testing.T) {
	if _, err := findChromium(""); err != nil {
		benchMissing(t, "chromium", "apt-get install -y chromium")
	}
	if _, err := os.Stat("../js/dist/tickwire.js"); err != nil {
		benchMissing(t, "the TypeScript client (js/dist)", "make js")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH to build the wasm client")
	}
	html := filepath.Join(t.TempDir(), "browser.html")
	var r browserReport
	decodeOne(t, runBench(t, "browser", "-root", "..", "-n", "20", "-rounds", "1", "-json", "-html", html), &r)
	if len(r.Clients) != 3 {
		t.Fatalf("clients %+v", r.Clients)
	}
	for i, c := range r.Clients {
		if c.Transport != browserClients[i] || c.N != 20 || c.Lost != 0 || len(c.OpenMs) != 1 || c.OpenMs[0] <= 0 || c.P50 <= 0 {
			t.Errorf("client %+v", c)
		}
	}
	if r.Sizes.TSGzipped <= 0 || r.Sizes.TSGzipped > r.Sizes.TSBudgetGzip || r.Sizes.WASMGzipped <= r.Sizes.TSGzipped {
		t.Errorf("sizes %+v", r.Sizes)
	}
	if r.Goals.P50Ratio <= 0 || r.Goals.OpenP50Ms <= 0 {
		t.Errorf("goals %+v", r.Goals)
	}
	checkHTML(t, html, browserClients)
}

func benchMissing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing and CI=true: %s", what, install)
	}
	t.Skipf("%s is missing; install it: %s", what, install)
}
