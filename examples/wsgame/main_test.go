package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestDemo plays the demo for a short while: a server and two players
// over WebSocket signaling on loopback, each player getting snapshots.
func TestDemo(t *testing.T) {
	if err := demoFor(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
}
