//go:build !js

package netcode

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"sync"

	"github.com/tickwire/tickwire/netcode/internal/repl"
)

// World is one room's replicated state: entities, each a stable id and a
// state of a registered type, that Tick sends to every session in the
// world as a delta against what that client acknowledged, within its
// budget (REPLICATION.md). A server holds a World per room.
//
// The game changes the world from its tick loop and calls Tick once per
// tick; World's methods are safe to call from several goroutines, but
// they share one lock, so a game that changes the world from one loop
// never waits.
type World struct {
	mu      sync.Mutex
	cfg     WorldConfig
	types   []*repl.Type
	byGo    map[reflect.Type]*repl.StructType
	byName  map[string]*repl.Type
	blobs   map[string]*repl.Type // the types RegisterBytes made, by name
	ents    map[uint32]*worldEntity
	grid    *repl.Grid
	viewers map[*Session]*Viewer
	order   []*Viewer // join order, for Tick
	tick    uint64
	state   *repl.State // the world as of the last Tick, nil when changed since
}

type worldEntity struct {
	e      *repl.Entity
	weight float64
}

// WorldConfig configures a World. The zero value is the defaults.
type WorldConfig struct {
	// Budget is the most bytes a state message to one client may take
	// (1200 by default: one datagram), and what every entity and type
	// must fit. A client's Config.MaxUnreliableSize, and its Viewer's
	// SetBudget, may lower it for that client, which then never gets an
	// entity or type larger than its own budget.
	Budget int
	// GridCell turns on the built-in spatial interest: entities placed
	// with Place fall into square cells this wide, and a client whose
	// Viewer has a Focus sees those in the cells around it. 0: no grid.
	GridCell float64
	// Logger receives the sessions a world closes for bad acks; nil
	// discards.
	Logger *slog.Logger
}

// NewWorld makes an empty world. A nil config means the defaults.
func NewWorld(cfg *WorldConfig) (*World, error) {
	var c WorldConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Budget < 0 || c.GridCell < 0 || math.IsNaN(c.GridCell) || math.IsInf(c.GridCell, 0) {
		return nil, fmt.Errorf("%w: negative Budget or GridCell", ErrInvalidConfig)
	}
	if c.Budget != 0 && c.Budget < minStateBudget {
		return nil, fmt.Errorf("%w: Budget %d below %d bytes", ErrInvalidConfig, c.Budget, minStateBudget)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	w := &World{
		cfg:     c,
		byGo:    make(map[reflect.Type]*repl.StructType),
		byName:  make(map[string]*repl.Type),
		blobs:   make(map[string]*repl.Type),
		ents:    make(map[uint32]*worldEntity),
		viewers: make(map[*Session]*Viewer),
	}
	if c.GridCell > 0 {
		w.grid = repl.NewGrid(c.GridCell)
	}
	return w, nil
}

// minStateBudget is the least budget that leaves room for the state
// message's header and something in it.
const minStateBudget = 128

// stateOverhead bounds a state message's header: array, version, kind,
// three uint64 and a bin32 header.
const stateOverhead = 1 + 1 + 1 + 3*9 + 5

// budget is the world's budget for a client with send limit max.
func (w *World) budget(max int) int {
	b := max
	if w.cfg.Budget > 0 {
		b = min(b, w.cfg.Budget)
	}
	return b
}

// minBudget is the payload budget every entity and type must fit: the
// world's. A client whose own budget is lower (its MaxUnreliableSize, or
// Viewer.SetBudget) never gets an entity or type larger than that.
func (w *World) minBudget() int {
	if w.cfg.Budget > 0 {
		return w.cfg.Budget - stateOverhead
	}
	return defaultMaxUnreliableSize - stateOverhead
}

// Register declares an entity type: proto is a struct (or a pointer to
// one) whose fields' tw tags say how they travel (see the package
// example). Set takes values of that struct type. name is what clients
// see as the type's name.
func (w *World) Register(name string, proto any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rt := reflect.TypeOf(proto)
	if rt == nil {
		return fmt.Errorf("%w: nil prototype", ErrInvalidType)
	}
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if err := w.checkNew(name); err != nil {
		return err
	}
	if _, dup := w.byGo[rt]; dup {
		return fmt.Errorf("%w: %v registered twice", ErrInvalidType, rt)
	}
	st, err := repl.NewStructType(uint8(len(w.types)), name, rt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidType, err)
	}
	if err := w.addType(st.Type); err != nil {
		return err
	}
	w.byGo[rt] = st
	return nil
}

// RegisterBytes declares a type whose state is the game's own encoding,
// at most max bytes; SetBytes sets entities of it.
func (w *World) RegisterBytes(name string, max int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.checkNew(name); err != nil {
		return err
	}
	t, err := repl.NewType(uint8(len(w.types)), name, []repl.Field{{Name: "data", Kind: repl.KindBytes, MaxLen: max}})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidType, err)
	}
	if err := w.addType(t); err != nil {
		return err
	}
	w.blobs[name] = t
	return nil
}

func (w *World) checkNew(name string) error {
	if len(w.types) >= repl.MaxTypes {
		return fmt.Errorf("%w: a world has at most %d types", ErrInvalidType, repl.MaxTypes)
	}
	if _, dup := w.byName[name]; dup {
		return fmt.Errorf("%w: type %q registered twice", ErrInvalidType, name)
	}
	return nil
}

func (w *World) addType(t *repl.Type) error {
	// A type's definition goes in one state message with room to spare.
	if def := len(t.Def()) + 16; def > w.minBudget() {
		return fmt.Errorf("%w: type %q's definition takes %d bytes, over the budget", ErrInvalidType, t.Name, def)
	}
	w.types = append(w.types, t)
	w.byName[t.Name] = t
	w.state = nil
	return nil
}

// Set gives entity id the state v, a value of a registered struct type
// (or a pointer to one), creating the entity if need be. Values are
// quantised as the type's tags say; an entity whose quantised state did
// not change costs nothing to send. An entity whose type changes is
// removed from clients and created anew.
func (w *World) Set(id uint32, v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.byGo[rv.Type()]
	if !rv.IsValid() || !ok {
		return fmt.Errorf("%w: %T is not a registered type", ErrInvalidType, v)
	}
	e, err := st.Entity(rv)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	return w.put(id, e)
}

// SetBytes gives entity id the state b, of a type made by RegisterBytes.
func (w *World) SetBytes(id uint32, typeName string, b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.blobs[typeName]
	if t == nil {
		return fmt.Errorf("%w: %q is not a bytes type", ErrInvalidType, typeName)
	}
	if len(b) > t.Fields[0].MaxLen {
		return fmt.Errorf("%w: %d bytes for %q, limit %d", ErrTooLarge, len(b), typeName, t.Fields[0].MaxLen)
	}
	e := &repl.Entity{Type: t, V: []uint64{0}, S: []string{string(b)}}
	return w.put(id, e)
}

// put stores e under id, keeping the old entity when nothing changed so
// that senders see it unchanged by its pointer.
func (w *World) put(id uint32, e *repl.Entity) error {
	if err := repl.CheckSize(e, w.minBudget()); err != nil {
		return fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	we := w.ents[id]
	switch {
	case we == nil:
		w.ents[id] = &worldEntity{e: e, weight: 1}
	case we.e.Same(e):
		return nil
	default:
		we.e = e
		if w.state != nil && w.state.Replace(id, e) {
			return nil
		}
	}
	w.state = nil
	return nil
}

// Remove takes entity id out of the world; false if there was none.
func (w *World) Remove(id uint32) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.ents[id]; !ok {
		return false
	}
	delete(w.ents, id)
	if w.grid != nil {
		w.grid.Remove(id)
	}
	w.state = nil
	return true
}

// Len is the number of entities.
func (w *World) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ents)
}

// SetWeight sets how fast entity id gains priority while it waits to be
// sent (1 by default): an entity of weight 4 goes four times as often as
// one of weight 1 when a client's budget cannot take every change.
func (w *World) SetWeight(id uint32, weight float64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	we := w.ents[id]
	if we == nil {
		return fmt.Errorf("%w: entity %d", ErrNoEntity, id)
	}
	if !(weight > 0) || math.IsInf(weight, 0) {
		return fmt.Errorf("%w: weight %v not positive", ErrInvalidConfig, weight)
	}
	we.weight = weight
	return nil
}

// Place puts entity id at (x, y) on the world's grid (WorldConfig.
// GridCell): clients focused near it see it. An entity never placed is
// seen by every client, focused or not (a scoreboard, the map).
func (w *World) Place(id uint32, x, y float64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.grid == nil {
		return fmt.Errorf("%w: the world has no grid (WorldConfig.GridCell)", ErrInvalidConfig)
	}
	if w.ents[id] == nil {
		return fmt.Errorf("%w: entity %d", ErrNoEntity, id)
	}
	w.grid.Place(id, x, y)
	return nil
}

// Join adds s to the world: from the next Tick on, s gets the world's
// state. The Viewer is where the game narrows what s sees. Joining again
// returns the same Viewer.
func (w *World) Join(s *Session) *Viewer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v := w.viewers[s]; v != nil {
		return v
	}
	v := &Viewer{s: s, snd: repl.NewSender()}
	w.viewers[s] = v
	w.order = append(w.order, v)
	return v
}

// Leave takes s out of the world; a closed session leaves at the next
// Tick by itself.
func (w *World) Leave(s *Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.leave(s)
}

func (w *World) leave(s *Session) {
	v := w.viewers[s]
	if v == nil {
		return
	}
	delete(w.viewers, s)
	for i, o := range w.order {
		if o == v {
			w.order = append(w.order[:i:i], w.order[i+1:]...)
			break
		}
	}
}

// Viewers is the number of sessions in the world.
func (w *World) Viewers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.order)
}

// Tick sends the world as it is now to every session in it, each as a
// delta against the newest state it acknowledged, within its budget. It
// never blocks on the network: a client that cannot take its state now
// (congested, reconnecting) gets the next tick's. The error joins the
// sends that failed for a reason other than that; a session that
// acknowledged a state it was never sent is closed with a protocol error.
func (w *World) Tick() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tick++
	st := w.snapshot()
	var errs []error
	for _, v := range append([]*Viewer(nil), w.order...) {
		if v.s.p.isClosing() {
			w.leave(v.s)
			continue
		}
		if err := v.send(w, st); err != nil {
			errs = append(errs, fmt.Errorf("session %s: %w", v.s.ID(), err))
		}
	}
	return errors.Join(errs...)
}

// snapshot is the world as a repl.State, remade only after a change.
func (w *World) snapshot() *repl.State {
	if w.state == nil {
		ids := make([]uint32, 0, len(w.ents))
		ents := make([]*repl.Entity, 0, len(w.ents))
		for id, we := range w.ents {
			ids, ents = append(ids, id), append(ents, we.e)
		}
		w.state = repl.NewState(0, w.types, ids, ents)
	}
	return w.state
}

// Viewer is one session's view of a World: what it sees and how much it
// may be sent. Its methods are safe to call from several goroutines.
type Viewer struct {
	s     *Session
	snd   *repl.Sender // under World.mu
	acked uint64       // the newest ack snd took, under World.mu

	mu       sync.Mutex
	budget   int
	focus    bool
	fx, fy   float64
	radius   float64
	interest func(id uint32) bool
	weight   func(id uint32) float64
	sees     map[uint32]struct{} // the focus's entities this tick, reused
}

// SetBudget lowers the most bytes a state message to this client takes
// (0: the world's). A client on a thin link, or one the game ranks lower,
// gets fewer changes a tick, the most urgent first.
func (v *Viewer) SetBudget(bytes int) error {
	if bytes != 0 && bytes < minStateBudget {
		return fmt.Errorf("%w: budget %d below %d bytes", ErrInvalidConfig, bytes, minStateBudget)
	}
	v.mu.Lock()
	v.budget = bytes
	v.mu.Unlock()
	return nil
}

// Focus makes the client see, of the entities placed on the world's
// grid, those within the grid cells around (x, y) and radius r; entities
// never placed it still sees. A game moves the focus with its player.
func (v *Viewer) Focus(x, y, r float64) {
	v.mu.Lock()
	v.focus, v.fx, v.fy, v.radius = true, x, y, r
	v.mu.Unlock()
}

// SetInterest narrows what the client sees to the entities for which
// sees returns true (nil: all, or the focus's). It is called during Tick,
// with the world locked: it must not call the World.
func (v *Viewer) SetInterest(sees func(id uint32) bool) {
	v.mu.Lock()
	v.interest = sees
	v.mu.Unlock()
}

// SetWeight scales, for this client only, how fast each entity gains
// priority (nil: the entities' own weights). Called during Tick, like
// SetInterest's function.
func (v *Viewer) SetWeight(weight func(id uint32) float64) {
	v.mu.Lock()
	v.weight = weight
	v.mu.Unlock()
}

// send encodes and sends this tick's state to the viewer's session.
func (v *Viewer) send(w *World, st *repl.State) error {
	p := v.s.p
	if ack := p.stateAck.Load(); ack != 0 && ack != v.acked {
		v.acked = ack
		if err := v.snd.Ack(ack); err != nil {
			w.cfg.Logger.Warn("netcode: state ack of a tick never sent", "session", v.s.ID(), "err", err)
			p.closeWith(&CloseError{Code: CloseProtocolError, Reason: err.Error(), Err: ErrProtocol}, true)
			return nil
		}
	}
	v.mu.Lock()
	budget := w.budget(p.cfg.MaxUnreliableSize)
	if v.budget > 0 {
		budget = min(budget, v.budget)
	}
	opts := repl.Options{Budget: budget - stateOverhead}
	interest, focus := v.interest, v.focus
	if focus && w.grid != nil {
		if v.sees == nil {
			v.sees = make(map[uint32]struct{})
		}
		clear(v.sees)
		w.grid.Near(v.fx, v.fy, v.radius, func(id uint32) { v.sees[id] = struct{}{} })
	}
	weight := v.weight
	v.mu.Unlock()
	opts.Sees = func(id uint32, _ *repl.Entity) bool {
		if focus && w.grid != nil && w.grid.Placed(id) {
			if _, ok := v.sees[id]; !ok {
				return false
			}
		}
		return interest == nil || interest(id)
	}
	opts.Weight = func(id uint32, _ *repl.Entity) float64 {
		x := 1.0
		if we := w.ents[id]; we != nil {
			x = we.weight
		}
		if weight != nil {
			x *= weight(id)
		}
		return x
	}
	if !p.canSendState() {
		return nil // reconnecting: this tick is not sent, and not remembered
	}
	payload, base, err := v.snd.Encode(st, w.tick, opts)
	if err != nil {
		return err
	}
	err = p.sendState(w.tick, base, payload)
	if errors.Is(err, ErrCongested) {
		return nil
	}
	return err
}
