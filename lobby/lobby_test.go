//go:build !js

package lobby

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/proto"
	"github.com/tickwire/tickwire/netcode"
)

func TestHealthz(t *testing.T) {
	srv, url := testLobby(t, nil)
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	resp, err = http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz after Close: %s, want 503", resp.Status)
	}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"min above max", Config{Modes: map[string]Mode{"m": {MinPlayers: 5, MaxPlayers: 4}}}},
		{"empty mode name", Config{Modes: map[string]Mode{"": {}}}},
		{"negative window", Config{Modes: map[string]Mode{"m": {InitialWindow: -1}}}},
		{"negative seat timeout", Config{SeatTimeout: -time.Second}},
		{"turn without secret", Config{TURN: TURNConfig{URLs: []string{"turn:x"}}}},
		{"STUN URL of another scheme", Config{STUN: []string{"turn:x"}}},
		{"STUN URL without a scheme", Config{STUN: []string{"stun.example.com:3478"}}},
		{"TURN URL of another scheme", Config{TURN: TURNConfig{URLs: []string{"stun:x"}, Secret: "s"}}},
		{"tiny messages", Config{MaxMessageSize: 16 << 10}},
		{"negative rate", Config{MessageRate: -1}},
		{"negative signal rate", Config{SignalRate: -1}},
		{"negative room creation burst", Config{RoomCreateBurst: -1}},
		{"TCP cap below the WebSocket cap", Config{MaxConnsPerIP: 10, MaxTCPConnsPerIP: 5}},
		{"negative abandoned seat timeout", Config{AbandonedSeatTimeout: -time.Second}},
		{"negative key failure interval", Config{KeyFailureInterval: -time.Second}},
		{"negative server capacity cap", Config{MaxServerCapacity: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewServer(&tc.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewServer: %v, want ErrInvalidConfig", err)
			}
		})
	}
	c, err := (*Config)(nil).resolve()
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modes["default"]
	if m.MinPlayers != 2 || m.MaxPlayers != 4 || c.SeatTimeout != 30*time.Second || c.MaxMessageSize != 32<<10 {
		t.Fatalf("defaults: %+v, mode %+v", c, m)
	}
	// The limits of issue 14, as SECURITY.md and PROTOCOL.md list them.
	if c.SignalRate != 4 || c.SignalBurst != 32 || c.RoomSignalRate != 32 || c.RoomSignalBurst != 256 ||
		c.RoomCreateRate != 1 || c.RoomCreateBurst != 10 || c.IPRoomCreateRate != 5 || c.IPRoomCreateBurst != 30 ||
		c.MaxRoomSeatsPerIP != 8 || c.AbandonedSeatTimeout != 5*time.Second || c.MaxTCPConnsPerIP != 64 ||
		c.KeyFailureBurst != 5 || c.KeyFailureInterval != time.Minute || c.MaxServerCapacity != 256 ||
		c.GameServerGrace != 15*time.Second {
		t.Fatalf("limit defaults: %+v", c)
	}
}

// TestSeatExpires: a matched player that never connects loses its seat
// once SeatTimeout passes on the lobby's clock, and the game server hears.
func TestSeatExpires(t *testing.T) {
	clock := newFakeClock()
	srv, url := testLobby(t, &Config{Now: clock.Now, TickInterval: 5 * time.Millisecond, SeatTimeout: 30 * time.Second})
	attach(t, srv, 8)
	ctx := ctxTimeout(t, 20*time.Second)
	c := guest(t, ctx, url, "idle")
	m, err := c.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Expires.Equal(clock.Now().Add(30 * time.Second)) {
		t.Errorf("seat expires %v, want %v", m.Expires, clock.Now().Add(30*time.Second))
	}
	clock.Advance(29 * time.Second)
	time.Sleep(50 * time.Millisecond) // several ticks
	if st := srv.Stats(); st.Seats != 1 {
		t.Fatalf("seat gone before its time: %+v", st)
	}
	clock.Advance(time.Second)
	n := nextNotice(t, c, "left")
	if n.Reason != "expired" || n.Room != m.Room {
		t.Fatalf("left notice %+v, want reason expired for %s", n, m.Room)
	}
	waitFor(t, 5*time.Second, "room cleaned up", func() bool { return srv.Stats().Rooms == 0 })
	if _, err := c.JoinRoom(ctx, m.Code); err == nil {
		t.Fatal("joined a room that has ended")
	} else {
		wantCode(t, err, CodeRoomNotFound)
	}
}

func TestPrivateAndPublicRooms(t *testing.T) {
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	attach(t, srv, 8)
	ctx := ctxTimeout(t, 20*time.Second)
	a, b, c := guest(t, ctx, url, "a"), guest(t, ctx, url, "b"), guest(t, ctx, url, "c")

	priv, err := a.CreateRoom(ctx, RoomOptions{Mode: "duel", Name: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := b.CreateRoom(ctx, RoomOptions{Mode: "duel", Name: "open to all", Public: true})
	if err != nil {
		t.Fatal(err)
	}
	if priv.Code == "" || pub.Code == "" || priv.Code == pub.Code {
		t.Fatalf("join codes %q and %q", priv.Code, pub.Code)
	}
	list, err := c.Rooms(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Room != pub.Room || list[0].Players != 1 || list[0].Max != 2 || list[0].Name != "open to all" {
		t.Fatalf("public rooms %+v, want only %s", list, pub.Room)
	}
	if list, _ := c.Rooms(ctx, "other"); len(list) != 0 {
		t.Fatalf("mode filter: %+v", list)
	}

	// Codes are case-insensitive; the joiner learns who is there, the
	// creator learns that someone joined.
	m, err := c.JoinRoom(ctx, lower(priv.Code))
	if err != nil {
		t.Fatal(err)
	}
	if m.Room != priv.Room || len(m.Players) != 2 || m.Players[0].ID != a.Player() || m.Players[1].ID != c.Player() {
		t.Fatalf("join: %+v", m)
	}
	if n := nextNotice(t, a, "room"); len(n.Players) != 2 {
		t.Fatalf("creator's room notice: %+v", n)
	}
	// A full room is not listed and refuses joiners.
	d := guest(t, ctx, url, "d")
	if _, err := d.JoinRoom(ctx, priv.Code); err == nil {
		t.Fatal("joined a full room")
	} else {
		wantCode(t, err, CodeRoomFull)
	}
	if _, err := d.JoinRoom(ctx, "NOPE42"); err == nil {
		t.Fatal("joined a room that does not exist")
	} else {
		wantCode(t, err, CodeRoomNotFound)
	}
	// Seated players are busy.
	if _, err := c.Queue(ctx, "duel", "", 0); err == nil {
		t.Fatal("queued while seated")
	} else {
		wantCode(t, err, CodeBusy)
	}
	if _, err := c.CreateRoom(ctx, RoomOptions{Mode: "duel", Max: 3}); err == nil {
		t.Fatal("created a room while seated")
	}
	if _, err := d.CreateRoom(ctx, RoomOptions{Mode: "duel", Max: 3}); err == nil {
		t.Fatal("created a room larger than the mode allows")
	} else {
		wantCode(t, err, CodeBadRequest)
	}
	if _, err := d.CreateRoom(ctx, RoomOptions{Mode: "nope"}); err == nil {
		t.Fatal("created a room in an unknown mode")
	} else {
		wantCode(t, err, CodeUnknownMode)
	}

	// Leaving empties and ends the rooms.
	for _, cl := range []*Client{a, b, c} {
		if err := cl.Leave(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "rooms ended", func() bool { return srv.Stats().Rooms == 0 })
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TestPartiesStayTogether: two parties of two fill one room of four; a
// member cannot queue for the party; the party moves as one.
func TestPartiesStayTogether(t *testing.T) {
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}}})
	attach(t, srv, 16)
	ctx := ctxTimeout(t, 20*time.Second)
	var all []*Client
	var leaders []*Client
	for range 2 {
		lead, mate := guest(t, ctx, url, "lead"), guest(t, ctx, url, "mate")
		pa, err := lead.CreateParty(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := mate.JoinParty(ctx, pa.Code)
		if err != nil {
			t.Fatal(err)
		}
		if pb.Leader != lead.Player() || len(pb.Members) != 2 {
			t.Fatalf("party after join: %+v", pb)
		}
		if _, err := mate.Queue(ctx, "squad", "", 1000); err == nil {
			t.Fatal("a member queued the party")
		} else {
			wantCode(t, err, CodeNotLeader)
		}
		all = append(all, lead, mate)
		leaders = append(leaders, lead)
	}
	if _, err := all[0].JoinParty(ctx, "ZZZZZZ"); err == nil {
		t.Fatal("joined a second party")
	}
	for _, l := range leaders {
		if _, err := l.Queue(ctx, "squad", "", 1000); err != nil {
			t.Fatal(err)
		}
	}
	var room string
	for i, c := range all {
		m, err := c.WaitMatch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			room = m.Room
		}
		if m.Room != room || len(m.Players) != 4 {
			t.Fatalf("player %d: %+v, want room %s of 4", i, m, room)
		}
	}
	// Leaving the room keeps the party.
	if err := all[1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Parties != 2 || st.Seats != 3 {
		t.Fatalf("after one leave: %+v", st)
	}
}

// TestLeaderLeavesQueue: the party leaves the queue together, and members
// are told why.
func TestLeaderLeavesQueue(t *testing.T) {
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"squad": {MinPlayers: 4, MaxPlayers: 4}}})
	attach(t, srv, 16)
	ctx := ctxTimeout(t, 20*time.Second)
	lead, mate := guest(t, ctx, url, "lead"), guest(t, ctx, url, "mate")
	pa, err := lead.CreateParty(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mate.JoinParty(ctx, pa.Code); err != nil {
		t.Fatal(err)
	}
	if _, err := lead.Queue(ctx, "squad", "", 1000); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, mate, "queued"); n.Type != "queued" {
		t.Fatal(n)
	}
	if st := srv.Stats(); st.Queued != 1 {
		t.Fatalf("a party is one ticket: %+v", st)
	}
	if err := lead.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, mate, "left"); n.Reason != "party_left" {
		t.Fatalf("member's notice %+v", n)
	}
	if st := srv.Stats(); st.Queued != 0 {
		t.Fatalf("still queued: %+v", st)
	}
	// The leader dropping its connection hands the party to the member.
	_ = lead.Close()
	n := nextNotice(t, mate, "party")
	if n.Party.Leader != mate.Player() || len(n.Party.Members) != 1 {
		t.Fatalf("party after the leader left: %+v", n.Party)
	}
}

// TestBackfill: a running matchmade room with a free seat takes the next
// compatible player before a new room opens.
func TestBackfill(t *testing.T) {
	clock := newFakeClock()
	srv, url := testLobby(t, &Config{
		Now:          clock.Now,
		TickInterval: 5 * time.Millisecond,
		Modes:        map[string]Mode{"br": {MinPlayers: 2, MaxPlayers: 3, FillWait: 5 * time.Second, Backfill: true}},
	})
	attach(t, srv, 16)
	ctx := ctxTimeout(t, 20*time.Second)
	a, b, c := guest(t, ctx, url, "a"), guest(t, ctx, url, "b"), guest(t, ctx, url, "c")
	for _, p := range []*Client{a, b} {
		if _, err := p.Queue(ctx, "br", "eu", 1500); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(30 * time.Millisecond)
	if st := srv.Stats(); st.Rooms != 0 {
		t.Fatalf("a room of 2 opened before FillWait: %+v", st)
	}
	clock.Advance(5 * time.Second)
	ma, err := a.WaitMatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ma.Players) != 2 {
		t.Fatalf("first match: %+v", ma)
	}
	if _, err := c.Queue(ctx, "br", "eu", 1550); err != nil {
		t.Fatal(err)
	}
	mc, err := c.WaitMatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Room != ma.Room || len(mc.Players) != 3 {
		t.Fatalf("backfill: %+v, want room %s with 3 players", mc, ma.Room)
	}
	if n := nextNotice(t, a, "room"); len(n.Players) != 3 {
		t.Fatalf("room notice after backfill: %+v", n)
	}
	if st := srv.Stats(); st.Rooms != 1 || st.Seats != 3 {
		t.Fatalf("%+v", st)
	}
}

// TestNoServer: with no game server, room creation says so and matches
// stay queued instead of vanishing.
func TestNoServer(t *testing.T) {
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}}})
	ctx := ctxTimeout(t, 20*time.Second)
	a, b := guest(t, ctx, url, "a"), guest(t, ctx, url, "b")
	if _, err := a.CreateRoom(ctx, RoomOptions{Mode: "duel"}); err == nil {
		t.Fatal("room created with no game server")
	} else {
		wantCode(t, err, CodeNoServer)
	}
	for _, p := range []*Client{a, b} {
		if _, err := p.Queue(ctx, "duel", "", 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if st := srv.Stats(); st.Queued != 2 || st.Rooms != 0 {
		t.Fatalf("%+v, want both still queued", st)
	}
	// A server arrives: the match goes through.
	attach(t, srv, 4)
	m, err := a.WaitMatch(ctx)
	if err != nil || len(m.Players) != 2 {
		t.Fatalf("match after a server came: %+v, %v", m, err)
	}
}

// TestGameServerLost: the players of a game server that disconnects are
// told, and its rooms are gone.
func TestGameServerLost(t *testing.T) {
	srv, url := testLobby(t, &Config{GameServerKey: "key-0123456789abcdef"})
	ctx := ctxTimeout(t, 20*time.Second)
	gs, err := DialGameServer(ctx, url, newNetcodeServer(t), &GameServerConfig{Key: "key-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Server != gs.ID() {
		t.Fatalf("placed on %s, want %s", m.Server, gs.ID())
	}
	_ = gs.Close()
	if n := nextNotice(t, a, "left"); n.Reason != "server_lost" || n.Room != m.Room {
		t.Fatalf("notice %+v", n)
	}
	waitFor(t, 5*time.Second, "server forgotten", func() bool {
		st := srv.Stats()
		return st.GameServers == 0 && st.Rooms == 0
	})
	if _, err := DialGameServer(ctx, url, newNetcodeServer(t), &GameServerConfig{Key: "wrong"}); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong key: %v, want ErrUnauthorized", err)
	}
}

// TestReconnectWhileSeated: a player whose lobby connection drops keeps
// its seat, comes back with the token from its welcome, and is told where
// it plays.
func TestReconnectWhileSeated(t *testing.T) {
	srv, url := testLobby(t, nil)
	attach(t, srv, 8)
	ctx := ctxTimeout(t, 20*time.Second)
	a := guest(t, ctx, url, "a")
	m, err := a.CreateRoom(ctx, RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	next, exp := a.NextToken()
	if next == "" || !exp.After(time.Now()) {
		t.Fatalf("no next token: %q %v", next, exp)
	}
	_ = a.Close()
	waitFor(t, 5*time.Second, "disconnect seen", func() bool { return srv.Stats().Connected == 0 })
	if st := srv.Stats(); st.Seats != 1 {
		t.Fatalf("seat lost with the lobby connection: %+v", st)
	}
	b, err := Dial(ctx, url, next, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Player() != a.Player() {
		t.Fatalf("came back as %s, was %s", b.Player(), a.Player())
	}
	again, err := b.WaitMatch(ctx)
	if err != nil || again.Room != m.Room || again.Seat != m.Seat {
		t.Fatalf("match after reconnect: %+v, %v; want room %s", again, err, m.Room)
	}
	// The same player connecting twice replaces the older connection.
	third, _ := b.NextToken()
	c, err := Dial(ctx, url, third, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-b.Done():
	case <-ctx.Done():
		t.Fatal("older connection not closed")
	}
}

// TestShutdown: Shutdown closes every connection, and clients see it.
func TestShutdown(t *testing.T) {
	srv, url := testLobby(t, nil)
	ctx := ctxTimeout(t, 20*time.Second)
	// A client that would redial a lobby going away (1001) stays out of it.
	tok, err := GuestToken(ctx, url, "a")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Dial(ctx, url, tok, &ClientConfig{ReconnectAttempts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	gs := attach(t, srv, 4)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, done := range []<-chan struct{}{a.Done(), gs.Done()} {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("a connection outlived Shutdown")
		}
	}
	if !errors.Is(a.Err(), ErrClosed) {
		t.Fatalf("client Err %v", a.Err())
	}
	if _, err := a.Rooms(ctx, ""); err == nil {
		t.Fatal("request after shutdown succeeded")
	}
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestGuestCORS: pages from an allowed origin may fetch guest tokens; other
// origins are refused, preflight included.
func TestGuestCORS(t *testing.T) {
	_, url := testLobby(t, &Config{OriginPatterns: []string{"*.example.com"}})
	cases := []struct {
		method, origin string
		status         int
		allow          string
	}{
		{"POST", "", http.StatusOK, ""},
		{"POST", "https://game.example.com", http.StatusOK, "https://game.example.com"},
		{"POST", "https://evil.test", http.StatusForbidden, ""},
		{"OPTIONS", "https://game.example.com", http.StatusNoContent, "https://game.example.com"},
		{"OPTIONS", "https://evil.test", http.StatusForbidden, ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, url+"/v1/guest", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.allow {
			t.Errorf("%s from %q: %s, allow-origin %q; want %d, %q", tc.method, tc.origin, resp.Status,
				resp.Header.Get("Access-Control-Allow-Origin"), tc.status, tc.allow)
		}
	}
}

// TestGameServerNotAccepting: a game that stops calling Accept does not
// make its GameServer queue sessions without bound; the player beyond the
// queue is refused and gets its seat back through the lobby.
func TestGameServerNotAccepting(t *testing.T) {
	srv, url := testLobby(t, &Config{Modes: map[string]Mode{"solo": {MinPlayers: 1, MaxPlayers: 1}}})
	gs := attach(t, srv, 2) // nobody calls Accept: the GameServer holds at most 2 players
	ctx := ctxTimeout(t, 30*time.Second)
	for i := range 3 {
		c := guest(t, ctx, url, "p")
		m, err := c.CreateRoom(ctx, RoomOptions{Mode: "solo"})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := c.Connect(ctx, m, nil)
		if i < 2 {
			if err != nil {
				t.Fatalf("player %d: %v", i, err)
			}
			waitFor(t, 5*time.Second, "the session waiting for Accept", func() bool { return len(gs.players) == i+1 })
			// Leave, so the next room fits the server's capacity.
			if err := c.Leave(ctx); err != nil {
				t.Fatal(err)
			}
			_ = nc.Close()
			continue
		}
		if err == nil {
			select {
			case <-nc.Done():
			case <-ctx.Done():
				t.Fatal("third session stayed open with no Accept")
			}
		}
		if n := nextNotice(t, c, "left"); n.Reason != "released" || n.Room != m.Room {
			t.Fatalf("notice %+v, want the seat released", n)
		}
	}
	waitFor(t, 5*time.Second, "rooms gone", func() bool { return srv.Stats().Rooms == 0 })
}

// TestClipRefusal: the reference game server cuts a refusal's reason to
// what the lobby relays, never inside a character, so that the player
// hears of the refusal rather than the lobby answering too_large.
func TestClipRefusal(t *testing.T) {
	n := proto.MaxSignalErrorLen
	cases := []struct{ name, in, want string }{
		{"short", "resume token already used", "resume token already used"},
		{"at the limit", strings.Repeat("a", n), strings.Repeat("a", n)},
		{"over the limit", strings.Repeat("a", n+1), strings.Repeat("a", n)},
		{"a character across the limit", strings.Repeat("a", n-1) + "é", strings.Repeat("a", n-1)},
		{"invalid UTF-8, sent as U+FFFD, across the limit", strings.Repeat("a", n-2) + "\xff", strings.Repeat("a", n-2)},
		{"invalid UTF-8 within the limit", "bad \xff offer", "bad \uFFFD offer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := clip(c.in, n)
			if got != c.want {
				t.Fatalf("clip(%q) = %q, want %q", c.in, got, c.want)
			}
			msg := msgJSON(proto.TypeSignal, &proto.Signal{Room: "r", Player: "p", Signal: &netcode.Signal{Type: netcode.SignalRefused, Gen: 1, Error: got}})
			if _, err := proto.Decode(proto.FromServer, []byte(msg)); err != nil {
				t.Fatalf("the lobby refuses the clipped refusal: %v", err)
			}
		})
	}
}

// TestConnectedOnWelcome: a player whose Dial returned, which is when the
// welcome came, is already one of Stats' Connected. With a shared store the
// welcome comes through the node's inbox and the store's answer on another
// connection, in either order; Connected once lagged the welcome then.
func TestConnectedOnWelcome(t *testing.T) {
	srv, url := testLobby(t, &Config{MaxConnsPerIP: 64})
	ctx := ctxTimeout(t, 60*time.Second)
	const n = 40
	for i := range n {
		c := guest(t, ctx, url, fmt.Sprintf("p%d", i))
		if st := srv.Stats(); st.Connected != i+1 {
			t.Fatalf("after the welcome of player %d: Connected %d, want %d", i+1, st.Connected, i+1)
		}
		if i%2 == 1 {
			// A player that closes is no longer counted, once the lobby
			// has seen it go.
			_ = c.Close()
			waitFor(t, 5*time.Second, "the closed player to leave Connected", func() bool { return srv.Stats().Connected == i })
			c = guest(t, ctx, url, fmt.Sprintf("p%d", i))
			if st := srv.Stats(); st.Connected != i+1 {
				t.Fatalf("after player %d came back: Connected %d, want %d", i+1, st.Connected, i+1)
			}
		}
	}
}
