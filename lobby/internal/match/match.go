package match

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Errors returned by [New] and [Matchmaker.Enqueue], always wrapped with the
// offending mode or ticket; test for them with errors.Is.
var (
	// ErrUnknownMode is returned for a ticket whose Mode was not configured.
	ErrUnknownMode = errors.New("match: unknown mode")
	// ErrDuplicateTicket is returned for a ticket whose ID is already queued.
	ErrDuplicateTicket = errors.New("match: duplicate ticket")
	// ErrPartyTooLarge is returned for a party that could never be matched
	// because it has more players than its mode's MaxPlayers.
	ErrPartyTooLarge = errors.New("match: party too large")
	// ErrInvalidTicket is returned for a ticket with an empty ID, a Size
	// below 1 or a rating that is not a finite number.
	ErrInvalidTicket = errors.New("match: invalid ticket")
	// ErrInvalidMode is returned by New for a mode that breaks a rule of
	// [Mode]; the error names the mode and the rule.
	ErrInvalidMode = errors.New("match: invalid mode")
)

// Mode is the matchmaking rule set for one game mode.
type Mode struct {
	MinPlayers, MaxPlayers int           // 1 <= MinPlayers <= MaxPlayers
	InitialWindow          float64       // rating window at enqueue time (>= 0)
	WindowGrowth           float64       // window growth per second of waiting (>= 0)
	MaxWindow              float64       // cap on the window; 0 means no cap, else >= InitialWindow
	FillWait               time.Duration // how long an anchor waits for a full match before a match of >= MinPlayers is made (>= 0)
}

// Window is the rating window of a ticket of this mode that has waited for
// waited; a negative wait counts as none, so a clock that steps back cannot
// shrink a window below InitialWindow.
func (md Mode) Window(waited time.Duration) float64 {
	if waited < 0 {
		waited = 0
	}
	w := md.InitialWindow + md.WindowGrowth*waited.Seconds()
	if md.MaxWindow > 0 && w > md.MaxWindow {
		w = md.MaxWindow
	}
	return w
}

func (md Mode) validate() error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case md.MinPlayers < 1:
		return fmt.Errorf("MinPlayers %d is below 1", md.MinPlayers)
	case md.MaxPlayers < md.MinPlayers:
		return fmt.Errorf("MaxPlayers %d is below MinPlayers %d", md.MaxPlayers, md.MinPlayers)
	case !finite(md.InitialWindow) || md.InitialWindow < 0:
		return fmt.Errorf("InitialWindow %v is not a finite number >= 0", md.InitialWindow)
	case !finite(md.WindowGrowth) || md.WindowGrowth < 0:
		return fmt.Errorf("WindowGrowth %v is not a finite number >= 0", md.WindowGrowth)
	case !finite(md.MaxWindow) || md.MaxWindow < 0:
		return fmt.Errorf("MaxWindow %v is not a finite number >= 0", md.MaxWindow)
	case md.MaxWindow > 0 && md.MaxWindow < md.InitialWindow:
		// The cap would silently override InitialWindow: almost certainly a
		// configuration mistake, so say so rather than guess.
		return fmt.Errorf("MaxWindow %v is below InitialWindow %v", md.MaxWindow, md.InitialWindow)
	case md.FillWait < 0:
		return fmt.Errorf("FillWait %v is negative", md.FillWait)
	}
	return nil
}

// Ticket is one party waiting in the queue.
type Ticket struct {
	ID     string
	Mode   string
	Region string    // tickets match only within the same (Mode, Region)
	Rating float64   // a party's rating, computed by the caller
	Size   int       // players in the party (>= 1); a party is never split
	Since  time.Time // when it joined the queue
}

// Room is a running room that can take backfill.
type Room struct {
	ID           string
	Mode, Region string
	Rating       float64 // mean rating of its players
	Free         int     // free seats; <= 0 means not open for backfill
}

// Match is a group of tickets to put in one room.
type Match struct {
	Room         string   // "" for a new room, else the ID of the backfilled Room
	Mode, Region string   // of every ticket in the match
	Tickets      []Ticket // anchor first, then in the order chosen
}

// Matchmaker queues tickets and forms matches when ticked; the package
// documentation gives the rules. It is not safe for concurrent use.
type Matchmaker struct {
	modes   map[string]Mode
	tickets map[string]*entry
	rooms   map[string]*roomEntry
	buckets map[bucketKey]*bucket
	keys    []bucketKey // the keys of buckets, sorted when !keysDirty
	// keysDirty is set when a bucket is created; Tick sorts keys again.
	keysDirty bool

	// Scratch space reused by every Tick and bucket, so that a Tick
	// allocates only what it returns. Indexes are positions in the rating
	// order of the bucket being ticked.
	nxt    []int32  // union-find: nearest unmatched position at or after i (n: none)
	prv    []int32  // union-find, shifted by one: nearest unmatched at or before i-1 (0: none)
	gstart []int32  // first position with the same rating as position i
	pos    []slot   // what pick reads of position i, packed for the cache
	sel    []int32  // positions picked for the current anchor
	merge  []*entry // merge buffer for the incremental sort
}

type bucketKey struct{ mode, region string }

func (k bucketKey) compare(o bucketKey) int {
	if c := strings.Compare(k.mode, o.mode); c != 0 {
		return c
	}
	return strings.Compare(k.region, o.region)
}

// bucket holds the tickets and open rooms of one (Mode, Region).
type bucket struct {
	mode Mode
	// byRating and byAge hold the same entries, in rating order and in queue
	// order. Their first sorted entries are in order; entries queued since
	// the last Tick are appended after them and merged in by the next Tick.
	byRating, byAge []*entry
	sorted          int
	gone            int // dequeued entries not yet compacted away

	rooms      []*roomEntry // open rooms, by (Rating, ID) when !roomsDirty
	roomsDirty bool
	nrooms     int // rooms not gone
}

type entry struct {
	t    Ticket
	gone bool  // dequeued or matched: dropped at the next compaction
	idx  int32 // position in byRating during a Tick
}

// slot is the part of a ticket that the search for candidates reads, kept
// in an array in rating order so that walking outward from an anchor reads
// memory in sequence rather than chasing a pointer per ticket.
type slot struct {
	rating, win float64 // win: the window at the current Tick
	size        int
}

type roomEntry struct {
	Room
	gone bool
}

// New returns a Matchmaker for the given modes, keyed by the name tickets
// use in Ticket.Mode. It checks every mode and copies the map, so later
// changes to it have no effect.
func New(modes map[string]Mode) (*Matchmaker, error) {
	names := make([]string, 0, len(modes))
	for name := range modes {
		names = append(names, name)
	}
	slices.Sort(names) // report the same mode first every time
	ms := make(map[string]Mode, len(modes))
	for _, name := range names {
		md := modes[name]
		if err := md.validate(); err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrInvalidMode, name, err)
		}
		ms[name] = md
	}
	return &Matchmaker{
		modes:   ms,
		tickets: make(map[string]*entry),
		rooms:   make(map[string]*roomEntry),
		buckets: make(map[bucketKey]*bucket),
	}, nil
}

// Enqueue adds a ticket to the queue. The ticket is checked in full, so a
// party that could never be matched is refused now rather than waiting
// forever.
func (m *Matchmaker) Enqueue(t Ticket) error {
	if t.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrInvalidTicket)
	}
	md, ok := m.modes[t.Mode]
	if !ok {
		return fmt.Errorf("%w %q for ticket %q", ErrUnknownMode, t.Mode, t.ID)
	}
	if t.Size < 1 {
		return fmt.Errorf("%w %q: Size %d is below 1", ErrInvalidTicket, t.ID, t.Size)
	}
	if t.Size > md.MaxPlayers {
		return fmt.Errorf("%w: ticket %q has %d players, mode %q takes at most %d",
			ErrPartyTooLarge, t.ID, t.Size, t.Mode, md.MaxPlayers)
	}
	if math.IsNaN(t.Rating) || math.IsInf(t.Rating, 0) {
		return fmt.Errorf("%w %q: Rating %v is not a finite number", ErrInvalidTicket, t.ID, t.Rating)
	}
	if _, dup := m.tickets[t.ID]; dup {
		return fmt.Errorf("%w %q", ErrDuplicateTicket, t.ID)
	}
	b := m.bucket(bucketKey{t.Mode, t.Region})
	e := &entry{t: t}
	b.byRating = append(b.byRating, e)
	b.byAge = append(b.byAge, e)
	m.tickets[t.ID] = e
	return nil
}

// Dequeue removes a queued ticket and reports whether it was queued.
func (m *Matchmaker) Dequeue(id string) bool {
	e, ok := m.tickets[id]
	if !ok {
		return false
	}
	delete(m.tickets, id)
	e.gone = true
	m.buckets[bucketKey{e.t.Mode, e.t.Region}].gone++
	return true
}

// Len returns the number of tickets queued.
func (m *Matchmaker) Len() int { return len(m.tickets) }

// Queued returns the queued ticket with the given ID.
func (m *Matchmaker) Queued(id string) (Ticket, bool) {
	e, ok := m.tickets[id]
	if !ok {
		return Ticket{}, false
	}
	return e.t, true
}

// SetRoom adds an open room or updates one, found by ID; it may move to
// another Mode or Region. A room with Free <= 0 is removed, and so is
// nothing at all for an empty ID, which Match reserves for new rooms.
func (m *Matchmaker) SetRoom(r Room) {
	if r.ID == "" {
		return
	}
	if r.Free <= 0 {
		m.RemoveRoom(r.ID)
		return
	}
	if old, ok := m.rooms[r.ID]; ok {
		if old.Mode == r.Mode && old.Region == r.Region {
			old.Room = r
			m.buckets[bucketKey{r.Mode, r.Region}].roomsDirty = true
			return
		}
		m.RemoveRoom(r.ID)
	}
	b := m.bucket(bucketKey{r.Mode, r.Region})
	re := &roomEntry{Room: r}
	b.rooms = append(b.rooms, re)
	b.roomsDirty = true
	b.nrooms++
	m.rooms[r.ID] = re
}

// RemoveRoom closes a room for backfill; it is a no-op for an unknown ID.
func (m *Matchmaker) RemoveRoom(id string) {
	re, ok := m.rooms[id]
	if !ok {
		return
	}
	delete(m.rooms, id)
	re.gone = true
	b := m.buckets[bucketKey{re.Mode, re.Region}]
	b.roomsDirty = true
	b.nrooms--
}

// Room returns an open room as the matchmaker sees it, with the seats taken
// by backfill matches already subtracted from Free.
func (m *Matchmaker) Room(id string) (Room, bool) {
	re, ok := m.rooms[id]
	if !ok {
		return Room{}, false
	}
	return re.Room, true
}

// Window returns the rating window of t at now under its mode's rules, or 0
// if its mode is unknown.
func (m *Matchmaker) Window(t Ticket, now time.Time) float64 {
	md, ok := m.modes[t.Mode]
	if !ok {
		return 0
	}
	return md.Window(now.Sub(t.Since))
}

func (m *Matchmaker) bucket(k bucketKey) *bucket {
	b, ok := m.buckets[k]
	if !ok {
		b = &bucket{mode: m.modes[k.mode]}
		m.buckets[k] = b
		m.keys = append(m.keys, k)
		m.keysDirty = true
	}
	return b
}

// Tick forms every match the rules allow at now, removes the matched tickets
// from the queue and takes the seats of backfilled rooms. The result is nil
// when nothing matched.
func (m *Matchmaker) Tick(now time.Time) []Match {
	if m.keysDirty {
		slices.SortFunc(m.keys, bucketKey.compare)
		m.keysDirty = false
	}
	t := ticker{m: m, now: now}
	for _, k := range m.keys {
		t.bucket(k, m.buckets[k])
	}
	// Forget buckets left empty, so that a stream of one-off regions or
	// modes does not make every later Tick slower.
	m.keys = slices.DeleteFunc(m.keys, func(k bucketKey) bool {
		b := m.buckets[k]
		if len(b.byRating) > b.gone || b.nrooms > 0 {
			return false
		}
		delete(m.buckets, k)
		return true
	})
	return t.out
}

// ticker is the state of one Tick.
type ticker struct {
	m     *Matchmaker
	now   time.Time
	out   []Match
	arena []Ticket // backing store of the Tickets of every match in out
}

func (t *ticker) bucket(k bucketKey, b *bucket) {
	m := t.m
	if b.gone > 0 {
		b.compact()
	}
	if len(b.byRating) == 0 {
		return
	}
	m.prepare(b, t.now)
	b.prepareRooms()

	matched := false
	s := b.byRating
	for _, a := range b.byAge {
		if a.gone {
			continue
		}
		if r := b.bestRoom(a, m.pos[a.idx].win); r != nil {
			seats := a.t.Size + m.pick(s, a, r.Free-a.t.Size)
			r.Free -= seats
			if r.Free <= 0 {
				delete(m.rooms, r.ID)
				r.gone = true
				b.roomsDirty = true
				b.nrooms--
			}
			t.emit(k, r.ID, s, a)
			matched = true
			continue
		}
		md := &b.mode
		seats := a.t.Size + m.pick(s, a, md.MaxPlayers-a.t.Size)
		waited := max(t.now.Sub(a.t.Since), 0)
		if seats == md.MaxPlayers || seats >= md.MinPlayers && waited >= md.FillWait {
			t.emit(k, "", s, a)
			matched = true
		}
	}
	if matched {
		b.compact()
	}
}

// emit makes a match of anchor a and the picks in m.sel and takes them out
// of the queue.
func (t *ticker) emit(k bucketKey, room string, s []*entry, a *entry) {
	m := t.m
	if t.arena == nil {
		t.arena = make([]Ticket, 0, 256)
	}
	start := len(t.arena)
	t.arena = append(t.arena, a.t)
	m.take(a)
	for _, i := range m.sel {
		t.arena = append(t.arena, s[i].t)
		m.take(s[i])
	}
	// The full slice expression keeps a caller's append to one match from
	// writing over the next.
	tickets := t.arena[start:len(t.arena):len(t.arena)]
	t.out = append(t.out, Match{Room: room, Mode: k.mode, Region: k.region, Tickets: tickets})
}

// take removes a matched entry from the queue and from the search of later
// anchors.
func (m *Matchmaker) take(e *entry) {
	e.gone = true
	delete(m.tickets, e.t.ID)
	i := e.idx
	m.nxt[i] = i + 1
	m.prv[i+1] = i
}

// next returns the first unmatched position at or after i, or n.
func (m *Matchmaker) next(i int32) int32 {
	nx := m.nxt
	for nx[i] != i {
		nx[i] = nx[nx[i]] // path halving
		i = nx[i]
	}
	return i
}

// prev returns the last unmatched position at or before i, or -1.
func (m *Matchmaker) prev(i int32) int32 {
	pv := m.prv
	j := i + 1
	for pv[j] != j {
		pv[j] = pv[pv[j]]
		j = pv[j]
	}
	return j - 1
}

// prepare readies b for the anchors of one Tick: both orders sorted, and
// positions, windows, rating groups and the skip lists computed.
func (m *Matchmaker) prepare(b *bucket, now time.Time) {
	if b.sorted < len(b.byRating) {
		m.mergeTail(b.byRating, b.sorted, byRating)
		m.mergeTail(b.byAge, b.sorted, byAge)
		b.sorted = len(b.byRating)
	}
	s := b.byRating
	n := len(s)
	if cap(m.nxt) < n+1 {
		c := max(n+1, 2*cap(m.nxt))
		m.nxt = make([]int32, c)
		m.prv = make([]int32, c)
		m.gstart = make([]int32, c)
		m.pos = make([]slot, c)
	}
	nxt, prv, gstart, pos := m.nxt[:n+1], m.prv[:n+1], m.gstart[:n], m.pos[:n]
	for i, e := range s {
		i32 := int32(i)
		e.idx = i32
		pos[i] = slot{rating: e.t.Rating, win: b.mode.Window(now.Sub(e.t.Since)), size: e.t.Size}
		if i > 0 && s[i-1].t.Rating == e.t.Rating {
			gstart[i] = gstart[i-1]
		} else {
			gstart[i] = i32
		}
		nxt[i] = i32
		prv[i+1] = i32 + 1
	}
	nxt[n] = int32(n)
	prv[0] = 0
}

// pick gathers into m.sel the candidates that join anchor a in up to free
// seats (rule 4 of the package documentation) and returns the seats they
// take. It only reads the queue: nothing is taken until the match is made.
//
// Candidates come from two cursors walking away from the anchor's position
// in rating order, merged by distance. To the right, rating order already
// puts equal ratings oldest first; to the left it would put them newest
// first, so the left cursor moves a whole group of equal ratings at a time
// and walks each group forwards.
func (m *Matchmaker) pick(s []*entry, a *entry, free int) int {
	m.sel = m.sel[:0]
	if free <= 0 {
		return 0
	}
	n := int32(len(s))
	pos := m.pos[:n]
	ar, wa := a.t.Rating, pos[a.idx].win
	taken := 0

	var rd float64
	r := m.next(a.idx + 1)
	if r < n {
		if rd = pos[r].rating - ar; rd > wa {
			r = n
		}
	}

	var ld float64
	l, gs, ge := int32(-1), int32(0), m.prev(a.idx-1)
	if ge >= 0 {
		if ld = ar - pos[ge].rating; ld <= wa {
			gs = m.gstart[ge]
			l = m.next(gs)
		}
	}

	for free > 0 && (l >= 0 || r < n) {
		var c int32
		var d float64
		if r >= n || l >= 0 && (ld < rd || ld == rd && before(s[l], s[r])) {
			c, d = l, ld
			if l = m.next(l + 1); l > ge {
				l = -1
				if ge = m.prev(gs - 1); ge >= 0 {
					if ld = ar - pos[ge].rating; ld <= wa {
						gs = m.gstart[ge]
						l = m.next(gs)
					}
				}
			}
		} else {
			c, d = r, rd
			if r = m.next(r + 1); r < n {
				if rd = pos[r].rating - ar; rd > wa {
					r = n
				}
			}
		}
		if p := &pos[c]; p.size <= free && d <= p.win {
			m.sel = append(m.sel, c)
			free -= p.size
			taken += p.size
		}
	}
	return taken
}

// bestRoom returns the open room anchor a, of window wa, should backfill,
// or nil (rule 5).
func (b *bucket) bestRoom(a *entry, wa float64) *roomEntry {
	rs := b.rooms
	if len(rs) == 0 {
		return nil
	}
	ar := a.t.Rating
	var best *roomEntry
	var bestD float64
	consider := func(r *roomEntry, d float64) {
		if r.Free < a.t.Size {
			return
		}
		if best == nil || d < bestD || d == bestD && (r.Free < best.Free || r.Free == best.Free && r.ID < best.ID) {
			best, bestD = r, d
		}
	}
	i, _ := slices.BinarySearchFunc(rs, ar, func(r *roomEntry, x float64) int { return cmp.Compare(r.Rating, x) })
	// The comparisons are written so that a NaN rating ends the walk: such a
	// room sorts first and is never within anyone's window.
	for j := i; j < len(rs); j++ {
		d := rs[j].Rating - ar
		if !(d <= wa) {
			break
		}
		consider(rs[j], d)
	}
	for j := i - 1; j >= 0; j-- {
		d := ar - rs[j].Rating
		if !(d <= wa) {
			break
		}
		consider(rs[j], d)
	}
	return best
}

func (b *bucket) prepareRooms() {
	if !b.roomsDirty {
		return
	}
	b.rooms = slices.DeleteFunc(b.rooms, func(r *roomEntry) bool { return r.gone })
	slices.SortFunc(b.rooms, func(x, y *roomEntry) int {
		if c := cmp.Compare(x.Rating, y.Rating); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	b.roomsDirty = false
}

// compact drops gone entries from both orders, keeping them in order.
func (b *bucket) compact() {
	var sorted int
	b.byRating, sorted = compact(b.byRating, b.sorted)
	b.byAge, _ = compact(b.byAge, b.sorted)
	b.sorted = sorted
	b.gone = 0
}

func compact(s []*entry, sorted int) ([]*entry, int) {
	j, ns := 0, 0
	for i, e := range s {
		if e.gone {
			continue
		}
		s[j] = e
		j++
		if i < sorted {
			ns = j
		}
	}
	clear(s[j:]) // let the garbage collector have the dropped entries
	return s[:j], ns
}

// mergeTail sorts s[sorted:] and merges it into the sorted s[:sorted]. New
// tickets mostly arrive in queue order, so the merge is often skipped.
func (m *Matchmaker) mergeTail(s []*entry, sorted int, less func(x, y *entry) int) {
	tail := s[sorted:]
	slices.SortFunc(tail, less)
	if sorted == 0 || less(s[sorted-1], tail[0]) <= 0 {
		return
	}
	buf := m.merge[:0]
	i, j := 0, sorted
	for i < sorted && j < len(s) {
		if less(s[j], s[i]) < 0 {
			buf = append(buf, s[j])
			j++
		} else {
			buf = append(buf, s[i])
			i++
		}
	}
	buf = append(buf, s[i:sorted]...)
	buf = append(buf, s[j:]...)
	copy(s, buf)
	clear(buf) // hold no entries past this Tick
	m.merge = buf[:0]
}

// byAge is queue order: oldest first, ties by ID. IDs are unique, so it is
// a total order and sorting needs no stability.
func byAge(x, y *entry) int {
	if c := x.t.Since.Compare(y.t.Since); c != 0 {
		return c
	}
	return strings.Compare(x.t.ID, y.t.ID)
}

// byRating is rating order, ties in queue order.
func byRating(x, y *entry) int {
	if c := cmp.Compare(x.t.Rating, y.t.Rating); c != 0 {
		return c
	}
	return byAge(x, y)
}

// before reports whether x comes before y in queue order.
func before(x, y *entry) bool { return byAge(x, y) < 0 }
