package match

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// base is the fake clock's epoch: every time in these tests is base plus an
// explicit offset.
var base = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return base.Add(d) }

func tk(id, mode, region string, rating float64, size int, since time.Duration) Ticket {
	return Ticket{ID: id, Mode: mode, Region: region, Rating: rating, Size: size, Since: at(since)}
}

// format renders a match as "room|mode/region|id,id,...", with "-" for a new
// room, so that expectations read like the rules.
func format(ms []Match) []string {
	var out []string
	for _, m := range ms {
		room := m.Room
		if room == "" {
			room = "-"
		}
		ids := make([]string, len(m.Tickets))
		for i, t := range m.Tickets {
			ids[i] = t.ID
		}
		out = append(out, fmt.Sprintf("%s|%s/%s|%s", room, m.Mode, m.Region, strings.Join(ids, ",")))
	}
	return out
}

var testModes = map[string]Mode{
	"duel":   {MinPlayers: 2, MaxPlayers: 2, InitialWindow: 100},
	"duel2":  {MinPlayers: 2, MaxPlayers: 2, InitialWindow: 100},
	"trio":   {MinPlayers: 3, MaxPlayers: 3, InitialWindow: 100},
	"four":   {MinPlayers: 4, MaxPlayers: 4, InitialWindow: 100},
	"squad":  {MinPlayers: 2, MaxPlayers: 4, InitialWindow: 100, FillWait: 10 * time.Second},
	"grow":   {MinPlayers: 2, MaxPlayers: 2, InitialWindow: 10, WindowGrowth: 10},
	"capped": {MinPlayers: 2, MaxPlayers: 2, InitialWindow: 10, WindowGrowth: 10, MaxWindow: 40},
}

func TestTick(t *testing.T) {
	type step struct {
		at   time.Duration
		want []string
	}
	const removed = -1
	ms := time.Millisecond
	s := time.Second
	tests := []struct {
		name    string
		tickets []Ticket
		rooms   []Room
		steps   []step
		queued  []string       // IDs still queued after the last step
		free    map[string]int // Free of rooms after the last step, or removed
	}{{
		name: "full match at once, nearest first",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 1, 0),
			tk("b", "squad", "eu", 1030, 1, 1*s),
			tk("c", "squad", "eu", 1010, 1, 2*s),
			tk("d", "squad", "eu", 1020, 1, 3*s),
			tk("e", "squad", "eu", 1200, 1, 500*ms), // outside a's window
		},
		steps:  []step{{3 * s, []string{"-|squad/eu|a,c,d,b"}}},
		queued: []string{"e"},
	}, {
		name: "min size only after FillWait",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 1, 0),
			tk("b", "squad", "eu", 1050, 1, 2*s),
		},
		steps: []step{
			{0, nil},
			{9*s + 999*ms, nil},
			{10 * s, []string{"-|squad/eu|a,b"}},
		},
	}, {
		name: "window widens with waiting",
		tickets: []Ticket{
			tk("a", "grow", "eu", 1000, 1, 0),
			tk("b", "grow", "eu", 1050, 1, 0),
		},
		steps: []step{
			{0, nil},
			{3*s + 900*ms, nil},                // windows 49
			{4 * s, []string{"-|grow/eu|a,b"}}, // windows 50
		},
	}, {
		name: "MaxWindow cap prevents a match forever",
		tickets: []Ticket{
			tk("a", "capped", "eu", 1000, 1, 0),
			tk("b", "capped", "eu", 1050, 1, 0),
		},
		steps:  []step{{4 * s, nil}, {time.Minute, nil}, {24 * time.Hour, nil}},
		queued: []string{"a", "b"},
	}, {
		name: "both windows must accept",
		tickets: []Ticket{
			tk("old", "grow", "eu", 1000, 1, 0),
			tk("new", "grow", "eu", 1080, 1, 10*s),
		},
		steps: []step{
			{10 * s, nil}, // old accepts 110, new only 10
			{16 * s, nil}, // new accepts 70
			{17 * s, []string{"-|grow/eu|old,new"}},
		},
	}, {
		name: "party that does not fit is skipped for a smaller one",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 2, 0),
			tk("b", "squad", "eu", 1005, 3, 1*s),
			tk("c", "squad", "eu", 1010, 2, 2*s),
		},
		steps:  []step{{2 * s, []string{"-|squad/eu|a,c"}}},
		queued: []string{"b"},
	}, {
		name: "parties stay together",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 3, 0),
			tk("b", "squad", "eu", 1002, 2, 1*s),
			tk("c", "squad", "eu", 1003, 1, 2*s),
		},
		steps:  []step{{2 * s, []string{"-|squad/eu|a,c"}}},
		queued: []string{"b"},
	}, {
		name: "regions and modes never mix",
		tickets: []Ticket{
			tk("a", "duel", "eu", 1000, 1, 0),
			tk("b", "duel", "us", 1000, 1, 1*s),
			tk("c", "duel2", "eu", 1000, 1, 2*s),
			tk("d", "duel", "us", 1000, 1, 3*s),
		},
		steps:  []step{{3 * s, []string{"-|duel/us|b,d"}}, {time.Hour, nil}},
		queued: []string{"a", "c"},
	}, {
		name: "buckets in sorted order",
		tickets: []Ticket{
			tk("z1", "duel", "us", 1000, 1, 0),
			tk("z2", "duel", "us", 1000, 1, 0),
			tk("y1", "duel2", "eu", 1000, 1, 0),
			tk("y2", "duel2", "eu", 1000, 1, 0),
			tk("x1", "duel", "eu", 1000, 1, 0),
			tk("x2", "duel", "eu", 1000, 1, 0),
		},
		steps: []step{{0, []string{"-|duel/eu|x1,x2", "-|duel/us|z1,z2", "-|duel2/eu|y1,y2"}}},
	}, {
		name: "nearest first, ties by age then ID",
		tickets: []Ticket{
			tk("a", "four", "eu", 1000, 1, 0),
			tk("x", "four", "eu", 990, 1, 1*s),
			tk("y", "four", "eu", 1010, 1, 500*ms),
			tk("z", "four", "eu", 990, 1, 500*ms),
			tk("w", "four", "eu", 1020, 1, 100*ms),
		},
		steps:  []step{{1 * s, []string{"-|four/eu|a,y,z,x"}}},
		queued: []string{"w"},
	}, {
		name: "anchors in queue order, the oldest picks by rating",
		tickets: []Ticket{
			tk("a", "duel", "eu", 1000, 1, 0),
			tk("b", "duel", "eu", 1060, 1, 1*s),
			tk("c", "duel", "eu", 1000, 1, 2*s),
		},
		steps:  []step{{2 * s, []string{"-|duel/eu|a,c"}}},
		queued: []string{"b"},
	}, {
		name: "a failed anchor stays available to later ones",
		tickets: []Ticket{
			tk("a", "trio", "eu", 1000, 1, 0),
			tk("b", "trio", "eu", 1090, 1, 1*s),
			tk("c", "trio", "eu", 1180, 1, 2*s),
		},
		steps: []step{{2 * s, []string{"-|trio/eu|b,a,c"}}},
	}, {
		name: "backfill preferred over a new room; full room removed",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 1, 0),
			tk("b", "squad", "eu", 1001, 1, 1*s),
			tk("c", "squad", "eu", 1002, 1, 2*s),
			tk("d", "squad", "eu", 1003, 1, 3*s),
		},
		rooms: []Room{{ID: "r1", Mode: "squad", Region: "eu", Rating: 1000, Free: 2}},
		steps: []step{
			{3 * s, []string{"r1|squad/eu|a,b"}},
			{12 * s, []string{"-|squad/eu|c,d"}},
		},
		free: map[string]int{"r1": removed},
	}, {
		name: "backfill lowers Free",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 2, 0),
			tk("b", "squad", "eu", 1000, 1, 1*s),
		},
		rooms:  []Room{{ID: "r1", Mode: "squad", Region: "eu", Rating: 1000, Free: 5}},
		steps:  []step{{1 * s, []string{"r1|squad/eu|a,b"}}},
		free:   map[string]int{"r1": 2},
		queued: nil,
	}, {
		name: "backfill skips parties that do not fit",
		tickets: []Ticket{
			tk("a", "squad", "eu", 1000, 1, 0),
			tk("b", "squad", "eu", 1001, 2, 1*s),
			tk("c", "squad", "eu", 1002, 1, 2*s),
		},
		rooms:  []Room{{ID: "r1", Mode: "squad", Region: "eu", Rating: 1000, Free: 2}},
		steps:  []step{{2 * s, []string{"r1|squad/eu|a,c"}}},
		queued: []string{"b"},
		free:   map[string]int{"r1": removed},
	}, {
		name:    "backfill room by closest rating, then fewest Free",
		tickets: []Ticket{tk("a", "squad", "eu", 1000, 2, 0)},
		rooms: []Room{
			{ID: "far", Mode: "squad", Region: "eu", Rating: 1090, Free: 4},
			{ID: "near3", Mode: "squad", Region: "eu", Rating: 970, Free: 3},
			{ID: "near2", Mode: "squad", Region: "eu", Rating: 1030, Free: 2},
			{ID: "small", Mode: "squad", Region: "eu", Rating: 1000, Free: 1},     // party does not fit
			{ID: "out", Mode: "squad", Region: "eu", Rating: 1100.5, Free: 4},     // outside the window
			{ID: "us", Mode: "squad", Region: "us", Rating: 1000, Free: 4},        // other region
			{ID: "duel", Mode: "duel", Region: "eu", Rating: 1000, Free: 4},       // other mode
			{ID: "nan", Mode: "squad", Region: "eu", Rating: math.NaN(), Free: 4}, // never within a window
		},
		steps: []step{{0, []string{"near2|squad/eu|a"}}},
		free:  map[string]int{"near2": removed, "near3": 3, "far": 4, "small": 1},
	}, {
		name:    "backfill room ties by ID",
		tickets: []Ticket{tk("a", "squad", "eu", 1000, 1, 0)},
		rooms: []Room{
			{ID: "rb", Mode: "squad", Region: "eu", Rating: 1010, Free: 2},
			{ID: "ra", Mode: "squad", Region: "eu", Rating: 990, Free: 2},
		},
		steps: []step{{0, []string{"ra|squad/eu|a"}}},
		free:  map[string]int{"ra": 1, "rb": 2},
	}, {
		name:    "backfill needs the anchor's window only",
		tickets: []Ticket{tk("a", "grow", "eu", 1000, 1, 0)},
		rooms:   []Room{{ID: "r", Mode: "grow", Region: "eu", Rating: 1030, Free: 1}},
		steps:   []step{{1 * s, nil}, {2 * s, []string{"r|grow/eu|a"}}},
		free:    map[string]int{"r": removed},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(testModes)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range tt.tickets {
				if err := m.Enqueue(tc); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range tt.rooms {
				m.SetRoom(r)
			}
			for _, st := range tt.steps {
				if got := format(m.Tick(at(st.at))); !slices.Equal(got, st.want) {
					t.Fatalf("Tick(+%v) = %q, want %q", st.at, got, st.want)
				}
			}
			var queued []string
			for _, tc := range tt.tickets {
				if _, ok := m.Queued(tc.ID); ok {
					queued = append(queued, tc.ID)
				}
			}
			if !slices.Equal(queued, tt.queued) || m.Len() != len(tt.queued) {
				t.Errorf("queued %q (Len %d), want %q", queued, m.Len(), tt.queued)
			}
			for id, want := range tt.free {
				r, ok := m.Room(id)
				switch {
				case want == removed && ok:
					t.Errorf("room %q still open with Free %d", id, r.Free)
				case want != removed && (!ok || r.Free != want):
					t.Errorf("room %q: Free %d (open %v), want %d", id, r.Free, ok, want)
				}
			}
		})
	}
}

func TestTickEmpty(t *testing.T) {
	m, err := New(testModes)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Tick(base); got != nil {
		t.Fatalf("Tick on an empty queue = %v", got)
	}
	m.SetRoom(Room{ID: "r", Mode: "duel", Region: "eu", Rating: 1000, Free: 1})
	if got := m.Tick(base); got != nil {
		t.Fatalf("Tick with only a room = %v", got)
	}
}

func TestWindow(t *testing.T) {
	md := Mode{MinPlayers: 1, MaxPlayers: 1, InitialWindow: 50, WindowGrowth: 20, MaxWindow: 200}
	tests := []struct {
		waited time.Duration
		want   float64
	}{
		{0, 50},
		{-time.Hour, 50}, // clock stepped back: never below InitialWindow
		{1500 * time.Millisecond, 80},
		{7500 * time.Millisecond, 200},
		{time.Hour, 200},
	}
	for _, tt := range tests {
		if got := md.Window(tt.waited); got != tt.want {
			t.Errorf("Window(%v) = %v, want %v", tt.waited, got, tt.want)
		}
	}
	uncapped := Mode{MinPlayers: 1, MaxPlayers: 1, InitialWindow: 50, WindowGrowth: 20}
	if got := uncapped.Window(time.Hour); got != 50+20*3600 {
		t.Errorf("uncapped Window(1h) = %v", got)
	}

	m, err := New(map[string]Mode{"m": md})
	if err != nil {
		t.Fatal(err)
	}
	tc := tk("a", "m", "eu", 0, 1, 10*time.Second)
	if got := m.Window(tc, at(11*time.Second)); got != 70 {
		t.Errorf("Matchmaker.Window = %v, want 70", got)
	}
	if got := m.Window(tc, at(0)); got != 50 {
		t.Errorf("Matchmaker.Window before Since = %v, want 50", got)
	}
	tc.Mode = "nope"
	if got := m.Window(tc, at(time.Hour)); got != 0 {
		t.Errorf("Window of an unknown mode = %v, want 0", got)
	}
}

func TestEnqueueErrors(t *testing.T) {
	tests := []struct {
		name string
		t    Ticket
		want error
	}{
		{"empty ID", tk("", "squad", "eu", 1000, 1, 0), ErrInvalidTicket},
		{"zero size", tk("a", "squad", "eu", 1000, 0, 0), ErrInvalidTicket},
		{"negative size", tk("a", "squad", "eu", 1000, -2, 0), ErrInvalidTicket},
		{"NaN rating", tk("a", "squad", "eu", math.NaN(), 1, 0), ErrInvalidTicket},
		{"infinite rating", tk("a", "squad", "eu", math.Inf(-1), 1, 0), ErrInvalidTicket},
		{"unknown mode", tk("a", "nope", "eu", 1000, 1, 0), ErrUnknownMode},
		{"party larger than MaxPlayers", tk("a", "squad", "eu", 1000, 5, 0), ErrPartyTooLarge},
		{"duplicate ID", tk("dup", "duel", "us", 1, 1, 0), ErrDuplicateTicket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(testModes)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Enqueue(tk("dup", "squad", "eu", 1000, 1, 0)); err != nil {
				t.Fatal(err)
			}
			err = m.Enqueue(tt.t)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Enqueue = %v, want %v", err, tt.want)
			}
			if m.Len() != 1 {
				t.Fatalf("Len = %d after a refused Enqueue, want 1", m.Len())
			}
		})
	}

	m, err := New(testModes)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Enqueue(tk("full", "squad", "eu", 1000, 4, 0)); err != nil {
		t.Fatalf("party of exactly MaxPlayers refused: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	ok := Mode{MinPlayers: 2, MaxPlayers: 4, InitialWindow: 10, WindowGrowth: 1, MaxWindow: 100, FillWait: time.Second}
	with := func(f func(*Mode)) Mode { md := ok; f(&md); return md }
	tests := []struct {
		name string
		mode Mode
		rule string // a word the error must contain
	}{
		{"Min below 1", with(func(m *Mode) { m.MinPlayers = 0 }), "MinPlayers"},
		{"Max below Min", with(func(m *Mode) { m.MaxPlayers = 1 }), "MaxPlayers"},
		{"negative InitialWindow", with(func(m *Mode) { m.InitialWindow = -1 }), "InitialWindow"},
		{"NaN InitialWindow", with(func(m *Mode) { m.InitialWindow = math.NaN() }), "InitialWindow"},
		{"negative WindowGrowth", with(func(m *Mode) { m.WindowGrowth = -0.5 }), "WindowGrowth"},
		{"infinite WindowGrowth", with(func(m *Mode) { m.WindowGrowth = math.Inf(1) }), "WindowGrowth"},
		{"negative MaxWindow", with(func(m *Mode) { m.MaxWindow = -1 }), "MaxWindow"},
		{"MaxWindow below InitialWindow", with(func(m *Mode) { m.MaxWindow = 5 }), "MaxWindow"},
		{"negative FillWait", with(func(m *Mode) { m.FillWait = -time.Second }), "FillWait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(map[string]Mode{"good": ok, "bad-mode": tt.mode})
			if m != nil || !errors.Is(err, ErrInvalidMode) {
				t.Fatalf("New = %v, %v; want ErrInvalidMode", m, err)
			}
			if msg := err.Error(); !strings.Contains(msg, `"bad-mode"`) || !strings.Contains(msg, tt.rule) {
				t.Fatalf("error %q does not name the mode and %s", msg, tt.rule)
			}
		})
	}
	for _, md := range []Mode{
		ok,
		{MinPlayers: 1, MaxPlayers: 1}, // zero windows and no cap are valid
	} {
		if _, err := New(map[string]Mode{"m": md}); err != nil {
			t.Errorf("New(%+v) = %v", md, err)
		}
	}
	if _, err := New(nil); err != nil {
		t.Errorf("New(nil) = %v", err)
	}
}

func TestDequeue(t *testing.T) {
	m, err := New(testModes)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []Ticket{
		tk("a", "duel", "eu", 1000, 1, 0),
		tk("b", "duel", "eu", 1000, 1, time.Second),
		tk("c", "duel", "eu", 1000, 1, 2*time.Second),
	} {
		if err := m.Enqueue(tc); err != nil {
			t.Fatal(err)
		}
	}
	if !m.Dequeue("a") {
		t.Fatal("Dequeue(a) = false")
	}
	if m.Dequeue("a") || m.Dequeue("nope") {
		t.Fatal("Dequeue of a ticket not queued = true")
	}
	if _, ok := m.Queued("a"); ok || m.Len() != 2 {
		t.Fatalf("after Dequeue: Queued(a) = %v, Len = %d", ok, m.Len())
	}
	if got := format(m.Tick(at(2 * time.Second))); !slices.Equal(got, []string{"-|duel/eu|b,c"}) {
		t.Fatalf("Tick = %q, want b and c", got)
	}
	if m.Dequeue("b") {
		t.Fatal("Dequeue of a matched ticket = true")
	}
	// A dequeued ID may be queued again, as a new ticket.
	if err := m.Enqueue(tk("a", "duel", "eu", 1000, 1, 3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, ok := m.Queued("a"); !ok || !got.Since.Equal(at(3*time.Second)) {
		t.Fatalf("Queued(a) = %+v, %v", got, ok)
	}
	if !m.Dequeue("a") || m.Len() != 0 {
		t.Fatal("Dequeue before any Tick failed")
	}
	if got := m.Tick(at(4 * time.Second)); got != nil {
		t.Fatalf("Tick = %v, want none", format(got))
	}
}

func TestRooms(t *testing.T) {
	m, err := New(testModes)
	if err != nil {
		t.Fatal(err)
	}
	m.SetRoom(Room{ID: "", Mode: "duel", Region: "eu", Rating: 1000, Free: 1})
	if _, ok := m.Room(""); ok {
		t.Fatal("a room with an empty ID was accepted")
	}
	m.SetRoom(Room{ID: "r", Mode: "squad", Region: "eu", Rating: 1000, Free: 1})
	m.SetRoom(Room{ID: "r", Mode: "squad", Region: "us", Rating: 2000, Free: 3}) // moved
	if r, ok := m.Room("r"); !ok || r.Region != "us" || r.Free != 3 {
		t.Fatalf("Room(r) = %+v, %v", r, ok)
	}
	if err := m.Enqueue(tk("eu", "squad", "eu", 1000, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := m.Enqueue(tk("us", "squad", "us", 2000, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if got := format(m.Tick(base)); !slices.Equal(got, []string{"r|squad/us|us"}) {
		t.Fatalf("Tick = %q", got)
	}
	m.SetRoom(Room{ID: "r", Mode: "squad", Region: "us", Rating: 2000, Free: 0})
	if _, ok := m.Room("r"); ok {
		t.Fatal("SetRoom with Free 0 left the room open")
	}
	m.SetRoom(Room{ID: "r2", Mode: "squad", Region: "eu", Rating: 1000, Free: 2})
	m.RemoveRoom("r2")
	m.RemoveRoom("nope")
	if got := m.Tick(base); got != nil {
		t.Fatalf("Tick after RemoveRoom = %q", format(got))
	}
	// Updating a room in place, then matching into it.
	m.SetRoom(Room{ID: "r3", Mode: "squad", Region: "eu", Rating: 5000, Free: 2})
	if got := m.Tick(base); got != nil {
		t.Fatalf("Tick with a room out of the window = %q", format(got))
	}
	m.SetRoom(Room{ID: "r3", Mode: "squad", Region: "eu", Rating: 1050, Free: 2})
	if got := format(m.Tick(base)); !slices.Equal(got, []string{"r3|squad/eu|eu"}) {
		t.Fatalf("Tick = %q", got)
	}
	if r, _ := m.Room("r3"); r.Free != 1 {
		t.Fatalf("r3 Free = %d, want 1", r.Free)
	}
}

// TestMatchTicketsIndependent checks that the Tickets of one match can be
// appended to without changing another match, although a Tick allocates
// them together.
func TestMatchTicketsIndependent(t *testing.T) {
	m, err := New(testModes)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []float64{1000, 1000, 3000, 3000} {
		if err := m.Enqueue(tk(fmt.Sprint(i), "duel", "eu", r, 1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	ms := m.Tick(base)
	if len(ms) != 2 {
		t.Fatalf("Tick = %q", format(ms))
	}
	_ = append(ms[0].Tickets, Ticket{ID: "x"})
	if ms[1].Tickets[0].ID != "2" {
		t.Fatalf("appending to one match changed another: %q", format(ms))
	}
}

// scenario is a random run: tickets and rooms appear, tickets leave, and
// the matchmaker ticks every 100 ms.
type scenario struct {
	modes map[string]Mode
	ticks []tickOps
}

type tickOps struct {
	now     time.Time
	enqueue []Ticket
	dequeue []string
	rooms   []Room // SetRoom, Free <= 0 closing
}

type genParams struct {
	ticks, perTick int
	ratings        func(*rand.Rand) float64
	sizes          int // party sizes 1..sizes
	rooms          bool
}

func genScenario(seed uint64, p genParams) scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	modes := map[string]Mode{}
	for i := range 2 {
		lo := 1 + rng.IntN(3)
		md := Mode{
			MinPlayers:    lo,
			MaxPlayers:    max(lo+rng.IntN(4), p.sizes),
			InitialWindow: float64(rng.IntN(20)),
			WindowGrowth:  float64(rng.IntN(30)),
			FillWait:      time.Duration(rng.IntN(30)) * 100 * time.Millisecond,
		}
		if rng.IntN(2) == 0 {
			md.MaxWindow = md.InitialWindow + float64(rng.IntN(100))
		}
		modes[fmt.Sprintf("m%d", i)] = md
	}
	regions := []string{"eu", "us", "asia"}
	var sc scenario
	sc.modes = modes
	var live []string
	n := 0
	for i := range p.ticks {
		now := at(time.Duration(i) * 100 * time.Millisecond)
		var ops tickOps
		ops.now = now
		for range rng.IntN(p.perTick + 1) {
			id := fmt.Sprintf("t%04d", n)
			n++
			mode := fmt.Sprintf("m%d", rng.IntN(2))
			ops.enqueue = append(ops.enqueue, Ticket{
				ID:     id,
				Mode:   mode,
				Region: regions[rng.IntN(len(regions))],
				Rating: p.ratings(rng),
				Size:   1 + rng.IntN(min(p.sizes, modes[mode].MaxPlayers)),
				// Coarse times, so that equal Since values are common.
				Since: now.Add(-time.Duration(rng.IntN(5)) * 100 * time.Millisecond),
			})
			live = append(live, id)
		}
		if len(live) > 0 && rng.IntN(3) == 0 {
			// May name a ticket already matched; Dequeue must then say false.
			ops.dequeue = append(ops.dequeue, live[rng.IntN(len(live))])
		}
		if p.rooms && rng.IntN(4) == 0 {
			ops.rooms = append(ops.rooms, Room{
				ID:     fmt.Sprintf("r%d", rng.IntN(8)),
				Mode:   fmt.Sprintf("m%d", rng.IntN(2)),
				Region: regions[rng.IntN(len(regions))],
				Rating: p.ratings(rng),
				Free:   rng.IntN(5) - 1,
			})
		}
		sc.ticks = append(sc.ticks, ops)
	}
	return sc
}

// run plays sc on m and returns every Tick's matches; shuffle, if not nil,
// changes the order of the calls within each tick.
func (sc scenario) run(t *testing.T, shuffle *rand.Rand, each func(now time.Time, ms []Match)) [][]Match {
	t.Helper()
	m, err := New(sc.modes)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]Match
	for _, ops := range sc.ticks {
		enq, rooms := slices.Clone(ops.enqueue), slices.Clone(ops.rooms)
		if shuffle != nil {
			shuffle.Shuffle(len(enq), func(i, j int) { enq[i], enq[j] = enq[j], enq[i] })
			// Rooms are not shuffled among themselves: a later SetRoom of
			// the same ID wins, so their order is part of the input.
		}
		for _, tc := range enq {
			if err := m.Enqueue(tc); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ops.dequeue {
			m.Dequeue(id)
		}
		for _, r := range rooms {
			m.SetRoom(r)
		}
		ms := m.Tick(ops.now)
		if each != nil {
			each(ops.now, ms)
		}
		all = append(all, ms)
	}
	return all
}

func intRatings(rng *rand.Rand) float64 { return float64(rng.IntN(60)) }

func TestDeterminism(t *testing.T) {
	for seed := range uint64(20) {
		sc := genScenario(seed, genParams{ticks: 60, perTick: 12, ratings: intRatings, sizes: 3, rooms: true})
		want := sc.run(t, nil, nil)
		if got := sc.run(t, nil, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: two runs differ", seed)
		}
		for s := range uint64(3) {
			if got := sc.run(t, rand.New(rand.NewPCG(s, 7)), nil); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d: insertion order %d changed the matches", seed, s)
			}
		}
	}
}

// reference is a direct transcription of the rules of Tick, quadratic and
// obviously correct, to check the optimised Matchmaker against.
type reference struct {
	modes   map[string]Mode
	tickets map[string]Ticket
	rooms   map[string]Room
}

func (r *reference) tick(now time.Time) []Match {
	keys := map[[2]string]bool{}
	for _, t := range r.tickets {
		keys[[2]string{t.Mode, t.Region}] = true
	}
	sorted := make([][2]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	older := func(a, b Ticket) int {
		return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.ID, b.ID))
	}
	var out []Match
	for _, k := range sorted {
		md := r.modes[k[0]]
		win := func(t Ticket) float64 { return md.Window(now.Sub(t.Since)) }
		var ts []Ticket
		for _, t := range r.tickets {
			if t.Mode == k[0] && t.Region == k[1] {
				ts = append(ts, t)
			}
		}
		slices.SortFunc(ts, older)
		done := map[string]bool{}
		for _, a := range ts {
			if done[a.ID] {
				continue
			}
			wa := win(a)
			var cands []Ticket
			for _, t := range ts {
				d := math.Abs(t.Rating - a.Rating)
				if t.ID != a.ID && !done[t.ID] && d <= wa && d <= win(t) {
					cands = append(cands, t)
				}
			}
			slices.SortFunc(cands, func(x, y Ticket) int {
				return cmp.Or(cmp.Compare(math.Abs(x.Rating-a.Rating), math.Abs(y.Rating-a.Rating)), older(x, y))
			})
			fill := func(free int) []Ticket {
				got := []Ticket{a}
				for _, c := range cands {
					if c.Size <= free {
						got = append(got, c)
						free -= c.Size
					}
				}
				return got
			}
			var room *Room
			for _, rm := range r.rooms {
				d := math.Abs(rm.Rating - a.Rating)
				if rm.Mode != k[0] || rm.Region != k[1] || rm.Free < a.Size || !(d <= wa) {
					continue
				}
				if room == nil {
					room = &rm
					continue
				}
				bd := math.Abs(room.Rating - a.Rating)
				if d < bd || d == bd && (rm.Free < room.Free || rm.Free == room.Free && rm.ID < room.ID) {
					room = &rm
				}
			}
			var got []Ticket
			roomID := ""
			if room != nil {
				got = fill(room.Free - a.Size)
				roomID = room.ID
				rm := *room
				for _, t := range got {
					rm.Free -= t.Size
				}
				if rm.Free <= 0 {
					delete(r.rooms, rm.ID)
				} else {
					r.rooms[rm.ID] = rm
				}
			} else {
				got = fill(md.MaxPlayers - a.Size)
				seats := 0
				for _, t := range got {
					seats += t.Size
				}
				if !(seats == md.MaxPlayers || seats >= md.MinPlayers && max(now.Sub(a.Since), 0) >= md.FillWait) {
					continue
				}
			}
			for _, t := range got {
				done[t.ID] = true
				delete(r.tickets, t.ID)
			}
			out = append(out, Match{Room: roomID, Mode: k[0], Region: k[1], Tickets: got})
		}
	}
	return out
}

func TestAgainstReference(t *testing.T) {
	params := []genParams{
		{ticks: 80, perTick: 10, ratings: intRatings, sizes: 3, rooms: true},
		{ticks: 80, perTick: 25, ratings: func(r *rand.Rand) float64 { return float64(r.IntN(15)) }, sizes: 1, rooms: false},
		{ticks: 50, perTick: 20, ratings: func(r *rand.Rand) float64 { return r.Float64() * 300 }, sizes: 4, rooms: true},
	}
	for pi, p := range params {
		for seed := range uint64(40) {
			sc := genScenario(seed, p)
			ref := &reference{modes: sc.modes, tickets: map[string]Ticket{}, rooms: map[string]Room{}}
			m, err := New(sc.modes)
			if err != nil {
				t.Fatal(err)
			}
			for i, ops := range sc.ticks {
				for _, tc := range ops.enqueue {
					if err := m.Enqueue(tc); err != nil {
						t.Fatal(err)
					}
					ref.tickets[tc.ID] = tc
				}
				for _, id := range ops.dequeue {
					_, queued := ref.tickets[id]
					if got := m.Dequeue(id); got != queued {
						t.Fatalf("params %d seed %d tick %d: Dequeue(%s) = %v, want %v", pi, seed, i, id, got, queued)
					}
					delete(ref.tickets, id)
				}
				for _, rm := range ops.rooms {
					m.SetRoom(rm)
					if rm.Free <= 0 {
						delete(ref.rooms, rm.ID)
					} else {
						ref.rooms[rm.ID] = rm
					}
				}
				got, want := m.Tick(ops.now), ref.tick(ops.now)
				if !reflect.DeepEqual(format(got), format(want)) {
					t.Fatalf("params %d seed %d tick %d:\n got %q\nwant %q", pi, seed, i, format(got), format(want))
				}
				if m.Len() != len(ref.tickets) {
					t.Fatalf("params %d seed %d tick %d: Len %d, want %d", pi, seed, i, m.Len(), len(ref.tickets))
				}
				for id, rm := range ref.rooms {
					if r, ok := m.Room(id); !ok || r != rm {
						t.Fatalf("params %d seed %d tick %d: Room(%s) = %+v, %v; want %+v", pi, seed, i, id, r, ok, rm)
					}
				}
			}
		}
	}
}

// TestInvariants runs long random scenarios and checks what must hold of
// every match, whatever the rules chose.
func TestInvariants(t *testing.T) {
	for seed := range uint64(10) {
		sc := genScenario(seed, genParams{
			ticks: 200, perTick: 60, sizes: 3, rooms: true,
			ratings: func(r *rand.Rand) float64 { return r.NormFloat64()*300 + 1500 },
		})
		m, err := New(sc.modes)
		if err != nil {
			t.Fatal(err)
		}
		enqueued := map[string]Ticket{}
		matched := map[string]bool{}
		dequeued := 0
		for i, ops := range sc.ticks {
			for _, tc := range ops.enqueue {
				if err := m.Enqueue(tc); err != nil {
					t.Fatal(err)
				}
				enqueued[tc.ID] = tc
			}
			for _, id := range ops.dequeue {
				if m.Dequeue(id) {
					dequeued++
				}
			}
			for _, r := range ops.rooms {
				m.SetRoom(r)
			}
			free := map[string]int{} // open rooms before the Tick
			for j := range 8 {
				if r, ok := m.Room(fmt.Sprintf("r%d", j)); ok {
					free[r.ID] = r.Free
				}
			}
			now := ops.now
			for _, mt := range m.Tick(now) {
				where := fmt.Sprintf("seed %d tick %d match %q", seed, i, format([]Match{mt}))
				md := sc.modes[mt.Mode]
				a := mt.Tickets[0]
				seats := 0
				for _, tc := range mt.Tickets {
					if orig := enqueued[tc.ID]; tc != orig {
						t.Fatalf("%s: ticket %+v altered from %+v (a party split?)", where, tc, orig)
					}
					if matched[tc.ID] {
						t.Fatalf("%s: ticket %s matched twice", where, tc.ID)
					}
					matched[tc.ID] = true
					if _, ok := m.Queued(tc.ID); ok {
						t.Fatalf("%s: matched ticket %s still queued", where, tc.ID)
					}
					if tc.Mode != mt.Mode || tc.Region != mt.Region {
						t.Fatalf("%s: ticket %s from %s/%s", where, tc.ID, tc.Mode, tc.Region)
					}
					d := math.Abs(tc.Rating - a.Rating)
					if d > m.Window(a, now) || d > m.Window(tc, now) {
						t.Fatalf("%s: %s is %v from the anchor, windows %v and %v",
							where, tc.ID, d, m.Window(a, now), m.Window(tc, now))
					}
					seats += tc.Size
				}
				if mt.Room == "" {
					if seats > md.MaxPlayers || seats < md.MinPlayers {
						t.Fatalf("%s: %d players, mode takes %d..%d", where, seats, md.MinPlayers, md.MaxPlayers)
					}
					if seats < md.MaxPlayers && now.Sub(a.Since) < md.FillWait {
						t.Fatalf("%s: not full before FillWait", where)
					}
				} else {
					f, ok := free[mt.Room]
					if !ok || seats > f {
						t.Fatalf("%s: %d players into room with %d free (open %v)", where, seats, f, ok)
					}
					free[mt.Room] = f - seats
				}
			}
			for id, f := range free {
				if r, ok := m.Room(id); ok != (f > 0) || ok && r.Free != f {
					t.Fatalf("seed %d tick %d: room %s left as %+v, %v; want Free %d", seed, i, id, r, ok, f)
				}
			}
			if want := len(enqueued) - dequeued - len(matched); m.Len() != want {
				t.Fatalf("seed %d tick %d: Len %d, want %d", seed, i, m.Len(), want)
			}
		}
		if len(matched) == 0 {
			t.Fatalf("seed %d: nothing matched; the scenario tests nothing", seed)
		}
	}
}

// benchTickets returns n tickets with ratings uniform in 0..3000 across four
// regions, queued over the two seconds before base.
func benchTickets(rng *rand.Rand, n, maxSize int, id int) []Ticket {
	regions := []string{"asia", "eu", "sa", "us"}
	ts := make([]Ticket, n)
	for i := range ts {
		ts[i] = Ticket{
			ID:     fmt.Sprintf("t%d", id+i),
			Mode:   "ranked",
			Region: regions[rng.IntN(len(regions))],
			Rating: rng.Float64() * 3000,
			Size:   1 + rng.IntN(maxSize),
			Since:  base.Add(-time.Duration(rng.IntN(2000)) * time.Millisecond),
		}
	}
	return ts
}

var benchModes = map[string]Mode{
	"ranked": {MinPlayers: 2, MaxPlayers: 4, InitialWindow: 25, WindowGrowth: 50, MaxWindow: 400, FillWait: 3 * time.Second},
}

// BenchmarkTick queues 10,000 tickets at once and ticks every 100 ms of fake
// time until the queue is empty (or 10 s have passed), counting Enqueue and
// Tick: the throughput of draining a burst.
func BenchmarkTick(b *testing.B) {
	for _, maxSize := range []int{1, 3} {
		b.Run(fmt.Sprintf("party=1..%d", maxSize), func(b *testing.B) {
			const n = 10_000
			tickets := benchTickets(rand.New(rand.NewPCG(1, 2)), n, maxSize, 0)
			matched := 0
			for b.Loop() {
				m, err := New(benchModes)
				if err != nil {
					b.Fatal(err)
				}
				for _, t := range tickets {
					if err := m.Enqueue(t); err != nil {
						b.Fatal(err)
					}
				}
				now := base
				for range 100 {
					for _, mt := range m.Tick(now) {
						matched += len(mt.Tickets)
					}
					if m.Len() == 0 {
						break
					}
					now = now.Add(100 * time.Millisecond)
				}
			}
			b.ReportMetric(float64(matched)/b.Elapsed().Seconds(), "tickets/s")
			b.ReportMetric(float64(matched)/float64(b.N)/n, "matched/queued")
		})
	}
}

// BenchmarkTickSteady is the lobby's steady state: 2,000 new tickets per
// 100 ms tick (20,000 a second) on top of whatever is still waiting.
func BenchmarkTickSteady(b *testing.B) {
	const perTick = 2_000
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := New(benchModes)
	if err != nil {
		b.Fatal(err)
	}
	batches := make([][]Ticket, 64)
	for i := range batches {
		batches[i] = benchTickets(rng, perTick, 3, i*perTick)
	}
	now := base
	matched, tick := 0, 0
	next := make([]Ticket, perTick)
	fresh := func() {
		for i, t := range batches[tick%len(batches)] {
			t.ID = fmt.Sprint(t.ID, "-", tick)
			t.Since = now
			next[i] = t
		}
	}
	step := func() {
		for _, t := range next {
			if err := m.Enqueue(t); err != nil {
				b.Fatal(err)
			}
		}
		for _, mt := range m.Tick(now) {
			matched += len(mt.Tickets)
		}
		now = now.Add(100 * time.Millisecond)
		tick++
	}
	// Warm up into the steady state, untimed.
	for tick < 50 {
		fresh()
		step()
	}
	matched = 0
	for b.Loop() {
		b.StopTimer()
		fresh() // building unique IDs is the benchmark's cost, not the lobby's
		b.StartTimer()
		step()
	}
	b.ReportMetric(float64(matched)/b.Elapsed().Seconds(), "tickets/s")
	b.ReportMetric(float64(m.Len()), "queued")
}
