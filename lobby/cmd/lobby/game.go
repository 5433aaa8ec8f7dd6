package main

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// game is the embedded demo game: a tiny authoritative game per room, in
// which each player is a dot that moves one step per input, among
// dots.Bots dots that wander on their own. The lobby matches players into
// rooms; the game server half (lobby.GameServer) hands over each player
// once its channels are open, and the game keeps one room per lobby room
// id. Each room's dots are a netcode.World, replicated to its players.
//
// One goroutine, loop, owns every room: it admits players, applies inputs,
// moves the bots and ticks each room's world at hz. Only the accept
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
	// world is the room's dots, players' and bots', replicated to its
	// members: a session leaves it by itself when it closes.
	world *netcode.World
	bots  []bot
}

// bot is a computer-driven dot: it glides at a steady speed and turns a
// little each tick, bouncing off the arena's walls.
type bot struct {
	x, y, heading float64
}

// botSpeed is how far a bot moves a tick, in arena units.
const botSpeed = 0.6

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
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-g.joins:
			g.join(p)
		case <-t.C:
			for _, r := range g.rooms {
				g.step(r, &inputs, &events)
			}
		}
	}
}

// join adds a player to its room, creating the room with its first player,
// and introduces it to the others.
func (g *game) join(p *lobby.Player) {
	r := g.rooms[p.Room]
	if r == nil {
		var err error
		if r, err = newRoom(p.Room, p.Mode); err != nil {
			g.log.Error("game: room", "room", p.Room, "err", err)
			_ = p.Session.Close("game error")
			return
		}
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
	r.world.Join(p.Session)
	r.place(m)
	g.log.Info("game: player joined", "room", r.id, "player", p.ID, "name", p.Name, "dot", m.state.ID, "players", len(r.members))
}

// newRoom makes a room's world, with its bots scattered about.
func newRoom(id, mode string) (*room, error) {
	w, err := netcode.NewWorld(nil)
	if err != nil {
		return nil, err
	}
	if err := w.Register("dot", dots.Dot{}); err != nil {
		return nil, err
	}
	r := &room{id: id, mode: mode, world: w, bots: make([]bot, dots.Bots)}
	for i := range r.bots {
		b := &r.bots[i]
		b.x = rand.Float64()*2*dots.Arena - dots.Arena
		b.y = rand.Float64()*2*dots.Arena - dots.Arena
		b.heading = rand.Float64() * 2 * math.Pi
		if err := w.Set(dots.BotID(i), dots.Dot{X: b.x, Y: b.y}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// place puts a member's dot in the world as it is now.
func (r *room) place(m *member) {
	_ = r.world.Set(uint32(m.state.ID), dots.Dot{X: float64(m.state.X), Y: float64(m.state.Y), Player: true})
}

// moveBots moves every bot one tick on.
func (r *room) moveBots() {
	const wall = dots.Arena
	for i := range r.bots {
		b := &r.bots[i]
		b.heading += (rand.Float64() - 0.5) * 0.2
		b.x += botSpeed * math.Cos(b.heading)
		b.y += botSpeed * math.Sin(b.heading)
		if b.x < -wall || b.x > wall {
			b.x = max(-wall, min(wall, b.x))
			b.heading = math.Pi - b.heading
		}
		if b.y < -wall || b.y > wall {
			b.y = max(-wall, min(wall, b.y))
			b.heading = -b.heading
		}
		_ = r.world.Set(dots.BotID(i), dots.Dot{X: b.x, Y: b.y})
	}
}

// step runs one tick of one room: departures, inputs, the bots, then the
// world goes to the players.
func (g *game) step(r *room, inputs *[]netcode.Input, events *[][]byte) {
	var gone []*member
	r.members = slices.DeleteFunc(r.members, func(m *member) bool {
		if m.p.Session.Err() != nil {
			gone = append(gone, m)
			return true
		}
		return false
	})
	for _, m := range gone {
		r.world.Remove(uint32(m.state.ID))
		st := m.p.Session.Stats()
		g.log.Info("game: player left", "room", r.id, "player", m.p.ID, "name", m.p.Name, "dot", m.state.ID,
			"reason", closeReason(m.p.Session.Err()), "states_sent", st.StatesSent, "inputs_received", st.InputsReceived)
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
		r.place(m)
	}
	r.moveBots()
	// Never blocks: a congested player misses this tick's state and gets
	// the changes in the next.
	if err := r.world.Tick(); err != nil {
		g.log.Warn("game: state", "room", r.id, "err", err)
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
