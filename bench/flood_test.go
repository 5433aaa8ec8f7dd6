package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestFloodSmoke: a short flood run reports a phase without flood, and a
// dead-port and a game-port phase per rate, with the flooder's packets
// dropped by the server as unknown only when it floods the game port.
func TestFloodSmoke(t *testing.T) {
	html := filepath.Join(t.TempDir(), "flood.html")
	var r floodReport
	decodeOne(t, runBench(t, "flood", "-rates", "2000", "-duration", "1s", "-players", "1", "-json", "-html", html), &r)
	var targets []string
	for _, ph := range r.Phases {
		targets = append(targets, ph.Target)
		if ph.N == 0 || ph.Lost == ph.N {
			t.Errorf("%s: %d trips, %d lost", ph.Target, ph.N, ph.Lost)
		}
		switch ph.Target {
		case "game":
			if ph.Sent == 0 || ph.Dropped == 0 || ph.Dropped > ph.Sent {
				t.Errorf("game port: %d sent, %d dropped by the server", ph.Sent, ph.Dropped)
			}
		case "dead":
			if ph.Sent == 0 || ph.Dropped != 0 {
				t.Errorf("dead port: %d sent, %d dropped by the server", ph.Sent, ph.Dropped)
			}
		}
	}
	if !slices.Equal(targets, []string{"none", "dead", "game"}) {
		t.Fatalf("phases %v", targets)
	}
	checkHTML(t, html, []string{"2000/s dead", "2000/s game"})
}
