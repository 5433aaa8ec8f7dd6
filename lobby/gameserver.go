//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

// GameServerConfig configures the game-server half of the lobby protocol.
type GameServerConfig struct {
	// Name and Region describe the server to the lobby. Rooms go to servers
	// of their region first; a server with no region takes rooms of any
	// region when none of theirs has seats.
	Name, Region string
	// Capacity is how many seats the server takes (64 by default). A room
	// holds as many seats as its maximum size from placement to its end. A
	// lobby may take fewer from a server in another process
	// (Config.MaxServerCapacity); Capacity reports what it took.
	Capacity int
	// Key is the lobby's GameServerKey; DialGameServer needs it.
	Key string
	// Lobbies are the base URLs of other nodes of the same lobby (one
	// that shares its state through a RedisStore), for DialGameServer when
	// they are not behind one address: a dropped link registers again at
	// the next of them, round the list with the URL given to
	// DialGameServer. Any node resumes the registration.
	Lobbies []string
	// HandshakeTimeout bounds each player's WebRTC handshake once its offer
	// arrives (15 s by default). A failed handshake keeps the seat: the
	// player may offer again until the lobby's SeatTimeout.
	HandshakeTimeout time.Duration
	// ReconnectTimeout bounds how long a GameServer whose link to the lobby
	// dropped keeps registering again, waiting 250 ms and then twice as
	// long each time up to 4 s, with jitter. 0 (the default) means until
	// Close; negative means never: the GameServer then ends with its first
	// link. Back within the lobby's GameServerGrace, it gets its id, rooms
	// and seats back; later, it starts over as a new server (see Linked).
	ReconnectTimeout time.Duration
	// Logger receives the game server's logs. Nothing is logged by default.
	Logger *slog.Logger
}

// Player is a matched player whose channels are open on the game server.
type Player struct {
	Room string // the room id, the same for every player of one match
	ID   string // the lobby's player id
	Name string
	Mode string
	// Session is the player's netcode session. Closing it gives the seat
	// back to the lobby.
	Session *netcode.Session
}

// GameServer connects a netcode.Server to a lobby: the lobby tells it which
// players are coming, brokers their WebRTC signaling, and Accept returns
// each one as its session opens. It reports sessions that end, so seats go
// back to the lobby. It does not own the netcode.Server.
//
// Its link to the lobby may drop (the network, a lobby restart); it then
// registers again by itself (GameServerConfig.ReconnectTimeout) while the
// sessions it handed out play on. Back within the lobby's grace it resumes
// its registration: the same ID, rooms and seats, with what changed
// meanwhile settled (seats given up while it was away are closed, sessions
// that ended are released). Later, the lobby has told its players
// server_lost and forgotten their seats: it registers anew, under a new ID,
// and stops tracking the sessions it handed out, which stay the game's.
// Accept goes on across links; Done closes only when it stops for good.
type GameServer struct {
	ns   *netcode.Server
	cfg  GameServerConfig
	log  *slog.Logger
	dial func(ctx context.Context) (transport, error)

	mu       sync.Mutex // guards id, capacity and link, read by the API and signalers
	id       string
	capacity int
	link     *conn // nil while down

	in      chan linkMsg       // messages from the lobby, to loop
	lost    chan linkLost      // a link's reader ended, to loop
	linked  chan relinked      // a registration again, or why none, to loop
	results chan gsResult      // from accept and watch goroutines, to loop
	calls   chan func()        // API calls, to loop
	players chan *Player       // accepted, for Accept
	ctx     context.Context    // ends with Close, or when it gives up
	cancel  context.CancelFunc //
	wg      sync.WaitGroup
	done    chan struct{}
	errMu   sync.Mutex
	err     error

	seats  map[seatKey]*gsSeat // owned by loop
	resume string              // owned by loop: the token of the latest registration
	// draining is set by Drain (owned by loop); drained is closed, and set
	// to nil, once draining and no seat is left.
	draining bool
	drained  chan struct{}
}

type seatKey struct{ room, player string }

type gsSeat struct {
	token, name, mode string
	sig               *gsSignaler        // the current handshake's or session's signaling
	sess              *netcode.Session   // once open
	cancel            context.CancelFunc // of the handshake
}

type gsResult struct {
	key   seatKey
	sig   *gsSignaler
	sess  *netcode.Session
	err   error
	ended bool // the session ended
}

type linkMsg struct {
	l   *conn
	msg any
}

type linkLost struct {
	l   *conn
	err error
}

// relinked is a new registration (t, reg and the seats the lobby sent
// before it), or err: why the GameServer gives up.
type relinked struct {
	t     transport
	reg   *proto.Registered
	seats []*proto.SeatRef
	err   error
}

// AttachGameServer registers ns with this lobby, in this process: the
// embedded default, with no key and no WebSocket in between (the messages
// are the same). Its link ends only with the lobby's shutdown, after which
// it stops (ErrClosed).
func (s *Server) AttachGameServer(ctx context.Context, ns *netcode.Server, cfg *GameServerConfig) (*GameServer, error) {
	dial := func(context.Context) (transport, error) {
		if ok, status := s.admit("", false); !ok {
			return nil, fmt.Errorf("lobby: attach game server: %w (%d)", ErrClosed, status)
		}
		a, b := memPipe()
		c := newLink(b, "in-process", s.cfg.SendQueue)
		go func() {
			defer s.release("", false)
			s.serveTrusted(c)
		}()
		return a, nil
	}
	return newGameServer(ctx, ns, cfg, dial)
}

// DialGameServer registers ns with the lobby at lobbyURL (such as
// "http://127.0.0.1:8080") over WebSocket, from another process. It fails if
// the first registration does; after that, a dropped link is registered
// again (GameServerConfig.ReconnectTimeout).
func DialGameServer(ctx context.Context, lobbyURL string, ns *netcode.Server, cfg *GameServerConfig) (*GameServer, error) {
	var err error
	urls := []string{lobbyURL}
	if cfg != nil {
		urls = append(urls, cfg.Lobbies...)
	}
	for i, l := range urls {
		if urls[i], err = wsURL(l, "/v1/server"); err != nil {
			return nil, err
		}
	}
	var dials atomic.Int64
	dial := func(ctx context.Context) (transport, error) {
		// The first registration goes to lobbyURL; each one after a dropped
		// link to the next node of the list, as the last may be gone.
		u := urls[int(dials.Add(1)-1)%len(urls)]
		ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("lobby: dial %s: %s: %w", u, resp.Status, err)
			}
			return nil, fmt.Errorf("lobby: dial %s: %w", u, err)
		}
		ws.SetReadLimit(1 << 20)
		return wsTransport{ws}, nil
	}
	return newGameServer(ctx, ns, cfg, dial)
}

func newGameServer(ctx context.Context, ns *netcode.Server, cfg *GameServerConfig, dial func(context.Context) (transport, error)) (*GameServer, error) {
	var c GameServerConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Capacity == 0 {
		c.Capacity = 64
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Capacity < 0 || c.HandshakeTimeout < 0 || ns == nil {
		return nil, fmt.Errorf("%w: game server needs a netcode.Server, Capacity >= 0, HandshakeTimeout >= 0", ErrInvalidConfig)
	}
	t, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	reg, _, err := register(ctx, t, &c, "")
	if err != nil {
		_ = t.Close(proto.CloseNormal, "")
		return nil, err
	}
	g := &GameServer{
		ns: ns, cfg: c, log: c.Logger, dial: dial,
		in:      make(chan linkMsg, 256),
		lost:    make(chan linkLost, 1),
		linked:  make(chan relinked),
		results: make(chan gsResult, 64),
		calls:   make(chan func()),
		players: make(chan *Player, c.Capacity),
		done:    make(chan struct{}),
		seats:   map[seatKey]*gsSeat{},
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.startLink(t, reg)
	g.wg.Add(1)
	go func() { defer g.wg.Done(); g.loop() }()
	return g, nil
}

// register sends register (with the resume token of an earlier
// registration, if any) and reads the answer: registered, after the seats
// the lobby holds for a registration it resumes.
func register(ctx context.Context, t transport, c *GameServerConfig, resume string) (*proto.Registered, []*proto.SeatRef, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fail := func(err error) (*proto.Registered, []*proto.SeatRef, error) {
		return nil, nil, fmt.Errorf("lobby: register game server: %w", err)
	}
	b, err := proto.Encode(proto.TypeRegister, &proto.Register{V: proto.Version, Key: c.Key, Name: c.Name, Region: c.Region,
		Capacity: c.Capacity, Resume: resume})
	if err == nil {
		err = t.Write(ctx, b)
	}
	if err != nil {
		return fail(err)
	}
	var seats []*proto.SeatRef
	// A lobby holds at most Capacity seats for this server.
	for range c.Capacity + 1 {
		b, err := t.Read(ctx)
		if err != nil {
			return fail(err)
		}
		reply, err := proto.Decode(proto.ToServer, b)
		if err != nil {
			return fail(err)
		}
		switch m := reply.(type) {
		case *proto.Registered:
			return m, seats, nil
		case *proto.Error:
			return fail(&Error{Code: m.Code, Message: m.Message})
		case *proto.SeatRef:
			if m.Type == proto.TypeSeat && resume != "" {
				seats = append(seats, m)
				continue
			}
		}
		return fail(fmt.Errorf("%w: register answered with %s", ErrProtocol, proto.Env(reply).Type))
	}
	return fail(fmt.Errorf("%w: more seats than the capacity before registered", ErrProtocol))
}

// retryable says whether registering again may help after err: not when
// the lobby refused this server (its key, its version) or, in-process,
// has shut down.
func retryable(err error) bool {
	var le *Error
	if errors.As(err, &le) {
		return le.Code == CodeRateLimited || le.Code == CodeUnavailable
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrProtocol) {
		return false
	}
	return true
}

// startLink makes t the current link: a writer and a reader, until it
// drops.
func (g *GameServer) startLink(t transport, reg *proto.Registered) {
	l := newLink(t, "lobby", 256)
	g.mu.Lock()
	g.link, g.id, g.capacity = l, reg.Server, g.cfg.Capacity
	if reg.Capacity > 0 {
		g.capacity = reg.Capacity
	}
	g.mu.Unlock()
	g.resume = reg.Resume
	if reg.Capacity > 0 && reg.Capacity < g.cfg.Capacity {
		g.log.Warn("lobby: the lobby took less capacity than configured", "server", reg.Server, "capacity", reg.Capacity, "configured", g.cfg.Capacity)
	}
	g.wg.Add(2)
	go func() { defer g.wg.Done(); l.writeLoop() }()
	go func() { defer g.wg.Done(); g.readLoop(l) }()
}

// ID is the id the lobby gave this server at its latest registration, as
// players see it in Match.Server. It changes only when a registration
// after a dropped link could not resume the earlier one.
func (g *GameServer) ID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.id
}

// Capacity is the capacity the lobby took at the latest registration:
// the configured one, or the lobby's cap if lower.
func (g *GameServer) Capacity() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.capacity
}

// Linked reports whether the link to the lobby is up now. While it is
// down, no new player arrives, and signals to and from players (ICE
// restarts, resumes) are dropped.
func (g *GameServer) Linked() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.link != nil
}

// Accept returns the next player whose channels are open.
func (g *GameServer) Accept(ctx context.Context) (*Player, error) {
	select {
	case p := <-g.players:
		return p, nil
	case <-g.done:
		return nil, g.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// EndRoom tells the lobby the room's game is over and closes its players'
// sessions; the lobby tells the players. While the link is down the lobby
// learns of it when it is back (the room is not on the list of seats it
// resends, or it has ended there too).
func (g *GameServer) EndRoom(room string) error {
	return g.call(func() {
		for k, s := range g.seats {
			if k.room == room {
				g.dropSeat(k, s, "room ended")
			}
		}
		g.send(proto.TypeEnd, &proto.End{Room: room})
	})
}

// Drain is how a game server stops, as Kubernetes and Agones stop a pod
// (docs/agones.md): the lobby places nothing new on it (no room, no player
// joining one of its rooms by code, no backfill), the rooms on it play on,
// and once no seat is left (their games ended, or their players left) it
// leaves the lobby (Close) and returns nil. When ctx ends first it leaves
// anyway and returns ctx's error; the rooms still on it then end for the
// lobby, while the sessions already handed out stay the game's.
func (g *GameServer) Drain(ctx context.Context) error {
	var drained chan struct{}
	err := g.call(func() {
		if !g.draining {
			g.log.Info("lobby: draining: no new rooms or players", "server", g.ID(), "seats", len(g.seats))
			g.draining = true
			g.send(proto.TypeDrain, &proto.Envelope{})
		}
		if g.drained == nil && len(g.seats) > 0 {
			g.drained = make(chan struct{})
		}
		drained = g.drained
	})
	if err != nil {
		return err
	}
	if drained != nil {
		select {
		case <-drained:
		case <-g.done:
			return g.Err()
		case <-ctx.Done():
			_ = g.Close()
			return ctx.Err()
		}
	}
	return g.Close()
}

// Seats reports how many players the lobby has seated on this server and
// not yet given back: those playing and those still connecting.
func (g *GameServer) Seats() int {
	n := 0
	if g.call(func() { n = len(g.seats) }) != nil {
		return 0
	}
	return n
}

func (g *GameServer) call(f func()) error {
	ran := make(chan struct{})
	select {
	case g.calls <- func() { f(); close(ran) }:
		<-ran
		return nil
	case <-g.done:
		return g.Err()
	}
}

// Done is closed when the GameServer stops for good: Close, a lobby that
// refuses it or (in-process) has shut down, or ReconnectTimeout without a
// link. A dropped link that is registered again does not close it.
func (g *GameServer) Done() <-chan struct{} { return g.done }

// Err says why the GameServer stopped, after Done.
func (g *GameServer) Err() error {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	if g.err == nil {
		return ErrClosed
	}
	return g.err
}

// Close leaves the lobby, which ends this server's rooms, and waits for the
// goroutines it started. Sessions already returned by Accept stay open:
// they are the game's. Closed while its link is down, it cannot tell the
// lobby, which ends the rooms when their grace passes.
func (g *GameServer) Close() error {
	g.stop(ErrClosed)
	g.wg.Wait()
	return nil
}

func (g *GameServer) stop(err error) {
	g.errMu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.errMu.Unlock()
	g.cancel()
	g.mu.Lock()
	l := g.link
	g.mu.Unlock()
	if l != nil {
		l.close(proto.CloseNormal, "game server closing")
	}
}

// send queues a message for the lobby; while the link is down it is
// dropped, and the next registration settles what it said.
func (g *GameServer) send(typ string, msg any) {
	g.mu.Lock()
	l := g.link
	g.mu.Unlock()
	if l != nil {
		l.send(typ, msg)
	}
}

// readLoop reads link l until it ends. Its reads are not cancelled: a
// cancelled read would drop the connection on the spot, before the close
// code that tells the lobby whether this server is gone for good; closing
// l (its writer closes the transport) ends them.
func (g *GameServer) readLoop(l *conn) {
	for {
		b, err := l.t.Read(context.Background())
		if err != nil {
			select {
			case g.lost <- linkLost{l: l, err: err}:
			case <-g.ctx.Done():
			}
			return
		}
		msg, err := proto.Decode(proto.ToServer, b)
		if err != nil {
			g.log.Warn("lobby: bad message from lobby", "err", err)
			continue
		}
		select {
		case g.in <- linkMsg{l: l, msg: msg}:
		case <-g.ctx.Done():
			return
		}
	}
}

func (g *GameServer) loop() {
	defer close(g.done)
	defer func() {
		for k, s := range g.seats {
			if s.cancel != nil {
				s.cancel()
			}
			s.sig.closeOnce()
			delete(g.seats, k)
		}
	}()
	for {
		if g.drained != nil && len(g.seats) == 0 {
			close(g.drained)
			g.drained = nil
		}
		select {
		case m := <-g.in:
			if g.current(m.l) {
				g.handle(m.msg)
			}
		case r := <-g.results:
			g.result(r)
		case f := <-g.calls:
			f()
		case ll := <-g.lost:
			if g.current(ll.l) {
				g.linkDown(ll.l, ll.err)
			}
		case rl := <-g.linked:
			g.relink(rl)
		case <-g.ctx.Done():
			return
		}
	}
}

func (g *GameServer) current(l *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.link == l
}

// linkDown handles the loss of link l: the GameServer registers again,
// unless it must not.
func (g *GameServer) linkDown(l *conn, err error) {
	g.mu.Lock()
	g.link = nil
	g.mu.Unlock()
	l.close(proto.CloseGoingAway, "link lost")
	err = fmt.Errorf("%w: lobby link lost: %v", ErrClosed, err)
	if g.cfg.ReconnectTimeout < 0 {
		g.stop(err)
		return
	}
	g.log.Warn("lobby: link lost; registering again", "server", g.ID(), "err", err)
	g.wg.Add(1)
	go func() { defer g.wg.Done(); g.reattach(g.resume, err) }()
}

// Backoff between registrations after a dropped link.
const (
	reattachFirst = 250 * time.Millisecond
	reattachMax   = 4 * time.Second
)

// reattach registers again with resume, with backoff, and hands the new
// link (or why there is none) to loop.
func (g *GameServer) reattach(resume string, why error) {
	var deadline time.Time
	if g.cfg.ReconnectTimeout > 0 {
		deadline = time.Now().Add(g.cfg.ReconnectTimeout)
	}
	wait := reattachFirst
	for attempt := 1; ; attempt++ {
		select {
		case <-time.After(wait/2 + rand.N(wait)):
		case <-g.ctx.Done():
			return
		}
		t, err := g.dial(g.ctx)
		var rl relinked
		if err == nil {
			rl.reg, rl.seats, err = register(g.ctx, t, &g.cfg, resume)
			if err != nil {
				_ = t.Close(proto.CloseNormal, "")
			}
		}
		if err == nil {
			rl.t = t
		} else if !retryable(err) || (!deadline.IsZero() && time.Now().After(deadline)) {
			rl.err = fmt.Errorf("%w; registering again: %v", why, err)
		} else {
			g.log.Info("lobby: registering again failed", "attempt", attempt, "err", err)
			wait = min(wait*2, reattachMax)
			continue
		}
		select {
		case g.linked <- rl:
		case <-g.ctx.Done():
			if rl.t != nil {
				_ = rl.t.Close(proto.CloseNormal, "game server closing")
			}
		}
		return
	}
}

// relink takes a registration after a dropped link: the same one resumed,
// whose seats are settled with the lobby's list, or a new one.
func (g *GameServer) relink(rl relinked) {
	if rl.err != nil {
		g.log.Error("lobby: giving up on the lobby", "err", rl.err)
		g.stop(rl.err)
		return
	}
	old := g.ID()
	g.startLink(rl.t, rl.reg)
	if !rl.reg.Resumed {
		// The lobby forgot this server, its rooms and seats: so does it.
		// Sessions handed out stay the game's; their signaling ends.
		for k, s := range g.seats {
			if s.cancel != nil {
				s.cancel()
			}
			s.sig.closeOnce()
			delete(g.seats, k)
		}
		g.log.Warn("lobby: registered as a new server; earlier seats forgotten", "was", old, "server", rl.reg.Server)
		if g.draining {
			g.send(proto.TypeDrain, &proto.Envelope{})
		}
		return
	}
	g.reconcile(rl.seats)
	g.log.Info("lobby: link back; registration resumed", "server", rl.reg.Server, "seats", len(rl.seats))
	if g.draining {
		g.send(proto.TypeDrain, &proto.Envelope{})
	}
}

// reconcile settles the seats with the list the lobby sent on resuming:
// seats it no longer holds are dropped (their players left, expired or
// their room ended meanwhile); seats it holds that this server does not
// know are expected; a session that opened meanwhile is claimed, one that
// ended meanwhile released.
func (g *GameServer) reconcile(list []*proto.SeatRef) {
	held := make(map[seatKey]*proto.SeatRef, len(list))
	for _, m := range list {
		held[seatKey{m.Room, m.Player}] = m
	}
	for k, s := range g.seats {
		if m := held[k]; m == nil || m.Seat != s.token {
			g.dropSeat(k, s, "seat given up while the lobby link was down")
		}
	}
	for k, m := range held {
		s := g.seats[k]
		switch {
		case s == nil && m.Claimed:
			g.send(proto.TypeRelease, &proto.SeatRef{Room: k.room, Player: k.player, Reason: "session ended"})
		case s == nil:
			g.seats[k] = &gsSeat{token: m.Seat, name: m.Name, mode: m.Mode}
		case s.sess != nil && !m.Claimed:
			g.send(proto.TypeClaim, &proto.SeatRef{Room: k.room, Player: k.player, Seat: s.token})
		}
	}
}

func (g *GameServer) handle(msg any) {
	switch m := msg.(type) {
	case *proto.SeatRef:
		k := seatKey{m.Room, m.Player}
		if m.Type == proto.TypeUnseat {
			if s := g.seats[k]; s != nil {
				g.dropSeat(k, s, "left the room: "+m.Reason)
			}
			return
		}
		if old := g.seats[k]; old != nil {
			g.dropSeat(k, old, "seated again")
		}
		g.seats[k] = &gsSeat{token: m.Seat, name: m.Name, mode: m.Mode}
	case *proto.End:
		for k, s := range g.seats {
			if k.room == m.Room {
				g.dropSeat(k, s, "room ended")
			}
		}
	case *proto.Signal:
		g.signal(m)
	case *proto.Error:
		g.log.Warn("lobby: refused", "code", m.Code, "message", m.Message)
	}
}

func (g *GameServer) signal(m *proto.Signal) {
	k := seatKey{m.Room, m.Player}
	s := g.seats[k]
	if s == nil || m.Seat != s.token {
		// The lobby checked the seat; a mismatch means our state is behind
		// (an unseat crossed this signal): drop it.
		g.log.Debug("lobby: signal for no seat", "room", m.Room, "player", m.Player)
		return
	}
	if s.sig == nil || (s.sess == nil && m.Signal.Type == netcode.SignalOffer && s.sig.closed()) {
		if m.Signal.Type != netcode.SignalOffer {
			return
		}
		g.startHandshake(k, s)
	}
	if !s.sig.deliver(*m.Signal) {
		g.dropSeat(k, s, "signaling flood")
		g.send(proto.TypeRelease, &proto.SeatRef{Room: k.room, Player: k.player, Reason: "signaling flood"})
	}
}

func (g *GameServer) startHandshake(k seatKey, s *gsSeat) {
	sig := newGSSignaler(g, k)
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.HandshakeTimeout)
	s.sig, s.cancel = sig, cancel
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer cancel()
		sess, err := g.ns.Accept(ctx, sig)
		select {
		case g.results <- gsResult{key: k, sig: sig, sess: sess, err: err}:
		case <-g.ctx.Done():
			if sess != nil {
				_ = sess.Close("game server closing")
			}
		}
	}()
}

func (g *GameServer) result(r gsResult) {
	s := g.seats[r.key]
	current := s != nil && s.sig == r.sig
	switch {
	case r.ended:
		if current && s.sess == r.sess {
			delete(g.seats, r.key)
			g.send(proto.TypeRelease, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Reason: "session ended"})
		}
	case r.err != nil:
		g.log.Info("lobby: player handshake failed", "room", r.key.room, "player", r.key.player, "err", r.err)
		if current {
			s.cancel = nil // the signaler is closed; a new offer starts over
		}
	case !current:
		_ = r.sess.Close("seat no longer held")
	default:
		p := &Player{Room: r.key.room, ID: r.key.player, Name: s.name, Mode: s.mode, Session: r.sess}
		select {
		case g.players <- p:
		default:
			// More open sessions waiting than Capacity: the game is not
			// calling Accept. Refuse rather than queue without bound, and
			// give the seat back so the lobby tells the player.
			s.cancel = nil
			g.dropSeat(r.key, s, "game server not accepting")
			_ = r.sess.Close("game server not accepting")
			g.send(proto.TypeRelease, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Reason: "not accepting"})
			return
		}
		s.sess, s.cancel = r.sess, nil
		g.send(proto.TypeClaim, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Seat: s.token})
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			select {
			case <-r.sess.Done():
			case <-g.ctx.Done():
				return
			}
			select {
			case g.results <- gsResult{key: r.key, sig: r.sig, sess: r.sess, ended: true}:
			case <-g.ctx.Done():
			}
		}()
	}
}

// dropSeat forgets a seat and closes what it holds.
func (g *GameServer) dropSeat(k seatKey, s *gsSeat, reason string) {
	delete(g.seats, k)
	if s.cancel != nil {
		s.cancel()
	}
	if s.sess != nil {
		_ = s.sess.Close(reason) // returns at once: the Server releases it
	}
	s.sig.closeOnce()
}

// gsSignaler is one player's signaling as the game server sees it: the
// lobby relays the player's signals into it, and what netcode writes goes to
// the lobby addressed to that player, on whichever link is current.
type gsSignaler struct {
	g    *GameServer
	key  seatKey
	in   chan netcode.Signal
	once sync.Once
	done chan struct{}
}

func newGSSignaler(g *GameServer, k seatKey) *gsSignaler {
	return &gsSignaler{g: g, key: k, in: make(chan netcode.Signal, 64), done: make(chan struct{})}
}

// deliver hands a signal to netcode; false when 64 are already waiting,
// which no honest handshake does.
func (s *gsSignaler) deliver(sig netcode.Signal) bool {
	select {
	case s.in <- sig:
		return true
	default:
		return s.closed()
	}
}

func (s *gsSignaler) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// errLinkDown is what a signal written while the lobby link is down fails
// with: a handshake then fails at once, an open session logs it and tries
// again at its next restart or resume.
var errLinkDown = fmt.Errorf("%w: lobby link down", ErrClosed)

// WriteSignal waits while the link to the lobby is full (ctx bounds it),
// rather than queueing without bound or dropping the link.
func (s *gsSignaler) WriteSignal(ctx context.Context, sig netcode.Signal) error {
	if s.closed() {
		return ErrClosed
	}
	if sig.Type == netcode.SignalRefused {
		// The lobby refuses a longer reason (too_large) and the player would
		// then wait out ReconnectTimeout instead of learning its session is
		// over; netcode keeps no more of it than this anyway.
		sig.Error = clip(sig.Error, proto.MaxSignalErrorLen)
	}
	b, err := proto.Encode(proto.TypeSignal, &proto.Signal{Room: s.key.room, Player: s.key.player, Signal: &sig})
	if err != nil {
		return err
	}
	s.g.mu.Lock()
	l := s.g.link
	s.g.mu.Unlock()
	if l == nil || !l.reserve(ctx.Done(), s.done) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.closed() {
			return ErrClosed
		}
		return errLinkDown
	}
	l.sendReserved(b)
	return nil
}

func (s *gsSignaler) ReadSignal(ctx context.Context) (netcode.Signal, error) {
	select {
	case sig := <-s.in:
		return sig, nil
	case <-s.done:
		return netcode.Signal{}, ErrClosed
	case <-ctx.Done():
		return netcode.Signal{}, ctx.Err()
	}
}

func (s *gsSignaler) Close() error {
	s.closeOnce()
	return nil
}

func (s *gsSignaler) closeOnce() {
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.done) })
}

var _ netcode.Signaler = (*gsSignaler)(nil)

// clip cuts s to at most n bytes without splitting a character: a split
// one would be sent as U+FFFD, three bytes, and overshoot n again.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
