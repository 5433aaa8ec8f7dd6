//go:build !js

package lobby

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v5/vnet"
	"github.com/tickwire/tickwire/internal/vnetpair"
	"github.com/tickwire/tickwire/netcode"
)

// TestGameResumesThroughLobby: the game path (a virtual network) is cut
// until the player's netcode client gives up on its PeerConnection; the
// resume offer, its answer with the next token, and the new candidates go
// through the lobby like any signal, the game server routes them to the
// player's existing session, and the same session carries on: the seat
// stays claimed, the game server sees no new player, events flow.
func TestGameResumesThroughLobby(t *testing.T) {
	var cut atomic.Bool
	serverNet, clientNet, stop, err := vnetpair.New(5*time.Millisecond, func(vnet.Chunk) bool { return !cut.Load() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })

	ns, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: serverNet}}, UDPAddr: vnetpair.ServerIP + ":7000"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	ctx := ctxTimeout(t, 60*time.Second)
	gs, err := srv.AttachGameServer(ctx, ns, &GameServerConfig{Capacity: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })

	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "duel"})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := a.Connect(ctx, m, &netcode.ClientConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: clientNet}}, RestartTimeout: time.Second})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()
	p, err := gs.Accept(ctx)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	defer p.Session.Close("test over")
	eventRoundTrip(t, ctx, nc, p.Session, "before the cut")

	cut.Store(true)
	if err := nc.SendEvent([]byte("during the cut")); err != nil {
		t.Fatal(err)
	}
	waitStates(t, ctx, nc.StateChanges(), netcode.StateResuming)
	cut.Store(false)
	sc := waitStates(t, ctx, nc.StateChanges(), netcode.StateConnected)
	if !strings.Contains(sc.Reason, "resumed") {
		t.Fatalf("connected again %q, want by a resume", sc.Reason)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ev, err := p.Session.ReadEvent(rctx); err != nil || string(ev) != "during the cut" {
		t.Fatalf("the event sent during the cut: %q, %v", ev, err)
	}
	eventRoundTrip(t, ctx, nc, p.Session, "after the resume")
	if st := nc.Stats(); st.Resumes != 1 {
		t.Fatalf("client Resumes = %d, want 1", st.Resumes)
	}
	if err := p.Session.Err(); err != nil {
		t.Fatalf("the game server's session ended: %v", err)
	}
	actx, acancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer acancel()
	if q, err := gs.Accept(actx); err == nil {
		t.Fatalf("the resume surfaced as a new player %s", q.ID)
	}
	if st := srv.Stats(); st.Seats != 1 {
		t.Fatalf("lobby stats %+v, want the one seat", st)
	}
}

// waitStates reads state changes until want, and returns that change.
func waitStates(t *testing.T, ctx context.Context, ch <-chan netcode.StateChange, want netcode.State) netcode.StateChange {
	t.Helper()
	for {
		select {
		case sc := <-ch:
			t.Logf("state %v: %s", sc.State, sc.Reason)
			if sc.State == want {
				return sc
			}
		case <-ctx.Done():
			t.Fatalf("no %v state", want)
		}
	}
}
