package main

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// game is the embedded demo game: a tiny authoritative game per room, in
// which each player is a dot that moves one step per input. The lobby
// matches players into rooms; the game server half (lobby.GameServer)
// hands over each player once its channels are open, and the game keeps one
// room per lobby room id.
//
// One goroutine, loop, owns every room: it admits players, applies inputs,
// and sends each room's snapshot to its players at hz. Only the accept
// goroutine waits on the lobby.
type game struct {
	gs  *lobby.GameServer
	log *slog.Logger
	hz  int

	joins chan *lobby.Player
	rooms map[string]*room // by lobby room id; owned by loop
}

type room struct {
	id, mode string
	tick     uint32
	nextID   uint16
	members  []*member
	// players is the members' sessions, for snapshots: a session leaves
	// it by itself when it closes.
	players *netcode.Room
}

type member struct {
	p     *lobby.Player
	state dots.PlayerState
}

func newGame(gs *lobby.GameServer, log *slog.Logger, hz int) *game {
	return &game{gs: gs, log: log, hz: hz, joins: make(chan *lobby.Player, 64), rooms: map[string]*room{}}
}

// run plays until ctx ends. The sessions stay open: the netcode server's
// shutdown closes them.
func (g *game) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.acceptLoop(ctx)
	}()
	g.loop(ctx)
	wg.Wait()
}

func (g *game) acceptLoop(ctx context.Context) {
	for {
		p, err := g.gs.Accept(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// The lobby link is gone: rooms already running play on,
				// but no one new will come.
				g.log.Error("game: no longer accepting players", "err", err)
			}
			return
		}
		select {
		case g.joins <- p:
		case <-ctx.Done():
			_ = p.Session.Close("game server closing")
			return
		}
	}
}

func (g *game) loop(ctx context.Context) {
	t := time.NewTicker(time.Second / time.Duration(g.hz))
	defer t.Stop()
	// Reused every tick: a tick loop should not allocate much.
	var inputs []netcode.Input
	var events [][]byte
	var snap dots.Snapshot
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-g.joins:
			g.join(p)
		case <-t.C:
			for _, r := range g.rooms {
				g.step(r, &inputs, &events, &snap)
			}
		}
	}
}

// join adds a player to its room, creating the room with its first player,
// and introduces it to the others.
func (g *game) join(p *lobby.Player) {
	r := g.rooms[p.Room]
	if r == nil {
		r = &room{id: p.Room, mode: p.Mode, players: netcode.NewRoom()}
		g.rooms[p.Room] = r
		g.log.Info("game: room opened", "room", r.id, "mode", r.mode)
	}
	if len(r.members) >= dots.MaxPlayers {
		// The lobby's room sizes are checked against MaxPlayers at start:
		// this would be a lobby bug.
		g.log.Error("game: room full", "room", r.id, "player", p.ID)
		_ = p.Session.Close("room full")
		return
	}
	r.nextID++
	m := &member{p: p, state: dots.PlayerState{
		ID: r.nextID,
		X:  int16(rand.IntN(2*dots.Arena+1) - dots.Arena),
		Y:  int16(rand.IntN(2*dots.Arena+1) - dots.Arena),
	}}
	ev := dots.Event{Type: dots.EventJoined, Room: r.id, ID: m.state.ID, Player: p.ID, Name: p.Name}
	g.send(m, dots.Event{Type: dots.EventWelcome, Room: r.id, ID: m.state.ID, Player: p.ID, Name: p.Name})
	for _, o := range r.members {
		g.send(o, ev)
		g.send(m, dots.Event{Type: dots.EventJoined, Room: r.id, ID: o.state.ID, Player: o.p.ID, Name: o.p.Name})
	}
	r.members = append(r.members, m)
	r.players.Add(p.Session)
	g.log.Info("game: player joined", "room", r.id, "player", p.ID, "name", p.Name, "dot", m.state.ID, "players", len(r.members))
}

// step runs one tick of one room: departures, inputs, then the snapshot.
func (g *game) step(r *room, inputs *[]netcode.Input, events *[][]byte, snap *dots.Snapshot) {
	var gone []*member
	r.members = slices.DeleteFunc(r.members, func(m *member) bool {
		if m.p.Session.Err() != nil {
			gone = append(gone, m)
			return true
		}
		return false
	})
	for _, m := range gone {
		st := m.p.Session.Stats()
		g.log.Info("game: player left", "room", r.id, "player", m.p.ID, "name", m.p.Name, "dot", m.state.ID,
			"reason", closeReason(m.p.Session.Err()), "snapshots_sent", st.SnapshotsSent, "inputs_received", st.InputsReceived)
		for _, o := range r.members {
			g.send(o, dots.Event{Type: dots.EventLeft, Room: r.id, ID: m.state.ID, Player: m.p.ID, Name: m.p.Name})
		}
	}
	if len(r.members) == 0 {
		delete(g.rooms, r.id)
		g.log.Info("game: room closed", "room", r.id, "ticks", r.tick)
		return
	}

	r.tick++
	snap.Tick = r.tick
	snap.Players = snap.Players[:0]
	for _, m := range r.members {
		// Events must be read, or the session closes as a slow reader;
		// this game has no use for what players say.
		*events = m.p.Session.ReadEvents((*events)[:0])
		// Inputs are unreliable: apply whatever arrived since the last tick.
		*inputs = m.p.Session.ReadInputs((*inputs)[:0])
		for _, in := range *inputs {
			mv, err := dots.DecodeMove(in.Payload)
			if err != nil {
				continue // a malformed input is dropped, not fatal
			}
			m.state.Apply(mv)
		}
		snap.Players = append(snap.Players, m.state)
	}
	b, err := dots.EncodeSnapshot(snap)
	if err != nil {
		g.log.Error("game: encode snapshot", "room", r.id, "err", err)
		return
	}
	// Never blocks: a congested player misses this snapshot and gets the
	// next one, as its Stats show.
	if err := r.players.Broadcast(b); err != nil {
		g.log.Warn("game: snapshot", "room", r.id, "err", err)
	}
}

// send sends a reliable event to one member, logging what cannot go.
func (g *game) send(m *member, ev dots.Event) {
	b, err := dots.EncodeEvent(ev)
	if err == nil {
		err = m.p.Session.SendEvent(b)
	}
	if err != nil && !errors.Is(err, netcode.ErrClosed) {
		g.log.Warn("game: event", "room", ev.Room, "player", m.p.ID, "type", ev.Type, "err", err)
	}
}

// closeReason is a session's end as a short string for the log.
func closeReason(err error) string {
	var ce *netcode.CloseError
	if errors.As(err, &ce) {
		if ce.Reason != "" {
			return ce.Code.String() + ": " + ce.Reason
		}
		return ce.Code.String()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
