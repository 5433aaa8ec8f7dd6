package lobby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

// PlayerInfo is a player as the lobby shows it to others.
type PlayerInfo = proto.Player

// RoomInfo is a public room in a listing.
type RoomInfo = proto.RoomInfo

// Match is where the lobby seated the player: the answer to CreateRoom and
// JoinRoom, and what WaitMatch returns once matchmaking has placed it.
type Match struct {
	Room    string // the room id
	Code    string // the join code of a created room; empty for matchmade rooms
	Mode    string
	Region  string
	Server  string // the game server's id
	Seat    string // the seat token; Connect presents it
	Players []PlayerInfo
	// ICEServers are the STUN and TURN servers (with credentials) to
	// connect with; Connect uses them.
	ICEServers []ICEServer
	// Expires is when the seat is given up unless the player has connected.
	Expires time.Time
}

// Party is a group that queues together.
type Party struct {
	Code    string // share it: others join with JoinParty
	Leader  string // the player id that may queue the party
	Members []PlayerInfo
}

// Notice is something the lobby told the player unasked.
type Notice struct {
	// Type is "queued" (the party leader queued the party), "room" (who is
	// in the room changed), "party" (who is in the party changed), "left"
	// (the player is out of its queue or room: Reason says why), "error",
	// "disconnected" (the lobby connection dropped: Reason says why; the
	// Client is redialing), "reconnected", or "match" (after reconnecting:
	// the lobby reminds the player of the seat it holds, in Room).
	Type    string
	Room    string
	Reason  string
	Players []PlayerInfo
	Party   *Party
	Err     *Error
}

// ClientConfig configures a player's lobby Client. It is the same in the
// browser build: there the browser makes the WebSocket handshake and the
// guest-token request, and natively Go's default HTTP client does (which
// honors HTTPS_PROXY, and SSL_CERT_FILE for a private CA), so the two
// builds have no HTTP settings to disagree on.
type ClientConfig struct {
	// Logger receives the client's logs. Nothing is logged by default.
	Logger *slog.Logger
	// ReconnectAttempts bounds how often a dropped lobby connection is
	// redialed, with the token from the last welcome, waiting 250 ms and
	// then twice as long each time up to 4 s, with jitter (8 by default,
	// about 20 s; negative: never). Games go on meanwhile: a connected
	// netcode client needs the lobby only to resume a connection that fails.
	ReconnectAttempts int
	// Lobbies are the base URLs of other nodes of the same lobby (one that
	// shares its state through a RedisStore), for when they are not behind
	// one address: a dropped connection is redialed to the next of them,
	// then the next, round the list with the URL given to Dial. The player
	// finds its queue place, party and seat on any of them.
	Lobbies []string
}

// Client is a player's connection to a lobby.
type Client struct {
	log      *slog.Logger
	player   string
	name     string
	urls     []string // the lobby nodes, as WebSocket URLs; the first is Dial's
	cur      int      // which of urls the connection is on; owned by readLoop
	attempts int

	tmu    sync.Mutex // guards t, token and expiry, which reconnecting replaces
	t      transport
	token  string
	expiry time.Time

	mu      sync.Mutex
	queued  bool   // a queue request succeeded and no match or left came since
	seat    string // the seat token of the latest match, for telling reminders apart
	nextID  uint64
	pending map[string]chan any
	sigs    map[string]*clientSignaler

	matches chan *Match
	notices chan Notice
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	wg      sync.WaitGroup
	once    sync.Once
}

// Dial connects to the lobby at lobbyURL and authenticates with token. A
// refused token comes back as an *Error matching ErrUnauthorized.
func Dial(ctx context.Context, lobbyURL, token string, cfg *ClientConfig) (*Client, error) {
	var cc ClientConfig
	if cfg != nil {
		cc = *cfg
	}
	if cc.Logger == nil {
		cc.Logger = slog.New(slog.DiscardHandler)
	}
	u, err := wsURL(lobbyURL, "/v1/play")
	if err != nil {
		return nil, err
	}
	urls := []string{u}
	for _, l := range cc.Lobbies {
		lu, err := wsURL(l, "/v1/play")
		if err != nil {
			return nil, err
		}
		urls = append(urls, lu)
	}
	t, w, err := handshake(ctx, u, token)
	if err != nil {
		return nil, err
	}
	c := &Client{
		log: cc.Logger, player: w.Player, name: w.Name, urls: urls, t: t,
		attempts: cc.ReconnectAttempts,
		pending:  map[string]chan any{},
		sigs:     map[string]*clientSignaler{},
		matches:  make(chan *Match, 8),
		notices:  make(chan Notice, 64),
		done:     make(chan struct{}),
	}
	if c.attempts == 0 {
		c.attempts = 8
	}
	c.setToken(w)
	c.wg.Add(1)
	go c.readLoop()
	return c, nil
}

// handshake dials the lobby and says hello.
func handshake(ctx context.Context, u, token string) (transport, *proto.Welcome, error) {
	t, err := dialWS(ctx, u)
	if err != nil {
		return nil, nil, fmt.Errorf("lobby: dial %s: %w", u, err)
	}
	fail := func(err error) (transport, *proto.Welcome, error) {
		_ = t.Close(proto.CloseNormal, "")
		return nil, nil, err
	}
	b, err := proto.Encode(proto.TypeHello, &proto.Hello{V: proto.Version, Token: token})
	if err == nil {
		err = t.Write(ctx, b)
	}
	if err == nil {
		b, err = t.Read(ctx)
	}
	if err != nil {
		return fail(fmt.Errorf("lobby: hello: %w", err))
	}
	reply, err := proto.Decode(proto.ToPlayer, b)
	if err != nil {
		return fail(fmt.Errorf("%w: hello answered with %v", ErrProtocol, err))
	}
	switch m := reply.(type) {
	case *proto.Welcome:
		return t, m, nil
	case *proto.Error:
		return fail(&Error{Code: m.Code, Message: m.Message})
	}
	return fail(fmt.Errorf("%w: hello answered with %T", ErrProtocol, reply))
}

func (c *Client) setToken(w *proto.Welcome) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.token, c.expiry = w.Token, time.Time{}
	if w.Expires > 0 {
		c.expiry = time.Unix(w.Expires, 0)
	}
}

func (c *Client) transport() transport {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return c.t
}

// Player is the player's id.
func (c *Client) Player() string { return c.player }

// Name is the player's display name.
func (c *Client) Name() string { return c.name }

// NextToken is a fresh single-use token for the player's next connection,
// when the lobby issues them, and its expiry.
func (c *Client) NextToken() (string, time.Time) {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	return c.token, c.expiry
}

// Queue enters matchmaking for mode in region (any region when empty) with
// a skill rating; for the whole party when the player leads one. It returns
// the ticket id once queued; WaitMatch then returns the match.
func (c *Client) Queue(ctx context.Context, mode, region string, rating float64) (string, error) {
	r, err := c.request(ctx, proto.TypeQueue, &proto.Queue{Mode: mode, Region: region, Rating: rating})
	if err != nil {
		return "", err
	}
	q, ok := r.(*proto.Queued)
	if !ok {
		return "", fmt.Errorf("%w: queue answered with %T", ErrProtocol, r)
	}
	c.mu.Lock()
	c.queued = true
	c.mu.Unlock()
	return q.Ticket, nil
}

// RoomOptions describes a room to create.
type RoomOptions struct {
	Mode   string
	Region string // where to place it; any region when empty
	Name   string // shown in listings
	Public bool   // listed by Rooms; otherwise joinable by code only
	Max    int    // seats; the mode's MaxPlayers when 0
}

// CreateRoom creates a room, seats the player in it and returns where to
// connect; Match.Code is the join code to share.
func (c *Client) CreateRoom(ctx context.Context, o RoomOptions) (*Match, error) {
	return c.matchRequest(ctx, proto.TypeRoomCreate, &proto.RoomCreate{Mode: o.Mode, Region: o.Region, Name: o.Name, Public: o.Public, Max: o.Max})
}

// JoinRoom takes a seat in the room with the join code.
func (c *Client) JoinRoom(ctx context.Context, code string) (*Match, error) {
	return c.matchRequest(ctx, proto.TypeRoomJoin, &proto.RoomJoin{Code: code})
}

func (c *Client) matchRequest(ctx context.Context, typ string, msg any) (*Match, error) {
	r, err := c.request(ctx, typ, msg)
	if err != nil {
		return nil, err
	}
	m, ok := r.(*proto.Match)
	if !ok {
		return nil, fmt.Errorf("%w: %s answered with %T", ErrProtocol, typ, r)
	}
	c.mu.Lock()
	c.seat = m.Seat
	c.mu.Unlock()
	return toMatch(m), nil
}

// Rooms lists public rooms with free seats, of mode or of every mode.
func (c *Client) Rooms(ctx context.Context, mode string) ([]RoomInfo, error) {
	r, err := c.request(ctx, proto.TypeRooms, &proto.Rooms{Mode: mode})
	if err != nil {
		return nil, err
	}
	l, ok := r.(*proto.RoomsList)
	if !ok {
		return nil, fmt.Errorf("%w: rooms answered with %T", ErrProtocol, r)
	}
	return l.Rooms, nil
}

// CreateParty starts a party led by the player.
func (c *Client) CreateParty(ctx context.Context) (*Party, error) {
	return c.partyRequest(ctx, proto.TypePartyNew, &proto.Envelope{})
}

// JoinParty joins the party with the code.
func (c *Client) JoinParty(ctx context.Context, code string) (*Party, error) {
	return c.partyRequest(ctx, proto.TypePartyJoin, &proto.PartyJoin{Code: code})
}

func (c *Client) partyRequest(ctx context.Context, typ string, msg any) (*Party, error) {
	r, err := c.request(ctx, typ, msg)
	if err != nil {
		return nil, err
	}
	p, ok := r.(*proto.PartyUpdate)
	if !ok {
		return nil, fmt.Errorf("%w: %s answered with %T", ErrProtocol, typ, r)
	}
	return &Party{Code: p.Code, Leader: p.Leader, Members: p.Members}, nil
}

// Leave takes the player out of its queue, else its room, else its party.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.request(ctx, proto.TypeLeave, &proto.Envelope{})
	return err
}

// WaitMatch returns the next match that matchmaking made for the player.
func (c *Client) WaitMatch(ctx context.Context) (*Match, error) {
	select {
	case m := <-c.matches:
		return m, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Notices delivers what the lobby says unasked: room and party changes,
// and being taken out of a queue or room. Unread notices beyond 64 are
// dropped (and logged): the lobby state they describe is also in the
// replies and in later notices.
func (c *Client) Notices() <-chan Notice { return c.notices }

// Connect opens the netcode channels to the match's game server, with the
// lobby carrying the signaling and the match's ICE servers added to cfg's.
// When the lobby connection drops and when it is back, the Client calls
// CheckPath on the returned client: a dropped lobby connection often means
// the network changed, so the game connection is checked at once rather
// than after netcode's SilenceTimeout, and a resume is offered as soon as
// the signaling can carry it.
func (c *Client) Connect(ctx context.Context, m *Match, cfg *netcode.ClientConfig) (*netcode.Client, error) {
	var nc netcode.ClientConfig
	if cfg != nil {
		nc = *cfg
	}
	nc.ICEServers = append(append([]ICEServer(nil), m.ICEServers...), nc.ICEServers...)
	sig := &clientSignaler{c: c, room: m.Room, seat: m.Seat, in: make(chan netcode.Signal, 64), done: make(chan struct{})}
	c.mu.Lock()
	if old := c.sigs[m.Room]; old != nil {
		old.closeOnce()
	}
	c.sigs[m.Room] = sig
	c.mu.Unlock()
	client, err := netcode.Dial(ctx, sig, &nc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	sig.nc = client
	c.mu.Unlock()
	return client, nil
}

// checkPaths tells the game connection of every room that the network
// under the lobby connection may have changed (see Connect).
func (c *Client) checkPaths(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sigs {
		if s.nc != nil {
			s.nc.CheckPath(reason) // never blocks, so holding mu is fine
		}
	}
}

// Done is closed when the lobby connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended, after Done: ErrClosed after Close, or
// the lobby's close reason.
func (c *Client) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		return ErrClosed
	}
	return c.err
}

// Close leaves the lobby. Netcode clients opened with Connect stay up: the
// game goes on without the lobby, but a game connection that fails can no
// longer be resumed, as its signaling went with the lobby.
func (c *Client) Close() error {
	c.stop(ErrClosed)
	_ = c.transport().Close(proto.CloseNormal, "")
	c.wg.Wait()
	return nil
}

func (c *Client) stop(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.once.Do(func() { close(c.done) })
}

func (c *Client) request(ctx context.Context, typ string, msg any) (any, error) {
	c.mu.Lock()
	c.nextID++
	id := strconv.FormatUint(c.nextID, 10)
	reply := make(chan any, 1)
	c.pending[id] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	setID(msg, id)
	if err := c.write(ctx, typ, msg); err != nil {
		return nil, err
	}
	select {
	case r := <-reply:
		switch e := r.(type) {
		case *proto.Error:
			return nil, &Error{Code: e.Code, Message: e.Message}
		case error:
			return nil, e
		}
		return r, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func setID(msg any, id string) {
	if e := proto.Env(msg); e != nil {
		e.ID = id
	}
}

func (c *Client) write(ctx context.Context, typ string, msg any) error {
	b, err := proto.Encode(typ, msg)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	if err := c.transport().Write(ctx, b); err != nil {
		return fmt.Errorf("lobby: write %s: %w", typ, err)
	}
	return nil
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		for _, s := range c.sigs {
			s.closeOnce()
		}
		c.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.done
		cancel()
	}()
	for {
		b, err := c.transport().Read(ctx)
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			code := closeCode(err)
			if code > 0 {
				err = fmt.Errorf("%w: lobby closed the connection (%d)", ErrClosed, code)
			} else {
				err = fmt.Errorf("%w: %v", ErrClosed, err)
			}
			if !redial(code) || !c.reconnect(ctx, err) {
				c.stop(err)
				return
			}
			continue
		}
		msg, err := proto.Decode(proto.ToPlayer, b)
		if err != nil {
			c.log.Warn("lobby: bad message from lobby", "err", err)
			continue
		}
		c.dispatch(msg)
	}
}

// redial says whether a connection closed with code is worth dialing
// again: not when the lobby refused this client (a token, a protocol
// error, its rate) or another connection of the player replaced it.
func redial(code int) bool {
	switch code {
	case proto.CloseNormal, proto.CloseUnauthorized, proto.CloseProtocol, proto.CloseRateLimited,
		proto.CloseReplaced, proto.CloseVersion, proto.CloseTooBig:
		return false
	}
	return true
}

// Backoff between redials.
const (
	redialFirst = 250 * time.Millisecond
	redialMax   = 4 * time.Second
)

// reconnect redials the lobby after the connection dropped with why,
// within ClientConfig.ReconnectAttempts. Requests waiting for an answer
// fail at once: their answers went down with the connection.
func (c *Client) reconnect(ctx context.Context, why error) bool {
	if c.attempts < 0 {
		return false
	}
	c.mu.Lock()
	for id, reply := range c.pending {
		// The buffer of one is free: a request that got its answer is no
		// longer pending (dispatch), so this never blocks under mu.
		reply <- fmt.Errorf("lobby: connection lost before the answer: %w", why)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	c.notice(Notice{Type: noticeDisconnected, Reason: why.Error()})
	c.checkPaths("lobby connection dropped")
	wait := redialFirst
	for attempt := 1; attempt <= c.attempts; attempt++ {
		// Jitter, so that the players of a lobby that restarts do not all
		// come back in the same millisecond.
		d := wait/2 + rand.N(wait)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return false
		}
		token, _ := c.NextToken()
		// The next node first: the one it was on may be the one that went.
		c.cur = (c.cur + 1) % len(c.urls)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t, w, err := handshake(dctx, c.urls[c.cur], token)
		cancel()
		if err == nil {
			c.tmu.Lock()
			c.t = t
			c.tmu.Unlock()
			c.setToken(w)
			c.log.Info("lobby: reconnected", "attempt", attempt)
			c.notice(Notice{Type: noticeReconnected})
			c.checkPaths("lobby connection back")
			c.mu.Lock()
			wasQueued := c.queued
			c.queued = w.Ticket != ""
			c.mu.Unlock()
			if wasQueued && w.Ticket == "" {
				// The lobby takes a player out of the queue when its
				// connection drops; the game decides whether to queue again.
				// (A lobby node that went away hands its players' places
				// over instead: the welcome then names the ticket.)
				c.notice(Notice{Type: proto.TypeLeft, Reason: "disconnected"})
			}
			return true
		}
		var le *Error
		if errors.As(err, &le) && le.Code != CodeUnavailable {
			c.log.Warn("lobby: reconnect refused", "err", err)
			return false
		}
		c.log.Info("lobby: reconnect failed", "attempt", attempt, "err", err)
		wait = min(wait*2, redialMax)
	}
	return false
}

// Notice types of the client itself.
const (
	noticeDisconnected = "disconnected"
	noticeReconnected  = "reconnected"
	noticeMatch        = "match"
)

func (c *Client) dispatch(msg any) {
	if id := envelopeID(msg); id != "" {
		c.mu.Lock()
		reply := c.pending[id]
		delete(c.pending, id) // one answer per request: a second is not waited for
		c.mu.Unlock()
		if reply != nil {
			reply <- msg // the buffer of one is free: the entry was in pending
			return
		}
	}
	switch m := msg.(type) {
	case *proto.Match:
		c.mu.Lock()
		reminder := m.Seat == c.seat
		c.seat, c.queued = m.Seat, false
		c.mu.Unlock()
		if reminder {
			c.notice(Notice{Type: noticeMatch, Room: m.Room})
			return
		}
		select {
		case c.matches <- toMatch(m):
		default:
			c.log.Warn("lobby: match dropped: WaitMatch not called", "room", m.Room)
		}
	case *proto.Signal:
		c.mu.Lock()
		s := c.sigs[m.Room]
		c.mu.Unlock()
		if s != nil {
			s.deliver(*m.Signal)
		}
	case *proto.Queued:
		c.mu.Lock()
		c.queued = true
		c.mu.Unlock()
		c.notice(Notice{Type: proto.TypeQueued})
	case *proto.RoomUpdate:
		c.notice(Notice{Type: proto.TypeRoom, Room: m.Room, Players: m.Players})
	case *proto.PartyUpdate:
		c.notice(Notice{Type: proto.TypeParty, Party: &Party{Code: m.Code, Leader: m.Leader, Members: m.Members}})
	case *proto.Left:
		c.mu.Lock()
		if m.Room == "" {
			c.queued = false
		}
		c.mu.Unlock()
		c.notice(Notice{Type: proto.TypeLeft, Room: m.Room, Reason: m.Reason})
	case *proto.Error:
		c.notice(Notice{Type: proto.TypeError, Err: &Error{Code: m.Code, Message: m.Message}})
	}
}

func (c *Client) notice(n Notice) {
	select {
	case c.notices <- n:
	default:
		c.log.Warn("lobby: notice dropped: Notices not read", "type", n.Type)
	}
}

func envelopeID(msg any) string {
	if e := proto.Env(msg); e != nil {
		return e.ID
	}
	return ""
}

func toMatch(m *proto.Match) *Match {
	return &Match{Room: m.Room, Code: m.Code, Mode: m.Mode, Region: m.Region, Server: m.Server, Seat: m.Seat,
		Players: m.Players, ICEServers: m.ICEServers, Expires: time.UnixMilli(m.Expires)}
}

// clientSignaler carries one room's signaling over the lobby connection.
type clientSignaler struct {
	c          *Client
	room, seat string
	in         chan netcode.Signal
	once       sync.Once
	done       chan struct{}
	nc         *netcode.Client // once Dial has returned it; guarded by c.mu
}

func (s *clientSignaler) deliver(sig netcode.Signal) {
	select {
	case s.in <- sig:
	default:
		s.c.log.Warn("lobby: signal dropped: too many waiting", "room", s.room)
	}
}

func (s *clientSignaler) WriteSignal(ctx context.Context, sig netcode.Signal) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	return s.c.write(ctx, proto.TypeSignal, &proto.Signal{Room: s.room, Seat: s.seat, Signal: &sig})
}

func (s *clientSignaler) ReadSignal(ctx context.Context) (netcode.Signal, error) {
	select {
	case sig := <-s.in:
		return sig, nil
	case <-s.done:
		return netcode.Signal{}, ErrClosed
	case <-ctx.Done():
		return netcode.Signal{}, ctx.Err()
	}
}

func (s *clientSignaler) Close() error {
	s.closeOnce()
	s.c.mu.Lock()
	if s.c.sigs[s.room] == s {
		delete(s.c.sigs, s.room)
	}
	s.c.mu.Unlock()
	return nil
}

func (s *clientSignaler) closeOnce() { s.once.Do(func() { close(s.done) }) }

// wsURL turns a lobby's base URL into the WebSocket URL of path.
func wsURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("lobby: URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("lobby: URL %q: scheme must be http, https, ws or wss", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// guestAnswer reads the lobby's answer to POST /v1/guest.
func guestAnswer(status int, statusText string, b []byte) (string, error) {
	if status != 200 {
		return "", fmt.Errorf("lobby: guest token: %s: %s", statusText, strings.TrimSpace(string(b)))
	}
	var g struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &g); err != nil || g.Token == "" {
		return "", fmt.Errorf("%w: guest token answer %.100q", ErrProtocol, b)
	}
	return g.Token, nil
}

func httpURL(base, path string) (string, error) {
	u, err := wsURL(base, path)
	if err != nil {
		return "", err
	}
	return "http" + strings.TrimPrefix(u, "ws"), nil
}
