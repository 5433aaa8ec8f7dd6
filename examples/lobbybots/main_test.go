package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBots runs two bots through a real lobby on loopback, against a
// stand-in for the lobby command's game: it welcomes each player and sends
// it a world with its dot at 50 Hz.
func TestBots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	ls, err := lobby.NewServer(&lobby.Config{Modes: map[string]lobby.Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ls)
	ns, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := ls.AttachGameServer(ctx, ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	gctx, stopGame := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var id uint16
		for {
			p, err := gs.Accept(gctx)
			if err != nil {
				return
			}
			id++
			wg.Add(1)
			go func(id uint16) {
				defer wg.Done()
				ev, _ := dots.EncodeEvent(dots.Event{Type: dots.EventWelcome, Room: p.Room, ID: id, Player: p.ID})
				_ = p.Session.SendEvent(ev)
				world, _ := netcode.NewWorld(nil)
				if err := world.Register("dot", dots.Dot{}); err != nil {
					panic(err)
				}
				world.Join(p.Session)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				st := dots.PlayerState{ID: id}
				for {
					select {
					case <-tick.C:
					case <-p.Session.Done():
						return
					case <-gctx.Done():
						return
					}
					for _, in := range p.Session.ReadInputs(nil) {
						if mv, err := dots.DecodeMove(in.Payload); err == nil {
							st.Apply(mv)
						}
					}
					_ = world.Set(uint32(id), dots.Dot{X: float64(st.X), Y: float64(st.Y), Player: true})
					_ = world.Tick()
				}
			}(id)
		}
	}()
	defer func() {
		stopGame()
		wg.Wait()
		_ = gs.Close()
		_ = ns.Close()
		_ = ls.Close()
		hs.Close()
		http.DefaultClient.CloseIdleConnections()
	}()

	var out bytes.Buffer
	results := run(ctx, options{Lobby: hs.URL, Bots: 2, Mode: "duel", Duration: 500 * time.Millisecond, MatchTimeout: 5 * time.Second, Hz: 30}, &out)
	for _, r := range results {
		if r.Err != nil || r.States == 0 || r.Players != 1 || r.Dot == 0 || r.Room == "" || r.Stats.InputsSent == 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if results[0].Room != results[1].Room {
		t.Errorf("bots in rooms %s and %s, want one", results[0].Room, results[1].Room)
	}
	if !strings.Contains(out.String(), "summary after") {
		t.Errorf("no summary:\n%s", out.String())
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}
