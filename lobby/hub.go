//go:build !js

package lobby

import (
	"cmp"
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/tickwire/tickwire/lobby/internal/match"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"golang.org/x/time/rate"
)

// The hub is the lobby's one state owner: players, parties, the queue,
// rooms and game servers live in its goroutine, and connections talk to it
// through its inbox. One owner keeps every rule (a player is queued or
// seated, never both; a seat belongs to one room on one server) checkable
// in one place, without locks.
type hub struct {
	cfg   *Config
	m     *counters
	mm    *match.Matchmaker
	in    chan event
	calls chan func()
	quit  chan struct{}
	done  chan struct{}
	// ctx is cancelled when the hub stops, for context.AfterFunc.
	ctx    context.Context
	cancel context.CancelFunc

	players map[string]*player
	parties map[string]*party
	tickets map[string]*ticket
	rooms   map[string]*room
	codes   map[string]*room
	servers map[string]*gameServer
	pending map[*seat]struct{} // seats not yet claimed
	conns   map[*conn]struct{}

	// waitingSeats counts, per IP address, the seats of rooms created from
	// it that nobody plays in yet (MaxRoomSeatsPerIP); ipRooms are the
	// addresses' room creation budgets.
	waitingSeats map[string]int
	ipRooms      *lru.Cache[string, *rate.Limiter]
	// minRoom is the fewest seats a room of any mode needs, for readiness.
	minRoom int
	ready   atomic.Pointer[Readiness]

	warnNoServer rate.Sometimes
	// soon runs matchmaking shortly after a ticket joins, so a full match
	// forms in about a millisecond instead of waiting for the next tick;
	// armed says it is set. Bursts of tickets share one early run.
	soon  *time.Timer
	armed bool
}

// matchSoon is how long matchmaking waits after a ticket joins, to batch
// a burst of arrivals into one run.
const matchSoon = time.Millisecond

type event struct {
	c       *conn
	msg     any       // a decoded message, or nil
	ident   *Identity // set when a player's hello succeeded
	helloID string    // the hello's request id, with ident
	token   string    // the player's next token, with ident
	expires time.Time
	reg     *proto.Register // set when a game server registered
	trusted bool            // with reg: attached in-process
	gone    bool            // the connection ended
	// peerCode is, with gone, the close code the peer ended with (-1 for
	// none): a game server that closes normally gets no grace.
	peerCode int
	// reply is an error to send, and closeCode (if not 0) a close to make,
	// after the replies to the connection's earlier messages: the reader
	// decided them, but the hub keeps a connection's answers in order.
	reply       *proto.Error
	closeCode   int
	closeReason string
	// reserved is a link on which the reader holds a place for what this
	// event sends it; given back once the event is handled.
	reserved *conn
}

type player struct {
	id, name string
	c        *conn // nil while disconnected
	party    *party
	ticket   *ticket
	seat     *seat
	// Budgets that outlive a connection: signals relayed, rooms created.
	sigLim, roomLim *rate.Limiter
}

type party struct {
	code    string
	leader  *player
	members []*player
}

type ticket struct {
	id      string
	players []*player
	mode    string
	region  string
	rating  float64
	since   time.Time
}

type room struct {
	id, code, name string
	mode, region   string
	public         bool
	matchmade      bool
	max            int
	gs             *gameServer
	seats          map[string]*seat // by player id
	order          []*seat          // in seating order, for stable listings
	ratingSum      float64
	sigLim         *rate.Limiter // the room's signaling budget
	// A created room waits for play until a seat is claimed: meanwhile it
	// counts against its creator's IP (creatorIP), and it ends if its
	// creator loses its seat.
	waiting   bool
	creator   *player
	creatorIP string
}

type seat struct {
	room    *room
	p       *player
	token   string
	rating  float64
	claimed bool
	expires time.Time // when it is given up unless claimed
	// deadline is SeatTimeout after seating; expires comes sooner while
	// the player has no lobby connection (AbandonedSeatTimeout).
	deadline time.Time
}

type gameServer struct {
	id, name, region string
	capacity, load   int   // in seats; a room holds its max seats
	c                *conn // nil while its link is down, in its grace
	rooms            map[string]*room
	// resume is the token that takes this registration back; graceEnds is
	// when a server whose link dropped is given up.
	resume    string
	graceEnds time.Time
	// draining: no new room goes to it, and its rooms take no new players.
	draining bool
}

// send queues a message for the game server; while its link is down the
// message is dropped, and the re-registration's seat list makes up for it.
func (g *gameServer) send(typ string, msg any) {
	if g.c != nil {
		g.c.send(typ, msg)
	}
}

func (g *gameServer) sendError(id, code, msg string) {
	if g.c != nil {
		g.c.sendError(id, code, msg)
	}
}

func newHub(cfg *Config, m *counters) (*hub, error) {
	mm, err := match.New(cfg.matchModes())
	if err != nil {
		return nil, err
	}
	ipRooms, err := lru.New[string, *rate.Limiter](1 << 16)
	if err != nil {
		return nil, err
	}
	minRoom := 0
	for _, m := range cfg.Modes {
		if minRoom == 0 || m.MinPlayers < minRoom {
			minRoom = m.MinPlayers
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{
		waitingSeats: map[string]int{},
		ipRooms:      ipRooms,
		minRoom:      minRoom,
		ctx:          ctx,
		cancel:       cancel,
		cfg:          cfg,
		m:            m,
		mm:           mm,
		in:           make(chan event, 1024),
		calls:        make(chan func()),
		quit:         make(chan struct{}),
		done:         make(chan struct{}),
		players:      map[string]*player{},
		parties:      map[string]*party{},
		tickets:      map[string]*ticket{},
		rooms:        map[string]*room{},
		codes:        map[string]*room{},
		servers:      map[string]*gameServer{},
		pending:      map[*seat]struct{}{},
		conns:        map[*conn]struct{}{},
		warnNoServer: rate.Sometimes{Interval: 10 * time.Second},
	}
	h.updateReady()
	return h, nil
}

// post hands an event to the hub; false once the hub has stopped.
func (h *hub) post(ev event) bool {
	select {
	case h.in <- ev:
		return true
	case <-h.done:
		return false
	}
}

// do runs f in the hub goroutine and waits for it; false once the hub has
// stopped.
func (h *hub) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case h.calls <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-h.done:
		return false
	}
}

func (h *hub) run() {
	defer close(h.done)
	defer h.cancel()
	tick := time.NewTicker(h.cfg.TickInterval)
	defer tick.Stop()
	h.soon = time.NewTimer(time.Hour)
	h.soon.Stop()
	defer h.soon.Stop()
	for {
		select {
		case <-h.soon.C:
			h.armed = false
			h.tick(h.cfg.Now())
		case ev := <-h.in:
			h.handle(ev)
		case f := <-h.calls:
			f()
		case <-tick.C:
			h.tick(h.cfg.Now())
		case <-h.quit:
			for c := range h.conns {
				c.close(proto.CloseGoingAway, "lobby shutting down")
			}
			return
		}
		h.updateReady()
	}
}

// updateReady publishes the readiness: some linked game server has the
// seats for the smallest room a mode allows.
func (h *hub) updateReady() {
	var r Readiness
	for _, g := range h.servers {
		if g.c == nil || g.draining {
			continue
		}
		free := max(g.capacity-g.load, 0)
		r.GameServers++
		r.FreeSeats += free
		r.Ready = r.Ready || free >= h.minRoom
	}
	if old := h.ready.Load(); old == nil || *old != r {
		h.ready.Store(&r)
	}
}

func (h *hub) handle(ev event) {
	c := ev.c
	if ev.reserved != nil {
		defer ev.reserved.unreserve()
	}
	switch {
	case ev.gone:
		delete(h.conns, c)
		if c.player != nil {
			h.playerGone(c.player, c)
		}
		if c.gs != nil {
			h.serverGone(c.gs, c, ev.peerCode)
		}
	case ev.ident != nil:
		h.conns[c] = struct{}{}
		h.attachPlayer(c, *ev.ident, ev.helloID, ev.token, ev.expires)
	case ev.reg != nil:
		h.conns[c] = struct{}{}
		h.attachServer(c, ev.reg, ev.trusted)
	case ev.msg != nil && c.player != nil:
		h.playerMessage(c.player, ev.msg)
	case ev.msg != nil && c.gs != nil:
		h.serverMessage(c.gs, ev.msg)
	}
	if ev.reply != nil {
		c.send(proto.TypeError, ev.reply)
	}
	if ev.closeCode != 0 {
		c.close(ev.closeCode, ev.closeReason)
	}
}

func (h *hub) now() time.Time { return h.cfg.Now() }

// ---- players

func (h *hub) attachPlayer(c *conn, id Identity, helloID, token string, expires time.Time) {
	p := h.players[id.Player]
	if p == nil {
		p = &player{id: id.Player}
		h.players[id.Player] = p
	} else if p.c != nil {
		p.c.player = nil
		delete(h.conns, p.c)
		p.c.close(proto.CloseReplaced, "connected elsewhere")
	}
	p.name, p.c, c.player = id.Name, c, p
	if s := p.seat; s != nil && !s.claimed {
		s.expires = s.deadline // back in time: the seat is its again
	}
	h.route(p)
	w := &proto.Welcome{Envelope: proto.Envelope{ID: helloID}, V: proto.Version, Player: p.id, Name: p.name, Token: token}
	if token != "" {
		w.Expires = expires.Unix()
	}
	if p.ticket != nil {
		w.Ticket = p.ticket.id // a connection that replaced another: still queued
	}
	c.send(proto.TypeWelcome, w)
	// Back from a dropped lobby connection: say where it plays and with whom.
	if p.party != nil {
		c.send(proto.TypeParty, partyMessage(p.party))
	}
	if p.seat != nil {
		c.send(proto.TypeMatch, h.matchMessage(p.seat, ""))
	}
}

func (h *hub) playerGone(p *player, c *conn) {
	if p.c != c {
		return
	}
	p.c = nil
	if p.ticket != nil {
		h.dequeue(p.ticket, p, "", "")
	}
	if s := p.seat; s != nil && !s.claimed {
		// Without the lobby it cannot signal: unless it comes back soon,
		// the seat is only held for nobody.
		if t := h.now().Add(h.cfg.AbandonedSeatTimeout); t.Before(s.expires) {
			s.expires = t
		}
	}
	h.forgetIfIdle(p)
}

// route tells p's connection which game-server link its signals go to.
func (h *hub) route(p *player) {
	if p.c == nil {
		return
	}
	var l *conn
	if p.seat != nil {
		l = p.seat.room.gs.c
	}
	p.c.route.Store(l)
}

// forgetIfIdle drops a disconnected player once it holds no seat. A
// player keeps its party while it plays without a lobby connection; when the
// seat goes, so does its place in the party, as a player that is not there
// cannot lead it or be matched with it.
func (h *hub) forgetIfIdle(p *player) {
	if p.c != nil || p.seat != nil || p.ticket != nil {
		return
	}
	if p.party != nil {
		h.leaveParty(p)
	}
	delete(h.players, p.id)
}

func (h *hub) playerMessage(p *player, msg any) {
	switch m := msg.(type) {
	case *proto.Queue:
		h.queue(p, m)
	case *proto.RoomCreate:
		h.createRoom(p, m)
	case *proto.RoomJoin:
		h.joinRoom(p, m)
	case *proto.Rooms:
		h.listRooms(p, m)
	case *proto.PartyJoin:
		h.joinParty(p, m)
	case *proto.Signal:
		h.playerSignal(p, m)
	case *proto.Envelope:
		switch m.Type {
		case proto.TypeLeave:
			h.leave(p, m.ID)
		case proto.TypePartyNew:
			h.createParty(p, m.ID)
		}
	case *proto.Hello:
		p.c.sendError(m.ID, proto.CodeBadRequest, "already said hello")
	}
}

func (h *hub) busy(p *player, id string) bool {
	switch {
	case p.ticket != nil:
		p.c.sendError(id, proto.CodeBusy, "already queued")
	case p.seat != nil:
		p.c.sendError(id, proto.CodeBusy, "already in room "+p.seat.room.id)
	default:
		return false
	}
	return true
}

// freeFor checks that p may join something in mode and returns the mode;
// false means p has been told why not.
func (h *hub) freeFor(p *player, id, mode string) (Mode, bool) {
	if h.busy(p, id) {
		return Mode{}, false
	}
	m, ok := h.cfg.Modes[mode]
	if !ok {
		p.c.sendError(id, proto.CodeUnknownMode, "no mode "+quote(mode))
	}
	return m, ok
}

func (h *hub) queue(p *player, m *proto.Queue) {
	mode, ok := h.freeFor(p, m.ID, m.Mode)
	if !ok {
		return
	}
	players := []*player{p}
	if p.party != nil {
		if p.party.leader != p {
			p.c.sendError(m.ID, proto.CodeNotLeader, "only the party leader queues the party")
			return
		}
		players = slices.Clone(p.party.members)
		for _, q := range players {
			if q.seat != nil {
				p.c.sendError(m.ID, proto.CodeBusy, "party member "+q.id+" is in a room")
				return
			}
		}
	}
	if len(players) > mode.MaxPlayers {
		p.c.sendError(m.ID, proto.CodeBadRequest, "party larger than the mode's rooms")
		return
	}
	t := &ticket{id: "t-" + randomID(12), players: players, mode: m.Mode, region: m.Region, rating: m.Rating, since: h.now()}
	if err := h.mm.Enqueue(t.matchTicket()); err != nil {
		p.c.sendError(m.ID, proto.CodeBadRequest, err.Error())
		return
	}
	h.tickets[t.id] = t
	if !h.armed {
		h.armed = true
		h.soon.Reset(matchSoon)
	}
	for _, q := range players {
		q.ticket = t
		id := ""
		if q == p {
			id = m.ID
		}
		if q.c != nil {
			q.c.send(proto.TypeQueued, &proto.Queued{Envelope: proto.Envelope{ID: id}, Ticket: t.id, Mode: t.mode, Region: t.region})
		}
	}
}

func (t *ticket) matchTicket() match.Ticket {
	return match.Ticket{ID: t.id, Mode: t.mode, Region: t.region, Rating: t.rating, Size: len(t.players), Since: t.since}
}

// dequeue takes t out of the queue; by is the player who caused it, told
// with reason and id, and the rest of the party is told why.
func (h *hub) dequeue(t *ticket, by *player, reason, id string) {
	h.mm.Dequeue(t.id)
	delete(h.tickets, t.id)
	for _, q := range t.players {
		q.ticket = nil
		if q.c == nil {
			continue
		}
		if q == by {
			q.c.send(proto.TypeLeft, &proto.Left{Envelope: proto.Envelope{ID: id}, Reason: reason})
		} else {
			q.c.send(proto.TypeLeft, &proto.Left{Reason: proto.ReasonPartyLeft})
		}
	}
}

// leave takes the player out of, in order, its queue, its room or its party.
func (h *hub) leave(p *player, id string) {
	switch {
	case p.ticket != nil:
		h.dequeue(p.ticket, p, proto.ReasonLeave, id)
	case p.seat != nil:
		h.unseat(p.seat, proto.ReasonLeave, id, true)
	case p.party != nil:
		h.leaveParty(p)
		p.c.send(proto.TypeLeft, &proto.Left{Envelope: proto.Envelope{ID: id}, Reason: proto.ReasonLeave})
	default:
		p.c.send(proto.TypeLeft, &proto.Left{Envelope: proto.Envelope{ID: id}, Reason: proto.ReasonLeave})
	}
}

// ---- parties

func (h *hub) createParty(p *player, id string) {
	if p.party != nil {
		p.c.sendError(id, proto.CodeBusy, "already in a party")
		return
	}
	if h.busy(p, id) {
		return
	}
	pa := &party{code: h.freshCode(func(c string) bool { return h.parties[c] != nil }), leader: p, members: []*player{p}}
	h.parties[pa.code] = pa
	p.party = pa
	h.partyUpdate(pa, p, id)
}

func (h *hub) joinParty(p *player, m *proto.PartyJoin) {
	if p.party != nil {
		p.c.sendError(m.ID, proto.CodeBusy, "already in a party")
		return
	}
	if h.busy(p, m.ID) {
		return
	}
	pa := h.parties[strings.ToUpper(m.Code)]
	switch {
	case pa == nil:
		p.c.sendError(m.ID, proto.CodePartyNotFound, "no party "+quote(m.Code))
		return
	case pa.leader.ticket != nil:
		p.c.sendError(m.ID, proto.CodeBusy, "the party is queued")
		return
	case len(pa.members) >= proto.MaxPartySize:
		p.c.sendError(m.ID, proto.CodePartyFull, "party is full")
		return
	}
	pa.members = append(pa.members, p)
	p.party = pa
	h.partyUpdate(pa, p, m.ID)
}

func (h *hub) leaveParty(p *player) {
	pa := p.party
	p.party = nil
	pa.members = slices.DeleteFunc(pa.members, func(q *player) bool { return q == p })
	if len(pa.members) == 0 {
		delete(h.parties, pa.code)
		return
	}
	if pa.leader == p {
		pa.leader = pa.members[0]
	}
	h.partyUpdate(pa, nil, "")
}

// partyUpdate tells the members of pa who is in it; to's copy answers
// request id.
func (h *hub) partyUpdate(pa *party, to *player, id string) {
	for _, q := range pa.members {
		if q.c == nil {
			continue
		}
		msg := partyMessage(pa)
		if q == to {
			msg.ID = id
		}
		q.c.send(proto.TypeParty, msg)
	}
}

func partyMessage(pa *party) *proto.PartyUpdate {
	members := make([]proto.Player, len(pa.members))
	for i, q := range pa.members {
		members[i] = proto.Player{ID: q.id, Name: q.name}
	}
	return &proto.PartyUpdate{Code: pa.code, Leader: pa.leader.id, Members: members}
}

// ---- rooms

func (h *hub) createRoom(p *player, m *proto.RoomCreate) {
	mode, ok := h.freeFor(p, m.ID, m.Mode)
	if !ok {
		return
	}
	size := mode.MaxPlayers
	if m.Max != 0 {
		size = m.Max
	}
	if size > mode.MaxPlayers || size < mode.MinPlayers {
		p.c.sendError(m.ID, proto.CodeBadRequest, fmt.Sprintf("max must be within the mode's %d..%d players", mode.MinPlayers, mode.MaxPlayers))
		return
	}
	ip := p.c.ip
	if h.waitingSeats[ip]+size > h.cfg.MaxRoomSeatsPerIP {
		h.m.limit(LimitRooms)
		p.c.sendError(m.ID, proto.CodeTooManyRooms, fmt.Sprintf("rooms created from this address already hold %d seats nobody plays in (at most %d)",
			h.waitingSeats[ip], h.cfg.MaxRoomSeatsPerIP))
		return
	}
	if p.roomLim == nil {
		p.roomLim = rate.NewLimiter(rate.Limit(h.cfg.RoomCreateRate), h.cfg.RoomCreateBurst)
	}
	ipLim := h.ipRoomLimiter(ip)
	if p.roomLim.Tokens() < 1 || ipLim.Tokens() < 1 {
		h.m.limit(LimitRooms)
		p.c.sendError(m.ID, proto.CodeTooManyRooms, "rooms created too fast, by this player or this address")
		return
	}
	r := h.placeRoom(m.Mode, m.Region, size)
	if r == nil {
		p.c.sendError(m.ID, proto.CodeNoServer, "no game server has room")
		return
	}
	p.roomLim.Allow()
	ipLim.Allow()
	h.m.roomsCreated.Add(1)
	r.name, r.public = m.Name, m.Public
	r.code = h.freshCode(func(c string) bool { return h.codes[c] != nil })
	r.waiting, r.creator, r.creatorIP = true, p, ip
	h.waitingSeats[ip] += size
	h.codes[r.code] = r
	h.announce(r, []*seat{h.seatPlayer(r, p, 0)}, m.ID)
}

func (h *hub) ipRoomLimiter(ip string) *rate.Limiter {
	lim, ok := h.ipRooms.Get(ip)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(h.cfg.IPRoomCreateRate), h.cfg.IPRoomCreateBurst)
		h.ipRooms.Add(ip, lim)
	}
	return lim
}

// unwait ends r's wait for play (a seat is claimed, or it ended), so that
// its seats no longer count against its creator's address.
func (h *hub) unwait(r *room) {
	if !r.waiting {
		return
	}
	r.waiting = false
	if h.waitingSeats[r.creatorIP] -= r.max; h.waitingSeats[r.creatorIP] <= 0 {
		delete(h.waitingSeats, r.creatorIP)
	}
}

func (h *hub) joinRoom(p *player, m *proto.RoomJoin) {
	if h.busy(p, m.ID) {
		return
	}
	r := h.codes[strings.ToUpper(m.Code)]
	switch {
	case r == nil:
		p.c.sendError(m.ID, proto.CodeRoomNotFound, "no room with code "+quote(m.Code))
	case len(r.seats) >= r.max:
		p.c.sendError(m.ID, proto.CodeRoomFull, "room is full")
	case r.gs.draining:
		p.c.sendError(m.ID, proto.CodeRoomFull, "the room's game server is draining: it takes no new players")
	default:
		h.announce(r, []*seat{h.seatPlayer(r, p, 0)}, m.ID)
	}
}

func (h *hub) listRooms(p *player, m *proto.Rooms) {
	const maxListed = 100
	list := []proto.RoomInfo{}
	for _, r := range h.rooms {
		if r.public && len(r.seats) < r.max && (m.Mode == "" || m.Mode == r.mode) && !r.gs.draining {
			list = append(list, proto.RoomInfo{Room: r.id, Code: r.code, Name: r.name, Mode: r.mode,
				Region: r.region, Players: len(r.seats), Max: r.max})
		}
	}
	slices.SortFunc(list, func(a, b proto.RoomInfo) int { return cmp.Compare(a.Room, b.Room) })
	if len(list) > maxListed {
		list = list[:maxListed]
	}
	p.c.send(proto.TypeRooms, &proto.RoomsList{Envelope: proto.Envelope{ID: m.ID}, Rooms: list})
}

// placeRoom puts a new room of size seats on the least-loaded game server
// with the seats free, among those of the room's region if any has them,
// else among servers registered with no region (which serve every region).
// A room with no region goes anywhere.
func (h *hub) placeRoom(mode, region string, size int) *room {
	var best *gameServer
	bestExact := false
	for _, g := range h.servers {
		exact := region == "" || g.region == region
		if (!exact && g.region != "") || g.capacity-g.load < size || g.c == nil || g.draining {
			continue
		}
		if best == nil || (exact && !bestExact) || (exact == bestExact && lessLoaded(g, best)) {
			best, bestExact = g, exact
		}
	}
	if best == nil {
		return nil
	}
	r := &room{id: "r-" + randomID(12), mode: mode, region: region, max: size, gs: best, seats: map[string]*seat{},
		sigLim: rate.NewLimiter(rate.Limit(h.cfg.RoomSignalRate), h.cfg.RoomSignalBurst)}
	best.load += size
	best.rooms[r.id] = r
	h.rooms[r.id] = r
	return r
}

// lessLoaded orders servers by the fraction of seats in use, then by id, so
// that placement is deterministic.
func lessLoaded(a, b *gameServer) bool {
	la, lb := a.load*b.capacity, b.load*a.capacity
	if la != lb {
		return la < lb
	}
	return a.id < b.id
}

// seatPlayer gives p a seat in r and tells the game server; the caller
// tells the players, once everyone of a match is seated.
func (h *hub) seatPlayer(r *room, p *player, rating float64) *seat {
	s := &seat{room: r, p: p, token: randomID(22), rating: rating, deadline: h.now().Add(h.cfg.SeatTimeout)}
	s.expires = s.deadline
	r.seats[p.id] = s
	r.order = append(r.order, s)
	r.ratingSum += rating
	p.seat = s
	h.pending[s] = struct{}{}
	h.route(p)
	r.gs.send(proto.TypeSeat, seatRef(s))
	return s
}

func seatRef(s *seat) *proto.SeatRef {
	return &proto.SeatRef{Room: s.room.id, Player: s.p.id, Seat: s.token, Name: s.p.name, Mode: s.room.mode, Claimed: s.claimed}
}

// announce tells newly seated players their match (id answers the request
// of a single joiner) and everyone else in the room who is there now.
func (h *hub) announce(r *room, seated []*seat, id string) {
	for _, s := range seated {
		if s.p.c != nil {
			s.p.c.send(proto.TypeMatch, h.matchMessage(s, id))
		}
	}
	players := roomPlayers(r)
	for _, s := range r.order {
		if s.p.c != nil && !slices.Contains(seated, s) {
			s.p.c.send(proto.TypeRoom, &proto.RoomUpdate{Room: r.id, Players: players})
		}
	}
}

func (h *hub) matchMessage(s *seat, id string) *proto.Match {
	r := s.room
	return &proto.Match{
		Envelope:   proto.Envelope{ID: id},
		Room:       r.id,
		Code:       r.code,
		Mode:       r.mode,
		Region:     r.region,
		Server:     r.gs.id,
		Seat:       s.token,
		Players:    roomPlayers(r),
		ICEServers: h.cfg.iceServersFor(s.p.id, h.now()),
		Expires:    s.expires.UnixMilli(),
	}
}

func roomPlayers(r *room) []proto.Player {
	out := make([]proto.Player, len(r.order))
	for i, s := range r.order {
		out[i] = proto.Player{ID: s.p.id, Name: s.p.name}
	}
	return out
}

// roomUpdate tells everyone seated in r who is there.
func (h *hub) roomUpdate(r *room) {
	players := roomPlayers(r)
	for _, s := range r.order {
		if s.p.c != nil {
			s.p.c.send(proto.TypeRoom, &proto.RoomUpdate{Room: r.id, Players: players})
		}
	}
}

// unseat gives up s. The player is told with reason (and id, when it asked);
// the game server is told unless it is the one that asked (tellServer).
func (h *hub) unseat(s *seat, reason, id string, tellServer bool) {
	r, p := s.room, s.p
	delete(r.seats, p.id)
	r.order = slices.DeleteFunc(r.order, func(x *seat) bool { return x == s })
	r.ratingSum -= s.rating
	delete(h.pending, s)
	p.seat = nil
	h.route(p)
	if tellServer {
		r.gs.send(proto.TypeUnseat, &proto.SeatRef{Room: r.id, Player: p.id, Reason: reason})
	}
	if p.c != nil {
		p.c.send(proto.TypeLeft, &proto.Left{Envelope: proto.Envelope{ID: id}, Room: r.id, Reason: reason})
	}
	h.forgetIfIdle(p)
	if len(r.seats) == 0 {
		// Empty rooms end; the server hears of it even when it released the
		// last seat itself, so both sides forget the room together.
		h.closeRoom(r, reason, true)
		return
	}
	if r.waiting && p == r.creator {
		// Nobody plays in it and whoever made it is gone: its seats would
		// only be held, for nobody, until they expire.
		h.closeRoom(r, proto.ReasonAbandoned, true)
		return
	}
	h.roomUpdate(r)
	h.offerBackfill(r)
}

// closeRoom ends r: its remaining players are told reason, the game server
// is told with an end message unless it is the one that ended it.
func (h *hub) closeRoom(r *room, reason string, tellServer bool) {
	h.unwait(r) // no longer waiting: it is gone
	for _, s := range slices.Clone(r.order) {
		delete(r.seats, s.p.id)
		delete(h.pending, s)
		s.p.seat = nil
		h.route(s.p)
		if s.p.c != nil {
			s.p.c.send(proto.TypeLeft, &proto.Left{Room: r.id, Reason: reason})
		}
		h.forgetIfIdle(s.p)
	}
	r.order = nil
	delete(h.rooms, r.id)
	if r.code != "" {
		delete(h.codes, r.code)
	}
	h.mm.RemoveRoom(r.id)
	r.gs.load -= r.max
	delete(r.gs.rooms, r.id)
	if tellServer {
		r.gs.send(proto.TypeEnd, &proto.End{Room: r.id})
	}
}

// offerBackfill lets matchmaking fill r's free seats, when its mode allows.
func (h *hub) offerBackfill(r *room) {
	if !r.matchmade || !h.cfg.Modes[r.mode].Backfill {
		return
	}
	if r.gs.draining {
		h.mm.RemoveRoom(r.id)
		return
	}
	mean := 0.0
	if len(r.seats) > 0 {
		mean = r.ratingSum / float64(len(r.seats))
	}
	h.mm.SetRoom(match.Room{ID: r.id, Mode: r.mode, Region: r.region, Rating: mean, Free: r.max - len(r.seats)})
}

func (h *hub) playerSignal(p *player, m *proto.Signal) {
	s := p.seat
	if p.sigLim == nil {
		p.sigLim = rate.NewLimiter(rate.Limit(h.cfg.SignalRate), h.cfg.SignalBurst)
	}
	switch {
	case s == nil || s.room.id != m.Room:
		h.m.signal(proto.CodeNotInRoom)
		p.c.sendError(m.ID, proto.CodeNotInRoom, "not seated in room "+quote(m.Room))
	case m.Seat != s.token:
		h.m.signal(proto.CodeBadSeat)
		p.c.sendError(m.ID, proto.CodeBadSeat, "wrong seat token")
	case p.sigLim.Tokens() < 1:
		h.m.signal(proto.CodeSignalLimited)
		h.m.limit(LimitSignals)
		p.c.sendError(m.ID, proto.CodeSignalLimited, "over the player's signaling budget; not relayed")
	case !s.room.sigLim.Allow():
		h.m.signal(proto.CodeSignalLimited)
		h.m.limit(LimitSignals)
		p.c.sendError(m.ID, proto.CodeSignalLimited, "over the room's signaling budget; not relayed")
	default:
		p.sigLim.Allow()
		if s.room.gs.c == nil {
			h.m.signal("dropped")
		} else {
			h.m.signal("relayed")
		}
		s.room.gs.send(proto.TypeSignal, &proto.Signal{Room: m.Room, Player: p.id, Seat: s.token, Signal: m.Signal})
	}
}

// ---- matchmaking and expiry

func (h *hub) tick(now time.Time) {
	for _, m := range h.mm.Tick(now) {
		h.placeMatch(m)
	}
	var expired []*seat
	for s := range h.pending {
		if !now.Before(s.expires) {
			expired = append(expired, s)
		}
	}
	slices.SortFunc(expired, func(a, b *seat) int { return cmp.Compare(a.token, b.token) })
	for _, s := range expired {
		if s.p.seat == s { // not gone with an abandoned room meanwhile
			h.unseat(s, proto.ReasonExpired, "", true)
		}
	}
	for _, g := range h.servers {
		if g.c == nil && !now.Before(g.graceEnds) {
			h.cfg.Logger.Info("lobby: game server did not come back", "server", g.id)
			h.dropServer(g)
		}
	}
}

func (h *hub) placeMatch(m match.Match) {
	var r *room
	if m.Room != "" {
		r = h.rooms[m.Room]
	} else if r = h.placeRoom(m.Mode, m.Region, h.cfg.Modes[m.Mode].MaxPlayers); r != nil {
		r.matchmade = true
	}
	if r == nil {
		// No server has room: back in the queue, keeping their place.
		for _, mt := range m.Tickets {
			_ = h.mm.Enqueue(mt)
		}
		h.warnNoServer.Do(func() {
			h.cfg.Logger.Warn("lobby: a match has no game server to go to; requeued", "mode", m.Mode, "region", m.Region)
		})
		return
	}
	var seated []*seat
	h.m.matches.Add(1)
	for _, mt := range m.Tickets {
		t := h.tickets[mt.ID]
		delete(h.tickets, mt.ID)
		h.m.wait(h.now().Sub(t.since))
		h.m.matched.Add(uint64(len(t.players)))
		for _, q := range t.players {
			q.ticket = nil
			seated = append(seated, h.seatPlayer(r, q, t.rating))
		}
	}
	h.announce(r, seated, "")
	h.offerBackfill(r)
}

// ---- game servers

func (h *hub) attachServer(c *conn, reg *proto.Register, trusted bool) {
	capacity := reg.Capacity
	if !trusted && capacity > h.cfg.MaxServerCapacity {
		h.cfg.Logger.Warn("lobby: game server capacity lowered to MaxServerCapacity", "asked", capacity, "cap", h.cfg.MaxServerCapacity, "ip", c.ip)
		capacity = h.cfg.MaxServerCapacity
	}
	if g := h.resumable(reg.Resume); g != nil {
		h.resumeServer(g, c, reg, capacity)
		return
	}
	g := &gameServer{id: "s-" + randomID(10), name: reg.Name, region: reg.Region, capacity: capacity, c: c, rooms: map[string]*room{},
		resume: randomID(22)}
	h.servers[g.id] = g
	c.gs = g
	h.sendRegistered(c, &proto.Registered{Envelope: proto.Envelope{ID: reg.ID}, V: proto.Version, Server: g.id,
		Capacity: g.capacity, Resume: g.resume})
	h.cfg.Logger.Info("lobby: game server registered", "server", g.id, "name", g.name, "region", g.region, "capacity", g.capacity)
}

// sendRegistered acknowledges a game server's registration, once the
// readiness counts it: the hub's loop publishes the readiness only after
// the event, and a server told it is registered (AttachGameServer returns)
// could otherwise find the lobby not ready for a moment.
func (h *hub) sendRegistered(c *conn, m *proto.Registered) {
	h.updateReady()
	c.send(proto.TypeRegistered, m)
}

// resumable finds the game server whose registration token is token.
func (h *hub) resumable(token string) *gameServer {
	if token == "" {
		return nil
	}
	for _, g := range h.servers {
		if subtle.ConstantTimeCompare([]byte(g.resume), []byte(token)) == 1 {
			return g
		}
	}
	return nil
}

// resumeServer gives g, back on link c, its rooms: it is sent every seat
// the lobby holds for it (claimed ones marked), then registered; the game
// server drops what is not on that list and claims or releases what it
// knows better. Its old link, if the lobby still had it (the server saw the
// drop first), is closed.
func (h *hub) resumeServer(g *gameServer, c *conn, reg *proto.Register, capacity int) {
	if old := g.c; old != nil {
		old.gs = nil
		delete(h.conns, old)
		old.close(proto.CloseGoingAway, "game server registered again")
	}
	g.c, c.gs = c, g
	g.name, g.region, g.capacity = reg.Name, reg.Region, capacity
	g.resume = randomID(22)
	rooms := g.sortedRooms()
	seats := 0
	for _, r := range rooms {
		for _, s := range r.order {
			c.send(proto.TypeSeat, seatRef(s))
			h.route(s.p)
			seats++
		}
		h.offerBackfill(r)
	}
	h.sendRegistered(c, &proto.Registered{Envelope: proto.Envelope{ID: reg.ID}, V: proto.Version, Server: g.id,
		Capacity: g.capacity, Resume: g.resume, Resumed: true})
	h.cfg.Logger.Info("lobby: game server came back", "server", g.id, "rooms", len(rooms), "seats", seats)
}

func (g *gameServer) sortedRooms() []*room {
	rooms := make([]*room, 0, len(g.rooms))
	for _, r := range g.rooms {
		rooms = append(rooms, r)
	}
	slices.SortFunc(rooms, func(a, b *room) int { return cmp.Compare(a.id, b.id) })
	return rooms
}

// serverGone handles the end of game server g's link c. A server that
// closed normally is gone with its rooms; one whose link dropped keeps
// them for GameServerGrace, to register again with its resume token.
func (h *hub) serverGone(g *gameServer, c *conn, peerCode int) {
	if g.c != c {
		return // replaced by its own re-registration
	}
	g.c = nil
	if peerCode == proto.CloseNormal || h.cfg.GameServerGrace < 0 {
		h.dropServer(g)
		return
	}
	g.graceEnds = h.now().Add(h.cfg.GameServerGrace)
	for _, r := range g.rooms {
		h.mm.RemoveRoom(r.id) // no backfill into a server that may not come back
		for _, s := range r.order {
			h.route(s.p)
		}
	}
	h.cfg.Logger.Warn("lobby: game server link lost; holding its rooms for it", "server", g.id, "rooms", len(g.rooms),
		"grace", h.cfg.GameServerGrace, "code", peerCode)
}

// dropServer forgets g and ends its rooms: their players are told
// server_lost.
func (h *hub) dropServer(g *gameServer) {
	rooms := g.sortedRooms()
	for _, r := range rooms {
		h.closeRoom(r, proto.ReasonServerLost, false)
	}
	delete(h.servers, g.id)
	if g.c != nil {
		g.c.gs = nil
		g.c = nil
	}
	h.cfg.Logger.Info("lobby: game server gone", "server", g.id, "rooms", len(rooms))
}

// serverSeat finds the seat a game server names, answering with the error
// the protocol prescribes when the room or player is not its own.
func (h *hub) serverSeat(g *gameServer, id, roomID, playerID string) *seat {
	r := h.rooms[roomID]
	if r == nil || r.gs != g {
		g.sendError(id, proto.CodeNotYourRoom, "room "+quote(roomID)+" is not placed on this server")
		return nil
	}
	s := r.seats[playerID]
	if s == nil {
		g.sendError(id, proto.CodeNotYourPlayer, "player "+quote(playerID)+" has no seat in room "+quote(roomID))
	}
	return s
}

func (h *hub) serverMessage(g *gameServer, msg any) {
	switch m := msg.(type) {
	case *proto.Signal:
		s := h.serverSeat(g, m.ID, m.Room, m.Player)
		switch {
		case s == nil:
			h.m.signal("refused")
		case s.p.c == nil:
			h.m.signal("dropped")
		default:
			h.m.signal("relayed")
			s.p.c.send(proto.TypeSignal, &proto.Signal{Room: m.Room, Signal: m.Signal})
		}
	case *proto.SeatRef:
		s := h.serverSeat(g, m.ID, m.Room, m.Player)
		if s == nil {
			return
		}
		if m.Type == proto.TypeRelease {
			h.unseat(s, proto.ReasonReleased, "", false)
			g.send(proto.TypeOK, &proto.Envelope{ID: m.ID})
			return
		}
		if s.claimed || m.Seat != s.token {
			g.sendError(m.ID, proto.CodeBadSeat, "seat token wrong or already claimed")
			return
		}
		s.claimed = true
		delete(h.pending, s)
		h.unwait(s.room)
		g.send(proto.TypeOK, &proto.Envelope{ID: m.ID})
	case *proto.End:
		r := h.rooms[m.Room]
		if r == nil || r.gs != g {
			g.sendError(m.ID, proto.CodeNotYourRoom, "room "+quote(m.Room)+" is not placed on this server")
			return
		}
		h.closeRoom(r, proto.ReasonEnded, false)
		g.send(proto.TypeOK, &proto.Envelope{ID: m.ID})
	case *proto.Register:
		g.sendError(m.ID, proto.CodeBadRequest, "already registered")
	case *proto.Envelope:
		if m.Type == proto.TypeDrain {
			h.drain(g)
			g.send(proto.TypeOK, &proto.Envelope{ID: m.ID})
		}
	}
}

// drain stops g taking new rooms and new players: its running rooms play
// on until they end, and the game server then leaves (GameServer.Drain).
func (h *hub) drain(g *gameServer) {
	if !g.draining {
		h.cfg.Logger.Info("lobby: game server draining", "server", g.id, "rooms", len(g.rooms))
	}
	g.draining = true
	for _, r := range g.rooms {
		h.mm.RemoveRoom(r.id)
	}
}

// statsLocked counts what the hub holds; in the hub goroutine.
func (h *hub) statsLocked() Stats {
	var st Stats
	st.Players, st.Queued, st.Parties, st.Rooms = len(h.players), len(h.tickets), len(h.parties), len(h.rooms)
	for _, g := range h.servers {
		if g.c != nil {
			st.GameServers++
		} else {
			st.GameServersDown++
		}
	}
	for _, p := range h.players {
		if p.c != nil {
			st.Connected++
		}
	}
	for _, r := range h.rooms {
		st.Seats += len(r.seats)
	}
	return st
}

// ---- helpers

// freshCode returns a join code for which taken is false. Six characters
// give 887 million codes, so a retry is rare and eight in a row are
// practically impossible; the fallback doubles the length rather than loop.
func (h *hub) freshCode(taken func(string) bool) string {
	for range 8 {
		if c := joinCode(); !taken(c) {
			return c
		}
	}
	return joinCode() + joinCode()
}

func quote(s string) string {
	if len(s) > proto.MaxIDLen {
		s = s[:proto.MaxIDLen]
	}
	return `"` + s + `"`
}
