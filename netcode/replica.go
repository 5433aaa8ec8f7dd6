package netcode

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/tickwire/tickwire/netcode/internal/repl"
	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// Replica is a client's copy of the world its server replicates (World,
// REPLICATION.md): rebuilt from each state as it arrives, and played out
// a little in the past so that it moves smoothly between ticks. Its
// methods are safe to call from any goroutine.
type Replica struct {
	mu      sync.Mutex
	rcv     *repl.Receiver
	samples *repl.Samples // what each state carried, per entity, for At
	seen    *repl.State   // the newest state Next has reported
	clock   repl.Clock
	playout repl.Playout
	arrived chan struct{} // a state arrived: Next looks again
	closing <-chan struct{}
	err     func() error
}

func newReplica(p *peer) *Replica {
	return &Replica{
		rcv:     repl.NewReceiver(),
		samples: repl.NewSamples(),
		seen:    repl.Empty(),
		arrived: make(chan struct{}, 1),
		closing: p.closing,
		err:     p.Err,
	}
}

// receive applies a state message. It returns the tick to acknowledge,
// or repl.ErrStale or repl.ErrNoBase for a state to drop, or another
// error for a malformed one.
func (r *Replica) receive(m *wire.Message, at time.Time) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.rcv.Receive(m.Seq, m.Base, time.Duration(m.Time), m.Payload)
	if err != nil {
		return 0, err
	}
	r.playout.OnState(st.Tick, st.Time, at)
	r.samples.Add(st)
	notify(r.arrived)
	return st.Tick, nil
}

func (r *Replica) observePing(serverTime time.Duration, at time.Time, rtt time.Duration) {
	r.mu.Lock()
	r.clock.Observe(serverTime, at, rtt)
	r.mu.Unlock()
}

// WorldUpdate is what changed in a Replica between two calls of Next.
type WorldUpdate struct {
	// Tick is the server's tick the replica is now at.
	Tick uint64
	// Created, Changed and Removed are entity ids, each in increasing
	// order. An entity created and changed since the last Next is only
	// created; one created and removed since is in none.
	Created, Changed, Removed []uint32
}

// Next waits for a state newer than the one the last Next returned, and
// reports what changed since then: several states that arrived between
// two calls are reported as one update, so a game that reads once a frame
// loses nothing. It fails when ctx ends or the client closes.
func (r *Replica) Next(ctx context.Context) (WorldUpdate, error) {
	for {
		r.mu.Lock()
		newest := r.rcv.Newest()
		if newest.Tick > r.seen.Tick {
			u := WorldUpdate{Tick: newest.Tick}
			u.Created, u.Changed, u.Removed = repl.Diff(r.seen, newest)
			r.seen = newest
			r.mu.Unlock()
			return u, nil
		}
		r.mu.Unlock()
		select {
		case <-r.arrived:
		case <-ctx.Done():
			return WorldUpdate{}, ctx.Err()
		case <-r.closing:
			return WorldUpdate{}, r.err()
		}
	}
}

// Tick is the server tick of the newest state (0 before any).
func (r *Replica) Tick() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rcv.Newest().Tick
}

// Entities lists the ids of the newest state's entities, in increasing
// order.
func (r *Replica) Entities() []uint32 {
	r.mu.Lock()
	st := r.rcv.Newest()
	r.mu.Unlock()
	ids := make([]uint32, st.Len())
	for i := range ids {
		ids[i], _ = st.At(i)
	}
	return ids
}

// Entity is entity id as of the newest state.
func (r *Replica) Entity(id uint32) (Entity, bool) {
	r.mu.Lock()
	st := r.rcv.Newest()
	r.mu.Unlock()
	e, ok := st.Get(id)
	if !ok {
		return Entity{}, false
	}
	return Entity{ID: id, to: e}, true
}

// ServerTime is the server's clock now, as far as the server's pings
// tell (the clock its states' times are on); false before the first ping.
func (r *Replica) ServerTime() (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clock.ServerTime(time.Now())
}

// At is the world to draw at local time now: the newest state's
// entities, each played out at the playout's render time from the values
// states carried for it, numeric fields interpolated as its type says.
// The render time runs a little behind the newest state, by a delay that
// follows the path's jitter and loss (REPLICATION.md, "Playout"); call At
// once per frame, with the frame's time, and draw what it returns.
func (r *Replica) At(now time.Time) Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.rcv.Newest()
	f := Frame{items: make([]frameItem, st.Len())}
	from, to, alpha, ok := r.playout.Sample(now)
	if ok {
		f.Delay, f.Time = r.playout.Delay(), r.playout.Time()
		f.Tick = float64(from) + alpha*(float64(to)-float64(from))
	}
	for i := range f.items {
		id, e := st.At(i)
		it := frameItem{id: id, to: e}
		if ok {
			it.from, it.to, it.alpha = r.samples.At(st, i, f.Time)
		}
		f.items[i] = it
	}
	return f
}

// PlayoutStats are a replica's playout figures, for a game's debug
// overlay.
type PlayoutStats struct {
	Delay, TargetDelay, Jitter, Interval time.Duration
}

// Playout reports the playout's current delay and what it follows.
func (r *Replica) Playout() PlayoutStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return PlayoutStats{Delay: r.playout.Delay(), TargetDelay: r.playout.TargetDelay(), Jitter: r.playout.Jitter(), Interval: r.playout.Interval()}
}

// Frame is the world at one render moment.
type Frame struct {
	items []frameItem // in id order
	// Delay is how far behind the newest arrivals the frame is.
	Delay time.Duration
	// Time is the frame's moment on the server's clock.
	Time time.Duration
	// Tick is the frame's moment in server ticks: 41.5 is halfway between
	// ticks 41 and 42. A game that compensates for lag tells the server
	// the tick its player saw.
	Tick float64
}

type frameItem struct {
	id       uint32
	from, to *repl.Entity
	alpha    float64
}

// Entities lists the frame's entity ids (the newest state's) in
// increasing order.
func (f Frame) Entities() []uint32 {
	ids := make([]uint32, len(f.items))
	for i, it := range f.items {
		ids[i] = it.id
	}
	return ids
}

// Entity is entity id in the frame, interpolated.
func (f Frame) Entity(id uint32) (Entity, bool) {
	i, ok := slices.BinarySearchFunc(f.items, id, func(it frameItem, id uint32) int { return cmp.Compare(it.id, id) })
	if !ok {
		return Entity{}, false
	}
	it := f.items[i]
	return Entity{ID: id, from: it.from, to: it.to, alpha: it.alpha}, true
}

// Entity is one replicated entity as a client sees it: of the newest
// state (Replica.Entity), or interpolated (Frame.Entity).
type Entity struct {
	ID    uint32
	from  *repl.Entity // nil: not interpolated
	to    *repl.Entity
	alpha float64
}

// Type is the entity's type name, as the server registered it.
func (e Entity) Type() string {
	if e.to == nil {
		return ""
	}
	return e.to.Type.Name
}

func (e Entity) field(name string) (int, *repl.Field, bool) {
	if e.to == nil {
		return 0, nil, false
	}
	i := e.to.Type.Field(name)
	if i < 0 {
		return 0, nil, false
	}
	return i, &e.to.Type.Fields[i], true
}

// Float is numeric field name's value (a bool's is 0 or 1; an angle's in
// radians), interpolated as the field's type says; false when the entity
// has no such numeric field.
func (e Entity) Float(name string) (float64, bool) {
	i, f, ok := e.field(name)
	if !ok || f.Kind == repl.KindQuat || f.Kind == repl.KindString || f.Kind == repl.KindBytes {
		return 0, false
	}
	return e.float(i, f), true
}

// held is the sample a field that is not interpolated takes: the last
// at or before the frame's moment.
func (e Entity) held() *repl.Entity {
	if e.from != nil && e.alpha < 1 {
		return e.from
	}
	return e.to
}

func (e Entity) float(i int, f *repl.Field) float64 {
	b := e.to.Float(i)
	if e.from == nil {
		return b
	}
	a := e.from.Float(i)
	switch f.Interp {
	case repl.InterpLinear:
		return a + (b-a)*e.alpha
	case repl.InterpAngle:
		d := math.Remainder(b-a, 2*math.Pi) // the shorter way round
		v := math.Mod(a+d*e.alpha, 2*math.Pi)
		if v < 0 {
			v += 2 * math.Pi
		}
		return v
	}
	return e.held().Float(i)
}

// Quat is quat field name's value (x, y, z, w), interpolated (normalised
// lerp the shorter way); false when the entity has no such quat field.
func (e Entity) Quat(name string) ([4]float64, bool) {
	i, f, ok := e.field(name)
	if !ok || f.Kind != repl.KindQuat {
		return [4]float64{}, false
	}
	return e.quat(i, f), true
}

func (e Entity) quat(i int, f *repl.Field) [4]float64 {
	b := e.to.Quat(i)
	if e.from == nil || f.Interp != repl.InterpQuat {
		return e.held().Quat(i)
	}
	a := e.from.Quat(i)
	if a[0]*b[0]+a[1]*b[1]+a[2]*b[2]+a[3]*b[3] < 0 {
		b = [4]float64{-b[0], -b[1], -b[2], -b[3]}
	}
	var q [4]float64
	n := 0.0
	for k := range 4 {
		q[k] = a[k] + (b[k]-a[k])*e.alpha
		n += q[k] * q[k]
	}
	if n = math.Sqrt(n); n > 0 {
		for k := range q {
			q[k] /= n
		}
	}
	return q
}

// String is string or bytes field name's content (the later state's).
func (e Entity) String(name string) (string, bool) {
	i, f, ok := e.field(name)
	if !ok || (f.Kind != repl.KindString && f.Kind != repl.KindBytes) {
		return "", false
	}
	return e.held().S[i], true
}

// Bytes is the content of an entity of a type made with RegisterBytes.
func (e Entity) Bytes() []byte {
	if e.to == nil || e.to.S == nil {
		return nil
	}
	return []byte(e.held().S[0])
}

// Decode fills the struct dst points to from the entity, field by field
// by their names on the wire (as World.Register names them: the tw tag's
// name=, or the Go name with its leading capitals lowered), interpolated
// where the entity is. Fields the entity lacks, and those tagged tw:"-",
// are left alone; so the server's struct type, or any with the fields a
// client needs, decodes.
func (e Entity) Decode(dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: Decode needs a pointer to a struct, not %T", ErrInvalidType, dst)
	}
	if e.to == nil {
		return fmt.Errorf("%w: entity %d", ErrNoEntity, e.ID)
	}
	v = v.Elem()
	t := v.Type()
	for gi := range t.NumField() {
		sf := t.Field(gi)
		if !sf.IsExported() || sf.Tag.Get("tw") == "-" {
			continue
		}
		i, f, ok := e.field(repl.FieldName(sf))
		if !ok {
			continue
		}
		fv := v.Field(gi)
		switch {
		case f.Kind == repl.KindQuat && fv.Kind() == reflect.Array && fv.Len() == 4 && fv.Index(0).CanFloat():
			q := e.quat(i, f)
			for k := range 4 {
				fv.Index(k).SetFloat(q[k])
			}
		case f.Kind == repl.KindString && fv.Kind() == reflect.String:
			fv.SetString(e.held().S[i])
		case f.Kind == repl.KindBytes && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Uint8:
			fv.SetBytes([]byte(e.held().S[i]))
		case f.Kind == repl.KindBool && fv.Kind() == reflect.Bool:
			fv.SetBool(e.held().V[i] == 1)
		case f.Kind == repl.KindString || f.Kind == repl.KindBytes || f.Kind == repl.KindQuat || f.Kind == repl.KindBool:
			return fmt.Errorf("%w: %v.%s is a %v, the entity's %q a %v", ErrInvalidType, t, sf.Name, fv.Type(), f.Name, f.Kind)
		case fv.CanFloat():
			fv.SetFloat(e.float(i, f))
		case fv.CanInt():
			fv.SetInt(int64(math.Round(e.float(i, f))))
		case fv.CanUint():
			fv.SetUint(uint64(max(0, math.Round(e.float(i, f)))))
		default:
			return fmt.Errorf("%w: %v.%s is a %v, the entity's %q a %v", ErrInvalidType, t, sf.Name, fv.Type(), f.Name, f.Kind)
		}
	}
	return nil
}

// Fields lists the entity's field names, in its type's order.
func (e Entity) Fields() []string {
	if e.to == nil {
		return nil
	}
	names := make([]string, len(e.to.Type.Fields))
	for i, f := range e.to.Type.Fields {
		names[i] = f.Name
	}
	return names
}

// Value is field name's value, interpolated where the entity is: a
// float64 for int, float and angle fields, a bool, a string, a []byte, or
// a [4]float64 quaternion (x, y, z, w); nil when there is no such field.
// It suits code that handles any type (a debug view, a bridge to another
// language); a game knows its types and calls Decode.
func (e Entity) Value(name string) any {
	i, f, ok := e.field(name)
	if !ok {
		return nil
	}
	switch f.Kind {
	case repl.KindBool:
		return e.held().V[i] == 1
	case repl.KindString:
		return e.held().S[i]
	case repl.KindBytes:
		return []byte(e.held().S[i])
	case repl.KindQuat:
		return e.quat(i, f)
	}
	return e.float(i, f)
}
