//go:build !js

package lobby

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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
	// holds as many seats as its maximum size from placement to its end.
	Capacity int
	// Key is the lobby's GameServerKey; DialGameServer needs it.
	Key string
	// HandshakeTimeout bounds each player's WebRTC handshake once its offer
	// arrives (15 s by default). A failed handshake keeps the seat: the
	// player may offer again until the lobby's SeatTimeout.
	HandshakeTimeout time.Duration
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
type GameServer struct {
	ns  *netcode.Server
	cfg GameServerConfig
	log *slog.Logger
	c   *conn
	id  string

	in      chan any           // messages from the lobby, to loop
	results chan gsResult      // from accept and watch goroutines, to loop
	calls   chan func()        // API calls, to loop
	players chan *Player       // accepted, for Accept
	ctx     context.Context    // ends with Close or the lobby link
	cancel  context.CancelFunc //
	wg      sync.WaitGroup
	done    chan struct{}
	errMu   sync.Mutex
	err     error

	seats map[seatKey]*gsSeat // owned by loop
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

// AttachGameServer registers ns with this lobby, in this process: the
// embedded default, with no key and no WebSocket in between (the messages
// are the same).
func (s *Server) AttachGameServer(ctx context.Context, ns *netcode.Server, cfg *GameServerConfig) (*GameServer, error) {
	if ok, status := s.admit("", false); !ok {
		return nil, fmt.Errorf("lobby: attach game server: %w (%d)", ErrClosed, status)
	}
	a, b := memPipe()
	c := newConn(b, "in-process", s.cfg.SendQueue)
	go func() {
		defer s.release("", false)
		s.serveTrusted(c)
	}()
	return newGameServer(ctx, ns, cfg, a)
}

// DialGameServer registers ns with the lobby at lobbyURL (such as
// "http://127.0.0.1:8080") over WebSocket, from another process.
func DialGameServer(ctx context.Context, lobbyURL string, ns *netcode.Server, cfg *GameServerConfig) (*GameServer, error) {
	u, err := wsURL(lobbyURL, "/v1/server")
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("lobby: dial %s: %w", u, err)
	}
	ws.SetReadLimit(1 << 20)
	return newGameServer(ctx, ns, cfg, wsTransport{ws})
}

func newGameServer(ctx context.Context, ns *netcode.Server, cfg *GameServerConfig, t transport) (*GameServer, error) {
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
		_ = t.Close(proto.CloseNormal, "")
		return nil, fmt.Errorf("%w: game server needs a netcode.Server, Capacity >= 0, HandshakeTimeout >= 0", ErrInvalidConfig)
	}
	b, err := proto.Encode(proto.TypeRegister, &proto.Register{V: proto.Version, Key: c.Key, Name: c.Name, Region: c.Region, Capacity: c.Capacity})
	if err == nil {
		err = t.Write(ctx, b)
	}
	var reply any
	if err == nil {
		if b, err = t.Read(ctx); err == nil {
			reply, err = proto.Decode(proto.ToServer, b)
		}
	}
	var reg *proto.Registered
	switch m := reply.(type) {
	case *proto.Registered:
		reg = m
	case *proto.Error:
		err = &Error{Code: m.Code, Message: m.Message}
	default:
		if err == nil {
			err = fmt.Errorf("%w: register answered with %T", ErrProtocol, reply)
		}
	}
	if err != nil {
		_ = t.Close(proto.CloseNormal, "")
		return nil, fmt.Errorf("lobby: register game server: %w", err)
	}
	g := &GameServer{
		ns: ns, cfg: c, log: c.Logger.With("server", reg.Server), id: reg.Server,
		c:       newConn(t, "lobby", 4096),
		in:      make(chan any, 256),
		results: make(chan gsResult, 64),
		calls:   make(chan func()),
		players: make(chan *Player, c.Capacity),
		done:    make(chan struct{}),
		seats:   map[seatKey]*gsSeat{},
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.wg.Add(3)
	go func() { defer g.wg.Done(); g.c.writeLoop() }()
	go func() { defer g.wg.Done(); g.readLoop() }()
	go func() { defer g.wg.Done(); g.loop() }()
	return g, nil
}

// ID is the id the lobby gave this server.
func (g *GameServer) ID() string { return g.id }

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
// sessions; the lobby tells the players.
func (g *GameServer) EndRoom(room string) error {
	return g.call(func() {
		for k, s := range g.seats {
			if k.room == room {
				g.dropSeat(k, s, "room ended")
			}
		}
		g.c.send(proto.TypeEnd, &proto.End{Room: room})
	})
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

// Done is closed when the link to the lobby is gone.
func (g *GameServer) Done() <-chan struct{} { return g.done }

// Err says why the link ended, after Done.
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
// they are the game's.
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
	g.c.close(proto.CloseNormal, "game server closing")
}

func (g *GameServer) readLoop() {
	for {
		b, err := g.c.t.Read(g.ctx)
		if err != nil {
			if g.ctx.Err() == nil {
				g.stop(fmt.Errorf("%w: lobby link lost: %v", ErrClosed, err))
			}
			return
		}
		msg, err := proto.Decode(proto.ToServer, b)
		if err != nil {
			g.log.Warn("lobby: bad message from lobby", "err", err)
			continue
		}
		select {
		case g.in <- msg:
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
		select {
		case msg := <-g.in:
			g.handle(msg)
		case r := <-g.results:
			g.result(r)
		case f := <-g.calls:
			f()
		case <-g.ctx.Done():
			return
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
		g.c.send(proto.TypeRelease, &proto.SeatRef{Room: k.room, Player: k.player, Reason: "signaling flood"})
	}
}

func (g *GameServer) startHandshake(k seatKey, s *gsSeat) {
	sig := newGSSignaler(g.c, k)
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
			g.c.send(proto.TypeRelease, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Reason: "session ended"})
		}
	case r.err != nil:
		g.log.Info("lobby: player handshake failed", "room", r.key.room, "player", r.key.player, "err", r.err)
		if current {
			s.cancel = nil // the signaler is closed; a new offer starts over
		}
	case !current:
		g.closeSession(r.sess, "seat no longer held")
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
			g.closeSession(r.sess, "game server not accepting")
			g.c.send(proto.TypeRelease, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Reason: "not accepting"})
			return
		}
		s.sess, s.cancel = r.sess, nil
		g.c.send(proto.TypeClaim, &proto.SeatRef{Room: r.key.room, Player: r.key.player, Seat: s.token})
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
		g.closeSession(s.sess, reason)
	}
	s.sig.closeOnce()
}

// closeSession closes a session off the loop goroutine: Close waits for
// the session's close message to flush (up to 250 ms), and the loop must
// not stall every other player's signaling meanwhile.
func (g *GameServer) closeSession(sess *netcode.Session, reason string) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		_ = sess.Close(reason)
	}()
}

// gsSignaler is one player's signaling as the game server sees it: the
// lobby relays the player's signals into it, and what netcode writes goes to
// the lobby addressed to that player.
type gsSignaler struct {
	c    *conn
	key  seatKey
	in   chan netcode.Signal
	once sync.Once
	done chan struct{}
}

func newGSSignaler(c *conn, k seatKey) *gsSignaler {
	return &gsSignaler{c: c, key: k, in: make(chan netcode.Signal, 64), done: make(chan struct{})}
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
	s.c.send(proto.TypeSignal, &proto.Signal{Room: s.key.room, Player: s.key.player, Signal: &sig})
	return ctx.Err()
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
