//go:build !js

package lobby

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

// The limits of the lobby that TestBadInput runs against. MaxMessageSize
// sits above proto.MaxSDPSize so that an oversized SDP reaches the decoder
// (too_large) rather than the WebSocket read limit (1009).
const (
	biKey          = "bad-input-key-0123456789"
	biMaxMessage   = 20 << 10
	biHelloTimeout = 500 * time.Millisecond
	biTokenTTL     = time.Hour
	biWait         = 5 * time.Second // bound on every wait for the lobby
)

// offender marks the SDP of signals that must never be relayed.
const offender = "v=0 offender"

// rawPeer is a raw WebSocket connection to the lobby that speaks the protocol
// byte by byte, as a broken or hostile client would. A goroutine reads it
// into in; dead closes, with err set, when the connection ends.
type rawPeer struct {
	ws   *websocket.Conn
	side proto.Side // how what the lobby sends decodes: ToPlayer or ToServer
	in   chan []byte
	quit chan struct{}
	dead chan struct{}
	err  error
	seen []any // every message read so far, in order

	// Set by the openers.
	player, server, region string
	room, seat, code       string
}

func (f *badFixture) dial(t testing.TB, path string, opts *websocket.DialOptions) *rawPeer {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), biWait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, f.wsURL+path, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	side := proto.ToPlayer
	if path == "/v1/server" {
		side = proto.ToServer
	}
	return newRawPeer(t, ws, side)
}

func (p *rawPeer) close() {
	select {
	case <-p.quit:
		return
	default:
	}
	close(p.quit)
	_ = p.ws.CloseNow()
	<-p.dead
}

// write sends one frame.
func (p *rawPeer) write(typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), biWait)
	defer cancel()
	return p.ws.Write(ctx, typ, b)
}

func (p *rawPeer) send(t testing.TB, raw string) {
	t.Helper()
	if err := p.write(websocket.MessageText, []byte(raw)); err != nil {
		t.Fatalf("write %.60q: %v", raw, err)
	}
}

// expect returns the first message that match accepts, skipping others
// (a game server also hears about everyone else's seats).
func (p *rawPeer) expect(t testing.TB, what string, match func(any) bool) any {
	t.Helper()
	timeout := time.NewTimer(biWait)
	defer timeout.Stop()
	for range 10000 {
		var b []byte
		select {
		case b = <-p.in:
		case <-p.dead:
			// The reader queues every message before it reports the end.
			select {
			case b = <-p.in:
			default:
				t.Fatalf("waiting for %s: connection closed (%d: %v); seen %s", what, websocket.CloseStatus(p.err), p.err, p.seenTypes())
			}
		case <-timeout.C:
			t.Fatalf("no %s within %v; seen %s", what, biWait, p.seenTypes())
		}
		msg, err := proto.Decode(p.side, b)
		if err != nil {
			t.Fatalf("waiting for %s: the lobby sent %q, which does not decode: %v", what, b, err)
		}
		p.seen = append(p.seen, msg)
		if match(msg) {
			return msg
		}
	}
	t.Fatalf("no %s in 10000 messages", what)
	return nil
}

func (p *rawPeer) seenTypes() string {
	var s []string
	for _, m := range p.seen {
		e := proto.Env(m)
		if er, ok := m.(*proto.Error); ok {
			s = append(s, "error:"+er.Code)
		} else {
			s = append(s, e.Type)
		}
	}
	return "[" + strings.Join(s, " ") + "]"
}

// wantError waits for the next error message and checks its code and the
// id it echoes.
func (p *rawPeer) wantError(t testing.TB, code, id string) *proto.Error {
	t.Helper()
	e := p.expect(t, "error "+code, func(m any) bool { _, ok := m.(*proto.Error); return ok }).(*proto.Error)
	if e.Code != code || e.ID != id {
		t.Fatalf("error code %q id %q (%s), want code %q id %q", e.Code, e.ID, e.Message, code, id)
	}
	return e
}

// wantReply waits for the reply of type typ to request id.
func (p *rawPeer) wantReply(t testing.TB, typ, id string) any {
	t.Helper()
	return p.expect(t, typ+" #"+id, func(m any) bool {
		e := proto.Env(m)
		if er, ok := m.(*proto.Error); ok && er.ID == id {
			t.Fatalf("request #%s refused: %s: %s", id, er.Code, er.Message)
		}
		return e.Type == typ && e.ID == id
	})
}

// welcome waits for the answer to the hello with request id id.
func (p *rawPeer) welcome(t testing.TB, id string) *proto.Welcome {
	t.Helper()
	w := p.wantReply(t, proto.TypeWelcome, id).(*proto.Welcome)
	if w.V != proto.Version || w.Player == "" || w.Token == "" || w.Expires == 0 {
		t.Fatalf("welcome %+v: want version %d, a player id and the next token", w, proto.Version)
	}
	return w
}

// wantClosed waits for the lobby to close the connection with code.
func (p *rawPeer) wantClosed(t testing.TB, code int) {
	t.Helper()
	select {
	case <-p.dead:
	case <-time.After(biWait):
		t.Fatalf("connection not closed within %v, want close %d", biWait, code)
	}
	if got := int(websocket.CloseStatus(p.err)); got != code {
		t.Fatalf("connection ended with %d (%v), want close code %d", got, p.err, code)
	}
}

// badFixture is a lobby with two raw game servers ("eu" and "us") and a
// bystander: a real Client seated in a public room on eu.
type badFixture struct {
	srv    *Server
	url    string
	wsURL  string
	clock  *fakeClock // the guest tokens' clock
	guests *Guests
	n      atomic.Int64

	eu, us    *rawPeer
	bystander *Client
	byMatch   *Match
}

func newBadFixture(t *testing.T, cfg *Config) *badFixture {
	t.Helper()
	f := &badFixture{clock: newFakeClock()}
	var err error
	f.guests, err = NewGuests(&GuestsConfig{Secret: []byte("bad-input-secret-0123456789"), TTL: biTokenTTL, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth = f.guests
	f.srv, f.url = testLobby(t, cfg)
	f.wsURL = "ws" + strings.TrimPrefix(f.url, "http")
	return f
}

func (f *badFixture) id(prefix string) string { return fmt.Sprintf("%s%d", prefix, f.n.Add(1)) }

func (f *badFixture) token(t testing.TB) string {
	t.Helper()
	tok, _, err := f.guests.IssueToken(f.guests.NewGuest("bad"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// msgJSON encodes a message the way a well-behaved peer would.
func msgJSON(typ string, msg any) string {
	b, err := proto.Encode(typ, msg)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func helloMsg(id, token string) string {
	return msgJSON(proto.TypeHello, &proto.Hello{Envelope: proto.Envelope{ID: id}, V: proto.Version, Token: token})
}

func signalMsg(id, room, seat, player, sdp string) string {
	return msgJSON(proto.TypeSignal, &proto.Signal{Envelope: proto.Envelope{ID: id}, Room: room, Seat: seat, Player: player,
		Signal: &netcode.Signal{Type: netcode.SignalOffer, SDP: sdp}})
}

func seatMsg(typ, id, room, player, seat string) string {
	return msgJSON(typ, &proto.SeatRef{Envelope: proto.Envelope{ID: id}, Room: room, Player: player, Seat: seat})
}

// player opens a player connection and says hello.
func (f *badFixture) player(t testing.TB) *rawPeer {
	t.Helper()
	p := f.dial(t, "/v1/play", nil)
	id := f.id("h")
	p.send(t, helloMsg(id, f.token(t)))
	p.player = p.welcome(t, id).Player
	return p
}

// server registers a raw game server for region.
func (f *badFixture) server(t testing.TB, region string) *rawPeer {
	t.Helper()
	p := f.dial(t, "/v1/server", nil)
	id := f.id("r")
	p.send(t, msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: id}, V: proto.Version, Key: biKey,
		Name: "raw-" + region, Region: region, Capacity: 1000}))
	p.server, p.region = p.wantReply(t, proto.TypeRegistered, id).(*proto.Registered).Server, region
	return p
}

// seated is a player that created a room ("duo": two seats) on gs.
func (f *badFixture) seated(t testing.TB, gs *rawPeer) *rawPeer {
	t.Helper()
	p := f.player(t)
	id := f.id("c")
	p.send(t, msgJSON(proto.TypeRoomCreate, &proto.RoomCreate{Envelope: proto.Envelope{ID: id}, Mode: "duo", Region: gs.region}))
	m := p.wantReply(t, proto.TypeMatch, id).(*proto.Match)
	if m.Server != gs.server {
		t.Fatalf("room placed on %s, want %s", m.Server, gs.server)
	}
	p.room, p.seat, p.code = m.Room, m.Seat, m.Code
	return p
}

// alive proves p's connection still works: a request gets its normal
// reply. For a game server: a new player's seat reaches it, it claims the
// seat, and it ends the room.
func (f *badFixture) alive(t testing.TB, p *rawPeer) {
	t.Helper()
	if p.side == proto.ToPlayer {
		id := f.id("alive")
		p.send(t, msgJSON(proto.TypeRooms, &proto.Rooms{Envelope: proto.Envelope{ID: id}}))
		p.wantReply(t, proto.TypeRooms, id)
		return
	}
	q := f.seated(t, p)
	s := p.expect(t, "seat of "+q.player, func(m any) bool {
		r, ok := m.(*proto.SeatRef)
		return ok && r.Type == proto.TypeSeat && r.Player == q.player
	}).(*proto.SeatRef)
	if s.Room != q.room || s.Seat != q.seat {
		t.Fatalf("seat message %+v does not match the player's match (room %s seat %s)", s, q.room, q.seat)
	}
	id := f.id("claim")
	p.send(t, seatMsg(proto.TypeClaim, id, q.room, q.player, q.seat))
	p.wantReply(t, proto.TypeOK, id)
	id = f.id("end")
	p.send(t, msgJSON(proto.TypeEnd, &proto.End{Envelope: proto.Envelope{ID: id}, Room: q.room}))
	p.wantReply(t, proto.TypeOK, id)
}

// badCase is one row of TestBadInput. Most rows are data: who offends
// (open), what it sends, and what must follow; rows that need a sequence of
// steps set do instead.
type badCase struct {
	name string
	// open returns the offender's connection; nil means a player that has
	// said hello.
	open func(t *testing.T, f *badFixture) *rawPeer
	// send returns the frames the offender sends, given what open set up.
	send   func(t *testing.T, f *badFixture, p *rawPeer) []string
	binary bool   // the first frame goes as a binary message
	code   string // the error code that must come back; "" for none
	id     string // the request id the error must echo
	close  int    // the close code that must follow; 0: the connection must stay open
	do     func(t *testing.T, f *badFixture)
}

func rawConn(path string) func(*testing.T, *badFixture) *rawPeer {
	return func(t *testing.T, f *badFixture) *rawPeer { return f.dial(t, path, nil) }
}

func sendFrames(s ...string) func(*testing.T, *badFixture, *rawPeer) []string {
	return func(*testing.T, *badFixture, *rawPeer) []string { return s }
}

// TestBadInput is the "limits and bad input" table of PROTOCOL.md: every
// kind of malformed, oversized, unauthorized or out-of-match input gets its
// error code, the offender's connection is closed where the protocol says
// so (and otherwise keeps working), and a bystander plays on throughout.
func TestBadInput(t *testing.T) {
	f := newBadFixture(t, &Config{
		Modes:          map[string]Mode{"duo": {MinPlayers: 2, MaxPlayers: 2}},
		GameServerKey:  biKey,
		MaxMessageSize: biMaxMessage,
		MessageRate:    5,
		MessageBurst:   12,
		IPMessageRate:  1000, // every connection here comes from 127.0.0.1
		IPMessageBurst: 100000,
		MaxConnsPerIP:  64,
		OriginPatterns: []string{"*.game.example"},
		HelloTimeout:   biHelloTimeout,
		SeatTimeout:    time.Hour, // the bystander's seat must not expire on its own
		// The cases create rooms nobody plays in, all from 127.0.0.1: the
		// room quotas are TestHostileSeatSquatting's business.
		MaxRoomSeatsPerIP: 1 << 20,
		RoomCreateBurst:   1 << 20,
		IPRoomCreateBurst: 1 << 20,
	})
	ctx := ctxTimeout(t, 30*time.Second)
	f.eu, f.us = f.server(t, "eu"), f.server(t, "us")
	f.bystander = guest(t, ctx, f.url, "bystander")
	var err error
	f.byMatch, err = f.bystander.CreateRoom(ctx, RoomOptions{Mode: "duo", Region: "eu", Name: "bystander", Public: true})
	if err != nil {
		t.Fatalf("bystander CreateRoom: %v", err)
	}
	if f.byMatch.Server != f.eu.server {
		t.Fatalf("bystander room on %s, want eu (%s)", f.byMatch.Server, f.eu.server)
	}
	by := func() (room, seat, player string) { return f.byMatch.Room, f.byMatch.Seat, f.bystander.Player() }

	big := strings.Repeat("x", biMaxMessage+1024)
	cases := []badCase{
		// ---- before hello
		{name: "malformed JSON before hello", open: rawConn("/v1/play"), send: sendFrames(`{"type":"hello","v":1,`),
			code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "binary frame before hello", open: rawConn("/v1/play"), binary: true,
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string { return []string{helloMsg("h", f.token(t))} },
			code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "request before hello", open: rawConn("/v1/play"), send: sendFrames(`{"type":"queue","id":"q0","mode":"duo"}`),
			code: proto.CodeUnauthorized, id: "q0", close: proto.CloseUnauthorized},
		{name: "unknown type before hello", open: rawConn("/v1/play"), send: sendFrames(`{"type":"dance","id":"d0"}`),
			code: proto.CodeUnknownType, id: "d0", close: proto.CloseUnauthorized},
		{name: "hello without token", open: rawConn("/v1/play"), send: sendFrames(`{"type":"hello","id":"h0","v":1}`),
			code: proto.CodeBadRequest, id: "h0", close: proto.CloseUnauthorized},
		{name: "hello with a wrong version", open: rawConn("/v1/play"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string {
				return []string{msgJSON(proto.TypeHello, &proto.Hello{Envelope: proto.Envelope{ID: "h2"}, V: proto.Version + 1, Token: f.token(t)})}
			},
			code: proto.CodeVersion, id: "h2", close: proto.CloseVersion},
		{name: "hello without version", open: rawConn("/v1/play"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string {
				return []string{fmt.Sprintf(`{"type":"hello","id":"h3","token":%q}`, f.token(t))}
			},
			code: proto.CodeVersion, id: "h3", close: proto.CloseVersion},
		{name: "forged token: another secret", open: rawConn("/v1/play"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string {
				other, err := NewGuests(&GuestsConfig{Secret: []byte("not-the-lobby-secret-000"), Now: f.clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				tok, _, err := other.IssueToken(Identity{Player: "g-admin", Name: "admin"})
				if err != nil {
					t.Fatal(err)
				}
				return []string{helloMsg("f1", tok)}
			},
			code: proto.CodeTokenInvalid, id: "f1", close: proto.CloseUnauthorized},
		{name: "forged token: claims changed", open: rawConn("/v1/play"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string {
				body, sig, _ := strings.Cut(f.token(t), ".")
				var c tokenClaims
				if b, err := b64.DecodeString(body); err != nil || json.Unmarshal(b, &c) != nil {
					t.Fatalf("token body %q does not parse", body)
				}
				c.Player = f.bystander.Player() // take over someone else
				b, _ := json.Marshal(c)
				return []string{helloMsg("f2", b64.EncodeToString(b)+"."+sig)}
			},
			code: proto.CodeTokenInvalid, id: "f2", close: proto.CloseUnauthorized},
		{name: "forged token: garbage", open: rawConn("/v1/play"), send: sendFrames(helloMsg("f3", "garbage")),
			code: proto.CodeTokenInvalid, id: "f3", close: proto.CloseUnauthorized},
		{name: "expired token", open: rawConn("/v1/play"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string {
				tok := f.token(t)
				f.clock.Advance(biTokenTTL + time.Second)
				return []string{helloMsg("e1", tok)}
			},
			code: proto.CodeTokenExpired, id: "e1", close: proto.CloseUnauthorized},
		{name: "replayed token", do: func(t *testing.T, f *badFixture) {
			tok := f.token(t)
			a := f.dial(t, "/v1/play", nil)
			a.send(t, helloMsg("a", tok))
			wa := a.welcome(t, "a")
			b := f.dial(t, "/v1/play", nil)
			b.send(t, helloMsg("b", tok))
			b.wantError(t, proto.CodeTokenReplayed, "b")
			b.wantClosed(t, proto.CloseUnauthorized)
			f.alive(t, a)
			// The welcome's token is the one for the next connection: it
			// works once, and that connection replaces a.
			c := f.dial(t, "/v1/play", nil)
			c.send(t, helloMsg("c", wa.Token))
			if wc := c.welcome(t, "c"); wc.Player != wa.Player {
				t.Fatalf("next token is for %s, want %s", wc.Player, wa.Player)
			}
			a.wantClosed(t, proto.CloseReplaced)
			f.alive(t, c)
			d := f.dial(t, "/v1/play", nil)
			d.send(t, helloMsg("d", wa.Token))
			d.wantError(t, proto.CodeTokenReplayed, "d")
			d.wantClosed(t, proto.CloseUnauthorized)
			f.alive(t, c)
		}},
		{name: "hello of a later version without its fields", open: rawConn("/v1/play"), send: sendFrames(`{"type":"hello","id":"h6","v":2,"ticket":"x"}`),
			code: proto.CodeVersion, id: "h6", close: proto.CloseVersion},
		{name: "player hello on the server endpoint", open: rawConn("/v1/server"),
			send: func(t *testing.T, f *badFixture, _ *rawPeer) []string { return []string{helloMsg("h4", f.token(t))} },
			code: proto.CodeUnknownType, id: "h4", close: proto.CloseUnauthorized},
		{name: "register on the player endpoint", open: rawConn("/v1/play"),
			send: sendFrames(msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: "r0"}, V: 1, Key: biKey, Capacity: 4})),
			code: proto.CodeUnknownType, id: "r0", close: proto.CloseUnauthorized},
		{name: "message over MaxMessageSize before hello", open: rawConn("/v1/play"), send: sendFrames(big),
			close: proto.CloseTooBig},
		{name: "no subprotocol", close: proto.CloseVersion,
			open: func(t *testing.T, f *badFixture) *rawPeer { return f.dial(t, "/v1/play", &websocket.DialOptions{}) },
			send: sendFrames()},
		{name: "hello timeout", open: rawConn("/v1/play"), send: sendFrames(),
			code: proto.CodeUnauthorized, close: proto.CloseUnauthorized},

		// ---- a player after hello
		{name: "malformed JSON", send: sendFrames(`{"type":"rooms","id":`), code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "JSON array", send: sendFrames(`[{"type":"rooms","id":"x"}]`), code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "JSON string", send: sendFrames(`"rooms"`), code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "JSON null", send: sendFrames(`null`), code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "missing type", send: sendFrames(`{"id":"m1","mode":"duo"}`), code: proto.CodeMalformed, id: "m1", close: proto.CloseProtocol},
		{name: "field of the wrong type", send: sendFrames(`{"type":"queue","id":"m2","mode":7}`),
			code: proto.CodeMalformed, id: "m2", close: proto.CloseProtocol},
		{name: "binary frame", binary: true, send: sendFrames(`{"type":"rooms","id":"b1"}`),
			code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "unknown type", send: sendFrames(`{"type":"dance","id":"u1"}`), code: proto.CodeUnknownType, id: "u1"},
		{name: "game server message from a player", send: sendFrames(seatMsg(proto.TypeClaim, "u2", "r-x", "g-x", "s")),
			code: proto.CodeUnknownType, id: "u2"},
		{name: "second hello", send: func(t *testing.T, f *badFixture, _ *rawPeer) []string { return []string{helloMsg("h5", f.token(t))} },
			code: proto.CodeBadRequest, id: "h5"},
		{name: "id over its limit", send: sendFrames(`{"type":"rooms","id":"` + strings.Repeat("i", proto.MaxIDLen+1) + `"}`),
			code: proto.CodeBadRequest},
		{name: "queue without mode", send: sendFrames(`{"type":"queue","id":"q1"}`), code: proto.CodeBadRequest, id: "q1"},
		{name: "field over its limit", send: sendFrames(`{"type":"room.join","id":"j1","code":"` + strings.Repeat("C", proto.MaxIDLen+1) + `"}`),
			code: proto.CodeBadRequest, id: "j1"},
		{name: "room larger than its mode", send: sendFrames(`{"type":"room.create","id":"c1","mode":"duo","max":3}`),
			code: proto.CodeBadRequest, id: "c1"},
		{name: "queue for an unknown mode", send: sendFrames(`{"type":"queue","id":"q2","mode":"solo"}`), code: proto.CodeUnknownMode, id: "q2"},
		{name: "room in an unknown mode", send: sendFrames(`{"type":"room.create","id":"c2","mode":"solo"}`), code: proto.CodeUnknownMode, id: "c2"},
		{name: "message over MaxMessageSize", send: sendFrames(big), close: proto.CloseTooBig},
		{name: "oversized SDP", send: sendFrames(signalMsg("s1", "r-x", "seat", "", strings.Repeat("a", proto.MaxSDPSize+1))),
			code: proto.CodeTooLarge, id: "s1"},
		{name: "oversized candidate", send: sendFrames(`{"type":"signal","id":"s2","room":"r-x","seat":"s","signal":{"type":"candidate","candidate":{"candidate":"` +
			strings.Repeat("c", proto.MaxCandidateSize+1) + `"}}}`), code: proto.CodeTooLarge, id: "s2"},
		{name: "signal into someone else's room", // with their seat token, even
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, seat, _ := by()
				return []string{signalMsg("s3", room, seat, "", offender)}
			},
			code: proto.CodeNotInRoom, id: "s3"},
		{name: "signal while not seated", send: sendFrames(signalMsg("s4", "r-nowhere", "seat", "", offender)),
			code: proto.CodeNotInRoom, id: "s4"},
		{name: "signal with a wrong seat token", open: func(t *testing.T, f *badFixture) *rawPeer { return f.seated(t, f.eu) },
			send: func(_ *testing.T, _ *badFixture, p *rawPeer) []string {
				return []string{signalMsg("s5", p.room, "not-the-seat", "", offender)}
			},
			code: proto.CodeBadSeat, id: "s5"},
		{name: "signal without a seat token", open: func(t *testing.T, f *badFixture) *rawPeer { return f.seated(t, f.eu) },
			send: func(_ *testing.T, _ *badFixture, p *rawPeer) []string {
				return []string{signalMsg("s6", p.room, "", "", offender)}
			},
			code: proto.CodeBadSeat, id: "s6"},
		{name: "signal with the right seat is relayed", do: func(t *testing.T, f *badFixture) {
			p := f.seated(t, f.eu)
			p.send(t, signalMsg("s7", p.room, "not-the-seat", "", offender))
			p.wantError(t, proto.CodeBadSeat, "s7")
			p.send(t, signalMsg("", p.room, p.seat, "g-someone-else", "v=0 legit"))
			s := f.eu.expect(t, "relayed signal", func(m any) bool { s, ok := m.(*proto.Signal); return ok && s.Player == p.player }).(*proto.Signal)
			if s.Room != p.room || s.Seat != p.seat || s.Signal.SDP != "v=0 legit" {
				t.Fatalf("relayed %+v (%q), want room %s seat %s from %s", s, s.Signal.SDP, p.room, p.seat, p.player)
			}
			f.alive(t, p)
		}},
		{name: "resume token over its limit", send: sendFrames(`{"type":"signal","id":"s8","room":"r-x","seat":"s","signal":{"type":"offer","sdp":"` +
			offender + `","gen":1,"resume":"` + strings.Repeat("t", proto.MaxResumeLen+1) + `"}}`), code: proto.CodeTooLarge, id: "s8"},
		{name: "resume token on a candidate", send: sendFrames(`{"type":"signal","id":"s9","room":"r-x","seat":"s","signal":{"type":"candidate","gen":1,"resume":"t"}}`),
			code: proto.CodeBadRequest, id: "s9"},
		{name: "error on an offer", send: sendFrames(`{"type":"signal","id":"s10","room":"r-x","seat":"s","signal":{"type":"offer","sdp":"` +
			offender + `","error":"no"}}`), code: proto.CodeBadRequest, id: "s10"},
		{name: "refusal without error", send: sendFrames(`{"type":"signal","id":"s11","room":"r-x","seat":"s","signal":{"type":"refused","gen":1}}`),
			code: proto.CodeBadRequest, id: "s11"},
		{name: "refusal with an error over its limit", send: sendFrames(`{"type":"signal","id":"s12","room":"r-x","seat":"s","signal":{"type":"refused","error":"` +
			strings.Repeat("e", proto.MaxSignalErrorLen+1) + `"}}`), code: proto.CodeTooLarge, id: "s12"},
		{name: "a resume, its answer, a refusal and a restart request are relayed", do: func(t *testing.T, f *badFixture) {
			p := f.seated(t, f.eu)
			tok, next := strings.Repeat("T", 43), strings.Repeat("N", 43)
			p.send(t, msgJSON(proto.TypeSignal, &proto.Signal{Room: p.room, Seat: p.seat,
				Signal: &netcode.Signal{Type: netcode.SignalOffer, SDP: "v=0 resume", Gen: 1, Resume: tok}}))
			s := f.eu.expect(t, "resume offer", func(m any) bool { s, ok := m.(*proto.Signal); return ok && s.Player == p.player }).(*proto.Signal)
			if s.Seat != p.seat || s.Signal.Gen != 1 || s.Signal.Resume != tok || s.Signal.SDP != "v=0 resume" {
				t.Fatalf("relayed %+v (%+v), want the resume offer of gen 1 with its token, seat %s", s, s.Signal, p.seat)
			}
			for _, sig := range []netcode.Signal{
				{Type: netcode.SignalAnswer, SDP: "v=0 resumed", Gen: 1, Resume: next},
				{Type: netcode.SignalRestart, Gen: 1},
				{Type: netcode.SignalRefused, Gen: 2, Error: "resume token already used"},
			} {
				f.eu.send(t, msgJSON(proto.TypeSignal, &proto.Signal{Room: p.room, Player: p.player, Signal: &sig}))
				got := p.expect(t, sig.Type, func(m any) bool { _, ok := m.(*proto.Signal); return ok }).(*proto.Signal)
				if got.Room != p.room || *got.Signal != sig {
					t.Fatalf("player got %+v (%+v), want %+v in room %s", got, got.Signal, sig, p.room)
				}
			}
			f.alive(t, p)
		}},
		// Each queuing case has a region of its own, so that its ticket
		// cannot be matched with another case's while that one disconnects.
		{name: "busy: queue twice", send: sendFrames(`{"type":"queue","id":"q3","mode":"duo","region":"q-a"}`, `{"type":"queue","id":"q4","mode":"duo"}`),
			code: proto.CodeBusy, id: "q4"},
		{name: "busy: room while queued", send: sendFrames(`{"type":"queue","id":"q5","mode":"duo","region":"q-b"}`, `{"type":"room.create","id":"c3","mode":"duo"}`),
			code: proto.CodeBusy, id: "c3"},
		{name: "busy: room while seated", open: func(t *testing.T, f *badFixture) *rawPeer { return f.seated(t, f.eu) },
			send: sendFrames(`{"type":"room.create","id":"c4","mode":"duo","region":"eu"}`), code: proto.CodeBusy, id: "c4"},
		{name: "join an unknown code", send: sendFrames(`{"type":"room.join","id":"j2","code":"NOSUCH"}`), code: proto.CodeRoomNotFound, id: "j2"},
		{name: "join a full room", do: func(t *testing.T, f *badFixture) {
			a := f.seated(t, f.eu)
			b := f.player(t)
			b.send(t, msgJSON(proto.TypeRoomJoin, &proto.RoomJoin{Envelope: proto.Envelope{ID: "j3"}, Code: strings.ToLower(a.code)}))
			if m := b.wantReply(t, proto.TypeMatch, "j3").(*proto.Match); m.Room != a.room {
				t.Fatalf("joined %s, want %s", m.Room, a.room)
			}
			c := f.player(t)
			c.send(t, msgJSON(proto.TypeRoomJoin, &proto.RoomJoin{Envelope: proto.Envelope{ID: "j4"}, Code: a.code}))
			c.wantError(t, proto.CodeRoomFull, "j4")
			f.alive(t, c)
			f.alive(t, a)
		}},
		{name: "room in a region without a game server", send: sendFrames(`{"type":"room.create","id":"c5","mode":"duo","region":"mars"}`),
			code: proto.CodeNoServer, id: "c5"},
		{name: "join an unknown party", send: sendFrames(`{"type":"party.join","id":"p1","code":"NOSUCH"}`), code: proto.CodePartyNotFound, id: "p1"},
		{name: "party member queues", do: func(t *testing.T, f *badFixture) {
			a, b := f.player(t), f.player(t)
			a.send(t, `{"type":"party.create","id":"p2"}`)
			pa := a.wantReply(t, proto.TypeParty, "p2").(*proto.PartyUpdate)
			b.send(t, msgJSON(proto.TypePartyJoin, &proto.PartyJoin{Envelope: proto.Envelope{ID: "p3"}, Code: pa.Code}))
			b.wantReply(t, proto.TypeParty, "p3")
			b.send(t, `{"type":"queue","id":"p4","mode":"duo"}`)
			b.wantError(t, proto.CodeNotLeader, "p4")
			b.send(t, `{"type":"party.create","id":"p5"}`)
			b.wantError(t, proto.CodeBusy, "p5")
			f.alive(t, b)
			f.alive(t, a)
		}},
		{name: "party full", do: func(t *testing.T, f *badFixture) {
			lead := f.player(t)
			lead.send(t, `{"type":"party.create","id":"p6"}`)
			code := lead.wantReply(t, proto.TypeParty, "p6").(*proto.PartyUpdate).Code
			for i := 1; i < proto.MaxPartySize; i++ {
				m := f.player(t)
				m.send(t, msgJSON(proto.TypePartyJoin, &proto.PartyJoin{Envelope: proto.Envelope{ID: "p7"}, Code: code}))
				m.wantReply(t, proto.TypeParty, "p7")
			}
			late := f.player(t)
			late.send(t, msgJSON(proto.TypePartyJoin, &proto.PartyJoin{Envelope: proto.Envelope{ID: "p8"}, Code: code}))
			late.wantError(t, proto.CodePartyFull, "p8")
			f.alive(t, late)
		}},
		{name: "flood", send: func(*testing.T, *badFixture, *rawPeer) []string {
			msgs := make([]string, 40)
			for i := range msgs {
				msgs[i] = fmt.Sprintf(`{"type":"rooms","id":"f%d"}`, i)
			}
			return msgs
		}, code: proto.CodeRateLimited, close: proto.CloseRateLimited},

		// ---- game servers
		{name: "game server with a wrong key", open: rawConn("/v1/server"),
			send: sendFrames(msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: "k1"}, V: 1, Key: biKey + "x", Capacity: 4})),
			code: proto.CodeForbidden, id: "k1", close: proto.CloseUnauthorized},
		{name: "game server without a key", open: rawConn("/v1/server"),
			send: sendFrames(msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: "k2"}, V: 1, Capacity: 4})),
			code: proto.CodeForbidden, id: "k2", close: proto.CloseUnauthorized},
		{name: "game server with a wrong version", open: rawConn("/v1/server"),
			send: sendFrames(msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: "k3"}, V: 9, Key: biKey, Capacity: 4})),
			code: proto.CodeVersion, id: "k3", close: proto.CloseVersion},
		{name: "game server sends malformed JSON", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(`{"type":"claim"`), code: proto.CodeMalformed, close: proto.CloseProtocol},
		{name: "game server sends an unknown type", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(`{"type":"queue","id":"g1","mode":"duo"}`), code: proto.CodeUnknownType, id: "g1"},
		{name: "game server refusal with an error over its limit", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(`{"type":"signal","id":"g10","room":"r-x","player":"g-x","signal":{"type":"refused","gen":1,"error":"` +
				strings.Repeat("e", proto.MaxSignalErrorLen+1) + `"}}`), code: proto.CodeTooLarge, id: "g10"},
		{name: "game server answer with a resume token over its limit", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(`{"type":"signal","id":"g11","room":"r-x","player":"g-x","signal":{"type":"answer","sdp":"x","gen":1,"resume":"` +
				strings.Repeat("t", proto.MaxResumeLen+1) + `"}}`), code: proto.CodeTooLarge, id: "g11"},
		{name: "game server restart request with a resume token", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(`{"type":"signal","id":"g12","room":"r-x","player":"g-x","signal":{"type":"restart","gen":1,"resume":"t"}}`),
			code: proto.CodeBadRequest, id: "g12"},
		{name: "game server registers twice", open: func(t *testing.T, f *badFixture) *rawPeer { return f.server(t, f.id("region-")) },
			send: sendFrames(msgJSON(proto.TypeRegister, &proto.Register{Envelope: proto.Envelope{ID: "g2"}, V: 1, Key: biKey, Capacity: 4})),
			code: proto.CodeBadRequest, id: "g2"},
		{name: "game server claims a room it was not given", open: func(*testing.T, *badFixture) *rawPeer { return f.us },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, seat, player := by()
				return []string{seatMsg(proto.TypeClaim, "g3", room, player, seat)}
			},
			code: proto.CodeNotYourRoom, id: "g3"},
		{name: "game server claims a room that does not exist", open: func(*testing.T, *badFixture) *rawPeer { return f.us },
			send:  sendFrames(seatMsg(proto.TypeClaim, "g4", "r-nowhere", "g-nobody", "seat")),
			code:  proto.CodeNotYourRoom,
			id:    "g4",
			close: 0},
		{name: "game server releases a seat it was not given", open: func(*testing.T, *badFixture) *rawPeer { return f.us },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, _, player := by()
				return []string{seatMsg(proto.TypeRelease, "g5", room, player, "")}
			},
			code: proto.CodeNotYourRoom, id: "g5"},
		{name: "game server ends a room it was not given", open: func(*testing.T, *badFixture) *rawPeer { return f.us },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, _, _ := by()
				return []string{msgJSON(proto.TypeEnd, &proto.End{Envelope: proto.Envelope{ID: "g6"}, Room: room})}
			},
			code: proto.CodeNotYourRoom, id: "g6"},
		{name: "game server signals into a room it was not given", open: func(*testing.T, *badFixture) *rawPeer { return f.us },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, _, player := by()
				return []string{signalMsg("g7", room, "", player, offender)}
			},
			code: proto.CodeNotYourRoom, id: "g7"},
		{name: "game server signals a player not seated with it", open: func(*testing.T, *badFixture) *rawPeer { return f.eu },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, _, _ := by()
				return []string{signalMsg("g8", room, "", "g-nobody", offender)}
			},
			code: proto.CodeNotYourPlayer, id: "g8"},
		{name: "game server claims a player not seated with it", open: func(*testing.T, *badFixture) *rawPeer { return f.eu },
			send: func(*testing.T, *badFixture, *rawPeer) []string {
				room, seat, _ := by()
				return []string{seatMsg(proto.TypeClaim, "g9", room, "g-nobody", seat)}
			},
			code: proto.CodeNotYourPlayer, id: "g9"},
		{name: "game server claims with a wrong seat token, then twice", do: func(t *testing.T, f *badFixture) {
			gs := f.server(t, f.id("region-"))
			p := f.seated(t, gs)
			gs.send(t, seatMsg(proto.TypeClaim, "w1", p.room, p.player, "not-the-seat"))
			gs.wantError(t, proto.CodeBadSeat, "w1")
			gs.send(t, seatMsg(proto.TypeClaim, "w2", p.room, p.player, ""))
			gs.wantError(t, proto.CodeBadSeat, "w2")
			gs.send(t, seatMsg(proto.TypeClaim, "w3", p.room, p.player, p.seat))
			gs.wantReply(t, proto.TypeOK, "w3")
			gs.send(t, seatMsg(proto.TypeClaim, "w4", p.room, p.player, p.seat))
			gs.wantError(t, proto.CodeBadSeat, "w4")
			f.alive(t, gs)
			f.alive(t, p)
		}},
		{name: "game server claims a released seat", do: func(t *testing.T, f *badFixture) {
			gs := f.server(t, f.id("region-"))
			p, q := f.seated(t, gs), f.player(t)
			q.send(t, msgJSON(proto.TypeRoomJoin, &proto.RoomJoin{Envelope: proto.Envelope{ID: "j5"}, Code: p.code}))
			m := q.wantReply(t, proto.TypeMatch, "j5").(*proto.Match)
			gs.send(t, seatMsg(proto.TypeRelease, "x1", p.room, q.player, ""))
			gs.wantReply(t, proto.TypeOK, "x1")
			q.expect(t, "left", func(m any) bool { l, ok := m.(*proto.Left); return ok && l.Reason == proto.ReasonReleased })
			gs.send(t, seatMsg(proto.TypeClaim, "x2", p.room, q.player, m.Seat))
			gs.wantError(t, proto.CodeNotYourPlayer, "x2")
			f.alive(t, gs)
		}},

		// ---- connection limits and origins
		{name: "connections per IP", do: func(t *testing.T, _ *badFixture) {
			g := newBadFixture(t, &Config{MaxConnsPerIP: 2})
			a := g.dial(t, "/v1/play", nil)
			g.dial(t, "/v1/play", nil)
			ctx := ctxTimeout(t, biWait)
			_, resp, err := websocket.Dial(ctx, g.wsURL+"/v1/play", &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("third connection: %v (%v), want HTTP 429", err, resp)
			}
			a.close()
			// The slot frees once the lobby has seen a go; bounded retries.
			waitFor(t, biWait, "a free connection slot", func() bool {
				ws, _, err := websocket.Dial(ctx, g.wsURL+"/v1/play", &websocket.DialOptions{Subprotocols: []string{proto.Subprotocol}})
				if err != nil {
					return false
				}
				_ = ws.CloseNow()
				return true
			})
		}},
		{name: "messages per IP", do: func(t *testing.T, _ *badFixture) {
			// Each connection is well within its own limit; together they
			// spend the address's burst of 4 (two hellos, two requests).
			g := newBadFixture(t, &Config{MessageBurst: 100, IPMessageBurst: 4, IPMessageRate: 0.001})
			a, b := g.player(t), g.player(t)
			g.alive(t, a)
			g.alive(t, b)
			a.send(t, `{"type":"rooms","id":"over"}`)
			a.wantError(t, proto.CodeRateLimited, "")
			a.wantClosed(t, proto.CloseRateLimited)
		}},
		{name: "origin not allowed", do: func(t *testing.T, f *badFixture) {
			ctx := ctxTimeout(t, biWait)
			for _, path := range []string{"/v1/play", "/v1/server"} {
				ws, resp, err := websocket.Dial(ctx, f.wsURL+path, &websocket.DialOptions{
					Subprotocols: []string{proto.Subprotocol},
					HTTPHeader:   http.Header{"Origin": {"https://evil.example"}},
				})
				if err == nil {
					_ = ws.CloseNow()
				}
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s from https://evil.example: %v (%v), want HTTP 403", path, err, resp)
				}
			}
		}},
		{name: "origin allowed", do: func(t *testing.T, f *badFixture) {
			host := strings.TrimPrefix(f.url, "http://")
			for _, origin := range []string{"https://play.game.example", "http://" + host} {
				p := f.dial(t, "/v1/play", &websocket.DialOptions{
					Subprotocols: []string{proto.Subprotocol},
					HTTPHeader:   http.Header{"Origin": {origin}},
				})
				p.send(t, helloMsg("o", f.token(t)))
				p.welcome(t, "o")
				f.alive(t, p)
			}
		}},
	}

	start := time.Now()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.do != nil {
				c.do(t, f)
				return
			}
			var p *rawPeer
			if c.open != nil {
				p = c.open(t, f)
			} else {
				p = f.player(t)
			}
			for i, m := range c.send(t, f, p) {
				typ := websocket.MessageText
				if c.binary && i == 0 {
					typ = websocket.MessageBinary
				}
				if err := p.write(typ, []byte(m)); err != nil {
					if c.close == 0 {
						t.Fatalf("write %d: %v", i, err)
					}
					break // the lobby may close a flooding connection under its writes
				}
			}
			if c.code != "" {
				p.wantError(t, c.code, c.id)
			}
			if c.close != 0 {
				p.wantClosed(t, c.close)
				return
			}
			f.alive(t, p)
		})
	}
	t.Logf("%d cases in %v", len(cases), time.Since(start).Round(time.Millisecond))

	// Everyone else played on: the bystander's connection, room and seat,
	// and both shared game servers.
	t.Run("bystander plays on", func(t *testing.T) {
		select {
		case <-f.bystander.Done():
			t.Fatalf("bystander's lobby connection ended: %v", f.bystander.Err())
		default:
		}
	notices:
		for range 64 { // the Notices buffer
			select {
			case n := <-f.bystander.Notices():
				t.Errorf("the bystander was told %+v", n)
			default:
				break notices
			}
		}
		rooms, err := f.bystander.Rooms(ctxTimeout(t, biWait), "")
		if err != nil {
			t.Fatalf("bystander Rooms: %v", err)
		}
		listed := false
		for _, r := range rooms {
			listed = listed || (r.Room == f.byMatch.Room && r.Players == 1 && r.Max == 2)
		}
		if !listed {
			t.Fatalf("bystander's room %s not listed with 1 of 2 seats: %+v", f.byMatch.Room, rooms)
		}
		// Per-case game servers are gone; the two shared ones remain.
		waitFor(t, biWait, "the per-case game servers to go", func() bool { return f.srv.Stats().GameServers == 2 })
		if st := f.srv.Stats(); st.Rooms < 1 || st.Seats < 1 || st.Connected < 1 {
			t.Fatalf("stats %+v: the bystander's room, seat or connection is gone", st)
		}
		// The seat is still the bystander's, unclaimed, under its token: the
		// bogus claims of the cases took nothing.
		room, seat, player := by()
		f.eu.send(t, seatMsg(proto.TypeClaim, "final", room, player, seat))
		f.eu.wantReply(t, proto.TypeOK, "final")
		f.alive(t, f.eu)
		f.alive(t, f.us)
		// No offending signal ever reached a game server.
		for _, gs := range []*rawPeer{f.eu, f.us} {
			for _, m := range gs.seen {
				if s, ok := m.(*proto.Signal); ok && s.Signal != nil && s.Signal.SDP == offender {
					t.Errorf("game server %s was relayed an offending signal: %+v", gs.region, s)
				}
			}
		}
	})
}
