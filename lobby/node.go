//go:build !js

package lobby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"github.com/tickwire/tickwire/lobby/internal/match"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"golang.org/x/time/rate"
)

// node is one lobby node of a lobby whose state lives in a RedisStore: the
// engine of a Server with that store. It keeps no lobby state but its
// connections. Each request of a player or game server is one atomic
// operation of the store (store.lua), made from the connection's own reader
// goroutine, so a slow Redis call holds up only that connection. What the
// operations say to this node's connections, replies included, comes back
// through the node's inbox stream in the order the operations were made,
// and the router (run), the one goroutine that owns the connections, writes
// it to them. Beside them, a heartbeat keeps the node alive in the store, and
// a matchmaker runs the buckets (mode and region) whose lease this node
// holds and, holding the janitor's lease, expires seats, graces and dead
// nodes.
type node struct {
	cfg *Config
	st  *RedisStore
	id  string
	m   *counters
	log *slog.Logger

	in       chan []delivery // from the inbox reader to the router
	calls    chan func()
	quit     chan struct{}
	quitOnce sync.Once
	done     chan struct{}
	ctx      context.Context // cancelled when the router stops
	cancel   context.CancelFunc
	bg       context.Context // the inbox reader's and the matchmaker's; cancelled first at stop
	bgStop   context.CancelFunc
	// hb is the heartbeat's: cancelled once the other loops have stopped,
	// so that a stopping node is not taken for dead.
	hb      context.Context
	hbStop  context.CancelFunc
	loops   sync.WaitGroup // inboxLoop and matchLoop
	beating sync.WaitGroup // heartLoop
	crashed atomic.Bool
	poke    chan struct{} // wakes the matchmaker: a ticket joined one of its buckets
	// follower keeps the node from taking or renewing matchmaker and
	// janitor leases, for tests that choose which node leads; stalled skips
	// its heartbeats, for tests of a node that pauses past NodeTTL.
	follower, stalled atomic.Bool

	ready    atomic.Pointer[Readiness]
	healthy  atomic.Bool
	needSync atomic.Bool
	// syncMu keeps attaches and departures (read-locked, each around its
	// operation and the router's record of it) out of a resync, which lists
	// the node's connections and asserts them in the store.
	syncMu       sync.RWMutex
	minRoom      int
	warnNoServer rate.Sometimes

	conns map[string]*nconn // by connection id; owned by the router
}

// nconn is a connection as the router knows it.
type nconn struct {
	c    *conn
	who  string // player or game server id
	name string // a player's display name
	gs   bool
	// attached: its attach or register went through. A player's welcome
	// sets it too: the store sends the welcome through the inbox, which
	// can beat the store's answer to the node, and a player that has its
	// welcome is connected (Stats, and what gone tells the store).
	attached bool
	// What its player was last told, to tell it its queue or room is lost
	// should the store lose them.
	queued bool
	room   string
}

type delivery struct {
	conn string
	msg  []byte
}

// luaList is a JSON array from store.lua, whose cjson writes an empty one
// as {}.
type luaList[T any] []T

func (l *luaList[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "{}" {
		*l = nil
		return nil
	}
	return json.Unmarshal(b, (*[]T)(l))
}

func (s *RedisStore) engine(srv *Server) (engine, error) {
	if s.used {
		return nil, fmt.Errorf("%w: a RedisStore serves one Server; give each lobby node its own", ErrInvalidConfig)
	}
	minRoom := 0
	for _, m := range srv.cfg.Modes {
		if minRoom == 0 || m.MinPlayers < minRoom {
			minRoom = m.MinPlayers
		}
	}
	log := s.cfg.Logger
	if log == nil {
		log = srv.cfg.Logger
	}
	n := &node{
		cfg: srv.cfg, st: s, id: "n-" + randomID(10), m: srv.m,
		in: make(chan []delivery, 64), calls: make(chan func()), quit: make(chan struct{}), done: make(chan struct{}),
		poke: make(chan struct{}, 1), conns: map[string]*nconn{}, minRoom: minRoom,
		warnNoServer: rate.Sometimes{Interval: 10 * time.Second},
	}
	n.log = log.With("node", n.id)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.bg, n.bgStop = context.WithCancel(n.ctx)
	n.hb, n.hbStop = context.WithCancel(n.ctx)
	n.ready.Store(&Readiness{StoreDown: true})
	// The first heartbeat makes the node known before it serves anyone.
	if _, err := n.callBG(context.Background(), "heartbeat", map[string]any{}); err != nil {
		n.cancel()
		return nil, fmt.Errorf("lobby: Redis store: %w", err)
	}
	s.used = true
	n.healthy.Store(true)
	n.refreshReady(context.Background())
	n.log.Info("lobby: node joined the lobby", "prefix", s.cfg.Prefix)
	return n, nil
}

// common adds the arguments every operation reads.
func (n *node) common(args map[string]any) map[string]any {
	args["node"] = n.id
	args["seat_timeout"] = n.cfg.SeatTimeout.Milliseconds()
	args["abandoned"] = n.cfg.AbandonedSeatTimeout.Milliseconds()
	args["hold"] = n.st.cfg.PlayerGrace.Milliseconds()
	args["grace"] = n.cfg.GameServerGrace.Milliseconds()
	args["ttl"] = n.st.cfg.NodeTTL.Milliseconds()
	return args
}

// call makes one store operation for a player or game server.
func (n *node) call(ctx context.Context, op string, args map[string]any) (string, error) {
	return n.callOn(ctx, n.st.rdb, op, args)
}

// callBG makes one store operation for the node itself.
func (n *node) callBG(ctx context.Context, op string, args map[string]any) (string, error) {
	return n.callOn(ctx, n.st.bg, op, args)
}

func (n *node) callOn(ctx context.Context, c *redis.Client, op string, args map[string]any) (string, error) {
	if n.crashed.Load() {
		return "", errNodeCrashed
	}
	res, err := n.st.call(ctx, c, op, n.cfg.Now(), n.common(args))
	return res, n.failed(ctx, op, err)
}

// callMany makes the operation op for each of args, in order, in one
// round trip.
func (n *node) callMany(ctx context.Context, op string, args []map[string]any) ([]string, error) {
	if n.crashed.Load() {
		return nil, errNodeCrashed
	}
	for _, a := range args {
		n.common(a)
	}
	res, err := n.st.callMany(ctx, op, n.cfg.Now(), args)
	return res, n.failed(ctx, op, err)
}

// failed notes what a failed store call says about the store.
func (n *node) failed(ctx context.Context, op string, err error) error {
	if err != nil {
		if ctx.Err() != nil {
			return err // stopping, not an outage
		}
		if !outage(err) {
			// A script error is a bug here, not an outage.
			n.log.Error("lobby: store operation failed", "op", op, "err", err)
			return err
		}
		if n.healthy.Swap(false) {
			n.log.Warn("lobby: Redis unreachable: refusing new work until it is back", "op", op, "err", err)
			n.ready.Store(&Readiness{StoreDown: true})
		}
		n.needSync.Store(true)
		return err
	}
	return nil
}

var errNodeCrashed = errors.New("lobby: node crashed")

// usable says whether to try the store now: not while it is known down
// (the heartbeat finds out when it is back), so that requests are refused at
// once rather than each waiting for a timeout.
func (n *node) usable() bool { return n.healthy.Load() && !n.crashed.Load() }

// ---- the router

func (n *node) run() {
	defer close(n.done)
	defer n.cancel()
	n.loops.Add(2)
	go func() { defer n.loops.Done(); n.inboxLoop() }()
	go func() { defer n.loops.Done(); n.matchLoop() }()
	n.beating.Add(1)
	go func() { defer n.beating.Done(); n.heartLoop() }()
	for {
		select {
		case batch := <-n.in:
			for _, d := range batch {
				n.deliver(d)
			}
		case f := <-n.calls:
			f()
		case <-n.quit:
			n.shutdown()
			return
		}
	}
}

// shutdown stops the loops, hands the node's players and game servers over
// to the other nodes (unless it crashed), and closes its connections. The
// heartbeat stops last, once the others have (within an inbox read, 250 ms):
// a node is not taken for dead while it stops.
func (n *node) shutdown() {
	n.bgStop()
	n.serveUntil(&n.loops)
	n.hbStop()
	n.serveUntil(&n.beating)
	if n.crashed.Load() {
		for _, nc := range n.conns {
			abort(nc.c)
		}
		return
	}
	if n.usable() {
		// Its players keep their places for PlayerGrace, to find them again
		// through another node; its game servers' rooms wait out their grace.
		for range 100 {
			res, err := n.callBG(context.Background(), "leave_node", map[string]any{})
			if err != nil || strings.Contains(res, `"done":true`) {
				break
			}
		}
		n.log.Info("lobby: node left the lobby", "connections", len(n.conns))
	}
	for _, nc := range n.conns {
		nc.c.close(proto.CloseGoingAway, "lobby node shutting down")
	}
}

// serveUntil serves the router's calls, and drops what the inbox brings,
// until the goroutines of wg have ended: they may be waiting on the router.
func (n *node) serveUntil(wg *sync.WaitGroup) {
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	for {
		select {
		case <-stopped:
			return
		case f := <-n.calls:
			f()
		case <-n.in:
		}
	}
}

// abort drops a connection without a closing handshake, as a crash would.
func abort(c *conn) {
	if w, ok := c.t.(wsTransport); ok {
		_ = w.c.CloseNow()
		return
	}
	_ = c.t.Close(int(websocket.StatusInternalError), "lobby node crashed")
}

// crash stops the node as if its process died: no handoff, no closing
// handshakes, no more store calls. For tests of node death.
func (n *node) crash() {
	n.crashed.Store(true)
	n.stop()
}

func (n *node) stop() { n.quitOnce.Do(func() { close(n.quit) }) }

func (n *node) finished() <-chan struct{} { return n.done }
func (n *node) context() context.Context  { return n.ctx }
func (n *node) readiness() Readiness      { return *n.ready.Load() }

// do runs f in the router and waits; false once the router has stopped.
func (n *node) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case n.calls <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-n.done:
		return false
	}
}

// deliver writes one message from the inbox to its connection.
func (n *node) deliver(d delivery) {
	if d.conn == "" {
		select { // the only node-wide message: wake the matchmaker
		case n.poke <- struct{}{}:
		default:
		}
		return
	}
	nc := n.conns[d.conn]
	if nc == nil {
		return // gone meanwhile
	}
	c := nc.c
	var env proto.Envelope
	if err := json.Unmarshal(d.msg, &env); err != nil {
		n.log.Error("lobby: bad message in inbox", "err", err)
		return
	}
	if env.Type == "_close" {
		var cl struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(d.msg, &cl)
		c.close(cl.Code, cl.Reason)
		return
	}
	side := proto.ToPlayer
	if nc.gs {
		side = proto.ToServer
	}
	msg, err := proto.Decode(side, d.msg)
	if err != nil {
		n.log.Error("lobby: bad message in inbox", "type", env.Type, "err", err)
		return
	}
	if nc.gs && env.Type == proto.TypeSignal && c.queued() >= n.cfg.SendQueue {
		// The game server is behind: a signal is dropped as the network
		// would drop it, rather than queued without bound; the player's
		// WebRTC stack sends again.
		n.m.signal("dropped")
		return
	}
	switch m := msg.(type) {
	case *proto.Match:
		m.ICEServers = n.cfg.iceServersFor(nc.who, n.cfg.Now())
		nc.room, nc.queued = m.Room, false
	case *proto.RoomsList:
		if m.Rooms == nil {
			m.Rooms = []proto.RoomInfo{}
		}
	case *proto.Welcome:
		nc.queued, nc.attached = m.Ticket != "", true
	case *proto.Queued:
		nc.queued = true
	case *proto.Left:
		if m.Room == "" {
			nc.queued = false
		} else if nc.room == m.Room {
			nc.room = ""
		}
	}
	c.send(env.Type, msg)
}

// ---- connections, from their readers

func (n *node) attach(ev event) bool {
	c := ev.c
	c.id = randomID(16)
	nc := &nconn{c: c}
	n.syncMu.RLock()
	defer n.syncMu.RUnlock()
	if !n.do(func() { n.conns[c.id] = nc }) {
		return false
	}
	fail := func(id string, err error) bool {
		n.do(func() { delete(n.conns, c.id) })
		n.m.unavail.Add(1)
		c.sendError(id, proto.CodeUnavailable, "the lobby cannot take this connection now: try again later")
		c.close(proto.CloseTryLater, "store unavailable")
		return false
	}
	ctx := context.Background()
	if id := ev.ident; id != nil {
		nc.who, nc.name, c.who = id.Player, id.Name, id.Player
		if !n.usable() {
			return fail(ev.helloID, nil)
		}
		var exp int64
		if ev.token != "" {
			exp = ev.expires.Unix()
		}
		_, err := n.call(ctx, "attach", map[string]any{"conn": c.id, "player": id.Player, "name": id.Name,
			"hello_id": ev.helloID, "token": ev.token, "expires": exp})
		if err != nil {
			return fail(ev.helloID, err)
		}
		n.do(func() { nc.attached = true })
		return true
	}
	reg := ev.reg
	nc.gs = true
	capacity := reg.Capacity
	if !ev.trusted && capacity > n.cfg.MaxServerCapacity {
		n.log.Warn("lobby: game server capacity lowered to MaxServerCapacity", "asked", capacity, "cap", n.cfg.MaxServerCapacity, "ip", c.ip)
		capacity = n.cfg.MaxServerCapacity
	}
	if !n.usable() {
		return fail(reg.ID, nil)
	}
	res, err := n.call(ctx, "register", map[string]any{"conn": c.id, "id": reg.ID, "name": reg.Name, "region": reg.Region,
		"cap": capacity, "resume": reg.Resume, "new_id": "s-" + randomID(10), "new_resume": randomID(22)})
	if err != nil {
		return fail(reg.ID, err)
	}
	var r struct {
		Server  string `json:"server"`
		Resumed bool   `json:"resumed"`
		Rooms   int    `json:"rooms"`
		Seats   int    `json:"seats"`
	}
	_ = json.Unmarshal([]byte(res), &r)
	c.who = r.Server
	n.do(func() { nc.who, nc.attached = r.Server, true })
	if r.Resumed {
		n.log.Info("lobby: game server came back", "server", r.Server, "rooms", r.Rooms, "seats", r.Seats)
	} else {
		n.log.Info("lobby: game server registered", "server", r.Server, "name", reg.Name, "region", reg.Region, "capacity", capacity)
	}
	return true
}

func (n *node) gone(c *conn, peerCode int) {
	n.syncMu.RLock()
	defer n.syncMu.RUnlock()
	var nc *nconn
	n.do(func() { nc = n.conns[c.id] })
	if nc == nil {
		return
	}
	if nc.attached && n.usable() {
		var err error
		if nc.gs {
			_, err = n.call(context.Background(), "gsgone", map[string]any{"server": nc.who, "conn": c.id,
				"normal": peerCode == proto.CloseNormal})
			if err == nil {
				n.log.Info("lobby: game server link ended", "server", nc.who, "code", peerCode)
			}
		} else {
			_, err = n.call(context.Background(), "gone", map[string]any{"player": nc.who, "conn": c.id, "keep": false})
		}
		if err != nil {
			n.needSync.Store(true) // the resync tells the store
		}
	} else if nc.attached {
		n.needSync.Store(true)
	}
	n.do(func() { delete(n.conns, c.id) })
}

// closeAfter sends ev's error and close through the inbox, after the
// replies to what the connection sent before.
func (n *node) closeAfter(ev event) {
	if !n.ordered(ev.c, ev.reply, ev.closeCode, ev.closeReason) {
		if ev.reply != nil {
			ev.c.send(proto.TypeError, ev.reply)
		}
		ev.c.close(ev.closeCode, ev.closeReason)
		return
	}
	select {
	case <-ev.c.done:
	case <-n.done:
		ev.c.close(ev.closeCode, ev.closeReason)
	}
}

// ordered queues an error (and a close) for c through the node's inbox, so
// that it follows the replies to c's earlier requests; false when the
// store cannot take it.
func (n *node) ordered(c *conn, reply *proto.Error, code int, reason string) bool {
	if !n.usable() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.st.cfg.Timeout)
	defer cancel()
	pipe := n.st.rdb.Pipeline()
	stream := n.st.key("in", n.id)
	if reply != nil {
		b, err := proto.Encode(proto.TypeError, reply)
		if err != nil {
			return false
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"c", c.id, "m", b}})
	}
	if code != 0 {
		b, _ := json.Marshal(map[string]any{"type": "_close", "code": code, "reason": reason})
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"c", c.id, "m", b}})
	}
	_, err := pipe.Exec(ctx)
	return err == nil
}

// message makes one request of a player or game server an operation of the
// store; the store's answers come back through the inbox.
func (n *node) message(ev event) bool {
	c := ev.c
	if ev.reply != nil {
		if !n.ordered(c, ev.reply, 0, "") {
			c.send(proto.TypeError, ev.reply)
		}
		return true
	}
	if c.link {
		// A game server's requests wait for room on its link for their
		// replies, as in the hub: one that does not read is slowed down.
		if !c.reserve(c.done, n.done) {
			return !c.closed()
		}
		c.unreserve()
	}
	op, args, id := n.request(c, ev.msg)
	if op == "" {
		return true
	}
	if !n.usable() {
		n.refuse(c, id, op)
		return true
	}
	res, err := n.call(context.Background(), op, args)
	if err != nil {
		n.refuse(c, id, op)
		return true
	}
	switch op {
	case "psignal", "gsignal":
		n.m.signal(res)
		if res == proto.CodeSignalLimited {
			n.m.limit(LimitSignals)
		}
	case "room_create":
		switch res {
		case "created":
			n.m.roomsCreated.Add(1)
		case proto.CodeTooManyRooms:
			n.m.limit(LimitRooms)
		}
	}
	return true
}

// refuse answers a request the store could not take.
func (n *node) refuse(c *conn, id, op string) {
	n.m.unavail.Add(1)
	if op == "psignal" || op == "gsignal" {
		n.m.signal("dropped") // as a network would lose it; WebRTC sends again
		return
	}
	c.sendError(id, proto.CodeUnavailable, "the lobby cannot take new work now: try again later")
}

// request turns a message into a store operation and its arguments; op ""
// means there is nothing to ask the store.
func (n *node) request(c *conn, msg any) (op string, args map[string]any, id string) {
	args = map[string]any{"conn": c.id}
	if c.link {
		args["server"] = c.who
	} else {
		args["player"] = c.who
	}
	switch m := msg.(type) {
	case *proto.Queue:
		mode, known := n.cfg.Modes[m.Mode]
		args["id"], args["mode"], args["region"], args["rating"] = m.ID, m.Mode, m.Region, m.Rating
		args["known"], args["max"], args["ticket"], args["bucket"] = known, mode.MaxPlayers, "t-"+randomID(12), bucketKey(m.Mode, m.Region)
		return "queue", args, m.ID
	case *proto.RoomCreate:
		mode, known := n.cfg.Modes[m.Mode]
		size := mode.MaxPlayers
		if m.Max != 0 {
			size = m.Max
		}
		args["id"], args["mode"], args["region"], args["name"], args["public"] = m.ID, m.Mode, m.Region, m.Name, m.Public
		args["known"], args["min"], args["max"], args["size"] = known, mode.MinPlayers, mode.MaxPlayers, size
		args["ip"], args["room"], args["seat"], args["codes"] = c.ip, "r-"+randomID(12), randomID(22), freshCodes()
		args["max_seats_ip"] = n.cfg.MaxRoomSeatsPerIP
		args["rate"], args["burst"] = n.cfg.RoomCreateRate, n.cfg.RoomCreateBurst
		args["ip_rate"], args["ip_burst"] = n.cfg.IPRoomCreateRate, n.cfg.IPRoomCreateBurst
		return "room_create", args, m.ID
	case *proto.RoomJoin:
		args["id"], args["code"], args["raw"], args["seat"] = m.ID, strings.ToUpper(m.Code), m.Code, randomID(22)
		return "room_join", args, m.ID
	case *proto.Rooms:
		args["id"], args["mode"] = m.ID, m.Mode
		return "rooms", args, m.ID
	case *proto.PartyJoin:
		args["id"], args["code"], args["raw"] = m.ID, strings.ToUpper(m.Code), m.Code
		return "party_join", args, m.ID
	case *proto.Signal:
		sig, err := json.Marshal(m.Signal)
		if err != nil {
			return "", nil, ""
		}
		args["id"], args["room"], args["sig"] = m.ID, m.Room, string(sig)
		if c.link {
			args["player"] = m.Player
			return "gsignal", args, m.ID
		}
		args["seat"] = m.Seat
		args["rate"], args["burst"] = n.cfg.SignalRate, n.cfg.SignalBurst
		args["room_rate"], args["room_burst"] = n.cfg.RoomSignalRate, n.cfg.RoomSignalBurst
		return "psignal", args, m.ID
	case *proto.SeatRef:
		args["id"], args["room"], args["player"], args["seat"] = m.ID, m.Room, m.Player, m.Seat
		return m.Type, args, m.ID // claim or release
	case *proto.End:
		args["id"], args["room"] = m.ID, m.Room
		return "end", args, m.ID
	case *proto.Envelope:
		args["id"] = m.ID
		switch m.Type {
		case proto.TypeLeave:
			return "leave", args, m.ID
		case proto.TypePartyNew:
			args["codes"] = freshCodes()
			return "party_create", args, m.ID
		case proto.TypeDrain:
			return "drain", args, m.ID
		}
	case *proto.Hello:
		n.reply(c, m.ID, proto.CodeBadRequest, "already said hello")
	case *proto.Register:
		n.reply(c, m.ID, proto.CodeBadRequest, "already registered")
	}
	return "", nil, ""
}

// reply answers a request with an error made here, in order.
func (n *node) reply(c *conn, id, code, text string) {
	e := &proto.Error{Envelope: proto.Envelope{ID: id}, Code: code, Message: text}
	if !n.ordered(c, e, 0, "") {
		c.send(proto.TypeError, e)
	}
}

// freshCodes are join codes to try in turn, as the hub's freshCode: eight
// of six characters, then one of twelve that is used if all are taken.
func freshCodes() []string {
	codes := make([]string, 9)
	for i := range 8 {
		codes[i] = joinCode()
	}
	codes[8] = joinCode() + joinCode()
	return codes
}

// bucketKey names a matchmaking bucket in the store, unambiguously
// whatever its mode and region hold.
func bucketKey(mode, region string) string {
	return strconv.Itoa(len(mode)) + ":" + mode + region
}

// ---- background loops

// inboxLoop reads the node's inbox stream and hands it to the router.
func (n *node) inboxLoop() {
	stream := n.st.key("in", n.id)
	last := "0"
	trimmed := time.Now()
	for {
		res, err := n.st.inbox.XRead(n.bg, &redis.XReadArgs{Streams: []string{stream, last}, Count: 1024, Block: 250 * time.Millisecond}).Result()
		if n.bg.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-n.bg.Done():
				return
			}
			continue
		}
		var batch []delivery
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				c, _ := m.Values["c"].(string)
				b, _ := m.Values["m"].(string)
				batch = append(batch, delivery{conn: c, msg: []byte(b)})
			}
		}
		if len(batch) > 0 {
			select {
			case n.in <- batch:
			case <-n.bg.Done():
				return
			}
		}
		if time.Since(trimmed) > time.Second {
			trimmed = time.Now()
			ctx, cancel := context.WithTimeout(n.bg, n.st.cfg.Timeout)
			_ = n.st.inbox.XTrimMinID(ctx, stream, last).Err()
			cancel()
		}
	}
}

// heartLoop keeps the node alive in the store, finds out when the store is
// back after an outage, and then asserts again what the node holds.
func (n *node) heartLoop() {
	every := n.st.cfg.NodeTTL / 3
	for {
		wait := every
		if !n.healthy.Load() {
			wait = min(every, 250*time.Millisecond)
		}
		select {
		case <-time.After(wait):
		case <-n.hb.Done():
			return
		}
		if n.stalled.Load() {
			continue
		}
		res, err := n.callBG(n.hb, "heartbeat", map[string]any{})
		if err != nil {
			continue
		}
		if !n.healthy.Swap(true) {
			n.log.Info("lobby: Redis reachable again")
			n.needSync.Store(true)
		}
		if res == "new" {
			n.log.Warn("lobby: the store had lost this node (an outage, a pause, or Redis restarted): asserting its connections again")
			n.needSync.Store(true)
		}
		if n.needSync.Load() {
			n.resync(n.hb)
		}
		n.refreshReady(n.hb)
	}
}

func (n *node) refreshReady(ctx context.Context) {
	res, err := n.callBG(ctx, "ready", map[string]any{"min": n.minRoom})
	if err != nil {
		return
	}
	var r struct {
		Servers, Free int
		Ready         bool
	}
	_ = json.Unmarshal([]byte(res), &r)
	n.ready.Store(&Readiness{Ready: r.Ready, GameServers: r.Servers, FreeSeats: r.Free})
}

type syncEntry struct {
	Player   string `json:"player,omitempty"`
	Server   string `json:"server,omitempty"`
	Name     string `json:"name,omitempty"`
	Conn     string `json:"conn"`
	Attached bool   `json:"attached"`
}

// resync asserts the node's connections in the store: see ops.resync.
func (n *node) resync(ctx context.Context) {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	players, servers := []syncEntry{}, []syncEntry{}
	n.do(func() {
		for id, nc := range n.conns {
			if !nc.attached {
				continue
			}
			if nc.gs {
				servers = append(servers, syncEntry{Server: nc.who, Conn: id, Attached: true})
			} else {
				players = append(players, syncEntry{Player: nc.who, Name: nc.name, Conn: id, Attached: true})
			}
		}
	})
	res, err := n.callBG(ctx, "resync", map[string]any{"players": players, "servers": servers})
	if err != nil {
		return
	}
	var out struct {
		Recreated luaList[string] `json:"recreated"`
		Close     luaList[struct {
			Conn   string `json:"conn"`
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}] `json:"close"`
	}
	if json.Unmarshal([]byte(res), &out) == nil {
		n.do(func() {
			for _, id := range out.Recreated {
				nc := n.conns[id]
				if nc == nil {
					continue
				}
				// The store lost this player's queue or room: say so, as the
				// player would otherwise wait for a match that never comes.
				if nc.room != "" {
					nc.c.send(proto.TypeLeft, &proto.Left{Room: nc.room, Reason: proto.ReasonLost})
				}
				if nc.queued {
					nc.c.send(proto.TypeLeft, &proto.Left{Reason: proto.ReasonLost})
				}
				nc.room, nc.queued = "", false
			}
			for _, cl := range out.Close {
				if nc := n.conns[cl.Conn]; nc != nil {
					nc.c.close(cl.Code, cl.Reason)
				}
			}
		})
		if len(out.Recreated) > 0 || len(out.Close) > 0 {
			n.log.Warn("lobby: resynced with a store that had lost state", "players_recreated", len(out.Recreated),
				"links_closed", len(out.Close))
		}
	}
	n.needSync.Store(false)
}

// bucketState is what the matchmaker of one bucket keeps between ticks.
type bucketState struct {
	key, mode, region string
	lease             string // the lease it holds the bucket with; "" to load it again
	mm                *match.Matchmaker
	at                string // the position in the bucket's log it has read up to
}

// matchLoop runs the buckets this node leads and, as janitor, the sweeps.
func (n *node) matchLoop() {
	t := time.NewTicker(n.cfg.TickInterval)
	defer t.Stop()
	buckets := map[string]*bucketState{}
	janitor := false
	for {
		select {
		case <-n.bg.Done():
			return
		case <-t.C:
			if !n.usable() {
				continue
			}
			janitor = n.leases(buckets)
			n.matchAll(buckets)
			if janitor {
				n.sweep()
			}
		case <-n.poke:
			if n.usable() {
				// The ticket may be in a bucket this node does not lead yet.
				janitor = n.leases(buckets)
				n.matchAll(buckets)
			}
		}
	}
}

// leases renews and takes matchmaker leases; it reports whether this node
// is the janitor.
func (n *node) leases(buckets map[string]*bucketState) bool {
	res, err := n.callBG(n.bg, "leases", map[string]any{"lead": !n.follower.Load()})
	if err != nil {
		return false
	}
	var out struct {
		Held luaList[struct {
			B     string `json:"b"`
			Lease string `json:"lease"`
			Info  string `json:"info"`
		}] `json:"held"`
		Janitor bool `json:"janitor"`
	}
	if err := json.Unmarshal([]byte(res), &out); err != nil {
		return false
	}
	held := map[string]bool{}
	for _, h := range out.Held {
		held[h.B] = true
		st := buckets[h.B]
		if st == nil {
			var info struct{ Mode, Region string }
			_ = json.Unmarshal([]byte(h.Info), &info)
			if _, ok := n.cfg.Modes[info.Mode]; !ok {
				continue // queued by a node with other modes: not ours to match
			}
			st = &bucketState{key: h.B, mode: info.Mode, region: info.Region}
			buckets[h.B] = st
			n.log.Debug("lobby: matchmaking a bucket", "mode", info.Mode, "region", info.Region)
		}
		if st.lease != h.Lease {
			st.lease, st.mm = h.Lease, nil // a new lease: load it afresh
		}
	}
	for b := range buckets {
		if !held[b] {
			delete(buckets, b)
		}
	}
	return out.Janitor
}

func (n *node) matchAll(buckets map[string]*bucketState) {
	now := n.cfg.Now()
	for _, st := range buckets {
		if st.lease == "" {
			continue
		}
		if err := n.syncBucket(st); err != nil {
			st.mm = nil
			continue
		}
		matches := st.mm.Tick(now)
		if len(matches) == 0 {
			continue
		}
		// One round trip for all of them: they are about different tickets.
		args := make([]map[string]any, len(matches))
		for i, m := range matches {
			args[i] = n.commitArgs(st, m)
		}
		res, err := n.callMany(n.bg, "commit", args)
		if err != nil {
			st.mm = nil // did they happen? The store knows: load the bucket again.
			continue
		}
		for i, m := range matches {
			if !n.committed(st, m, res[i]) {
				break
			}
		}
	}
}

// syncBucket brings a bucket's matchmaker up to date with its log, or
// loads it whole when it has none yet.
func (n *node) syncBucket(st *bucketState) error {
	if st.mm == nil {
		res, err := n.callBG(n.bg, "bload", map[string]any{"bucket": st.key})
		if err != nil {
			return err
		}
		var out struct {
			At      string          `json:"at"`
			Tickets luaList[string] `json:"tickets"`
			Rooms   luaList[string] `json:"rooms"`
		}
		if err := json.Unmarshal([]byte(res), &out); err != nil {
			return err
		}
		mm, err := match.New(n.cfg.matchModes())
		if err != nil {
			return err
		}
		st.mm, st.at = mm, out.At
		for _, t := range out.Tickets {
			n.applyTicket(st, t)
		}
		for i := 0; i+1 < len(out.Rooms); i += 2 {
			n.applyRoom(st, out.Rooms[i], out.Rooms[i+1])
		}
		return nil
	}
	for {
		ctx, cancel := context.WithTimeout(n.bg, n.st.cfg.Timeout)
		msgs, err := n.st.bg.XRangeN(ctx, n.st.key("ql", st.key), "("+st.at, "+", 4096).Result()
		cancel()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			st.at = m.ID
			switch m.Values["o"] {
			case "a":
				s, _ := m.Values["t"].(string)
				n.applyTicket(st, s)
			case "d":
				id, _ := m.Values["t"].(string)
				st.mm.Dequeue(id)
			case "r":
				id, _ := m.Values["r"].(string)
				j, _ := m.Values["j"].(string)
				n.applyRoom(st, id, j)
			case "x":
				id, _ := m.Values["r"].(string)
				st.mm.RemoveRoom(id)
			}
		}
		if len(msgs) < 4096 {
			return nil
		}
	}
}

type storedTicket struct {
	ID      string   `json:"id"`
	Mode    string   `json:"mode"`
	Region  string   `json:"region"`
	Rating  float64  `json:"rating"`
	Since   int64    `json:"since"`
	Players []string `json:"players"`
}

func (n *node) applyTicket(st *bucketState, s string) {
	var t storedTicket
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return
	}
	_ = st.mm.Enqueue(match.Ticket{ID: t.ID, Mode: t.Mode, Region: t.Region, Rating: t.Rating, Size: len(t.Players),
		Since: time.UnixMilli(t.Since)})
}

func (n *node) applyRoom(st *bucketState, id, j string) {
	var r struct {
		Rating float64 `json:"rating"`
		Free   int     `json:"free"`
	}
	if err := json.Unmarshal([]byte(j), &r); err != nil {
		return
	}
	st.mm.SetRoom(match.Room{ID: id, Mode: st.mode, Region: st.region, Rating: r.Rating, Free: r.Free})
}

// commitArgs are the arguments of the store operation that makes match m.
func (n *node) commitArgs(st *bucketState, m match.Match) map[string]any {
	mode := n.cfg.Modes[m.Mode]
	ids := make([]string, len(m.Tickets))
	players := 0
	for i, t := range m.Tickets {
		ids[i] = t.ID
		players += t.Size
	}
	toks := make([]string, players)
	for i := range toks {
		toks[i] = randomID(22)
	}
	room, isNew := m.Room, m.Room == ""
	if isNew {
		room = "r-" + randomID(12)
	}
	return map[string]any{"lease": st.lease, "bucket": st.key, "new": isNew, "room": room,
		"mode": m.Mode, "region": m.Region, "size": mode.MaxPlayers, "backfill": mode.Backfill, "tickets": ids, "toks": toks}
}

// committed takes the store's answer to making match m; false means the
// bucket's lease is lost, and it is loaded again before its next tick.
func (n *node) committed(st *bucketState, m match.Match, res string) bool {
	var out struct {
		S       string         `json:"s"`
		T       string         `json:"t"`
		Players int            `json:"players"`
		Waits   luaList[int64] `json:"waits"`
	}
	_ = json.Unmarshal([]byte(res), &out)
	requeue := func(except string) {
		for _, t := range m.Tickets {
			if t.ID != except {
				_ = st.mm.Enqueue(t)
			}
		}
	}
	switch out.S {
	case "ok":
		n.m.matches.Add(1)
		n.m.matched.Add(uint64(out.Players))
		for _, w := range out.Waits {
			n.m.wait(time.Duration(w) * time.Millisecond)
		}
	case "gone":
		requeue(out.T) // one left the queue meanwhile; the others keep their place
	case "noserver":
		requeue("")
		n.warnNoServer.Do(func() {
			n.log.Warn("lobby: a match has no game server to go to; requeued", "mode", m.Mode, "region", m.Region)
		})
	case "noroom":
		requeue("")
		st.mm.RemoveRoom(m.Room)
	default: // "lease": another node leads the bucket now
		st.lease, st.mm = "", nil
		return false
	}
	return true
}

// sweep is the janitor's round.
func (n *node) sweep() {
	for range 16 {
		res, err := n.callBG(n.bg, "sweep", map[string]any{})
		if err != nil {
			return
		}
		var out struct {
			More bool            `json:"more"`
			Down luaList[string] `json:"down"`
		}
		_ = json.Unmarshal([]byte(res), &out)
		for _, d := range out.Down {
			n.log.Warn("lobby: a node stopped heartbeating: its players and game servers are handed over", "dead", d)
		}
		if !out.More {
			return
		}
	}
}

// ---- what the lobby holds

type storeStats struct {
	Players, Tickets, Parties, Rooms, Seats, Servers, Down int
	Queues                                                 luaList[struct {
		Mode, Region string
		Tickets      int
	}]
}

func (n *node) storeStats() (storeStats, bool) {
	var st storeStats
	if !n.usable() {
		return st, false
	}
	res, err := n.call(context.Background(), "stats", map[string]any{})
	if err != nil {
		return st, false
	}
	if err := json.Unmarshal([]byte(res), &st); err != nil {
		return st, false
	}
	return st, true
}

func (n *node) stats() Stats {
	st, ok := n.storeStats()
	return n.statsOf(st, ok)
}

// statsOf is Stats from what the store counts (when ok) and the node's
// own connections.
func (n *node) statsOf(st storeStats, ok bool) Stats {
	var s Stats
	if ok {
		s = Stats{Players: st.Players, Queued: st.Tickets, Parties: st.Parties, Rooms: st.Rooms, Seats: st.Seats,
			GameServers: st.Servers, GameServersDown: st.Down}
	}
	n.do(func() {
		for _, nc := range n.conns {
			if !nc.gs && nc.attached {
				s.Connected++
			}
		}
	})
	return s
}

func (n *node) gauges(m *Metrics) {
	st, ok := n.storeStats()
	m.Stats = n.statsOf(st, ok)
	m.StoreDown = !n.usable()
	for _, q := range st.Queues {
		m.Queues = append(m.Queues, QueueLen{Mode: q.Mode, Region: q.Region, Tickets: q.Tickets})
	}
}
