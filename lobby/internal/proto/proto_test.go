package proto

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tickwire/tickwire/netcode"
)

func env(typ, id string) Envelope { return Envelope{Type: typ, ID: id} }

func ptr[T any](v T) *T { return &v }

var sides = map[Side]string{FromPlayer: "FromPlayer", FromServer: "FromServer", ToPlayer: "ToPlayer", ToServer: "ToServer"}

func sideName(s Side) string {
	if n, ok := sides[s]; ok {
		return n
	}
	return fmt.Sprintf("Side(%d)", uint8(s))
}

// sample is one valid message of every type for every side: the decode
// table, the round trip and the fuzz corpus start from these.
type sample struct {
	side Side
	typ  string
	msg  any
}

func samples() []sample {
	offer := &netcode.Signal{Type: netcode.SignalOffer, SDP: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
	cand := &netcode.Signal{Type: netcode.SignalCandidate, Candidate: &netcode.ICECandidate{
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: ptr("0"), SDPMLineIndex: ptr(uint16(0)),
	}}
	// A session resumed on its second PeerConnection: the offer presents
	// the token, the answer carries the next one.
	resume := &netcode.Signal{Type: netcode.SignalOffer, SDP: "v=0\r\n", Gen: 1, Resume: "q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"}
	resumed := &netcode.Signal{Type: netcode.SignalAnswer, SDP: "v=0", Gen: 1, Resume: "Nx4Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz012345_-"}
	refused := &netcode.Signal{Type: netcode.SignalRefused, Gen: 2, Error: "resume token already used (1.2s ago)"}
	players := []Player{{ID: "g-a", Name: "Ann"}, {ID: "g-b"}}
	return []sample{
		{FromPlayer, TypeHello, &Hello{Envelope: env(TypeHello, "1"), V: Version, Token: "tok.sig"}},
		{FromPlayer, TypeQueue, &Queue{Envelope: env(TypeQueue, "2"), Mode: "duo", Region: "eu", Rating: 1500.5}},
		{FromPlayer, TypeRoomCreate, &RoomCreate{Envelope: env(TypeRoomCreate, "3"), Mode: "duo", Region: "eu", Name: "mine", Public: true, Max: 2}},
		{FromPlayer, TypeRoomJoin, &RoomJoin{Envelope: env(TypeRoomJoin, "4"), Code: "ABCDEF"}},
		{FromPlayer, TypeRooms, &Rooms{Envelope: env(TypeRooms, "5"), Mode: "duo"}},
		{FromPlayer, TypePartyNew, &Envelope{Type: TypePartyNew, ID: "6"}},
		{FromPlayer, TypePartyJoin, &PartyJoin{Envelope: env(TypePartyJoin, "7"), Code: "PARTY1"}},
		{FromPlayer, TypeLeave, &Envelope{Type: TypeLeave, ID: "8"}},
		{FromPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Seat: "seat", Signal: offer}},
		{FromPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Seat: "seat", Signal: cand}},
		{FromPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Seat: "seat", Signal: resume}},

		{FromServer, TypeRegister, &Register{Envelope: env(TypeRegister, "1"), V: Version, Key: "k", Name: "gs", Region: "eu", Capacity: 64}},
		{FromServer, TypeRegister, &Register{Envelope: env(TypeRegister, "1"), V: Version, Capacity: 64, Resume: "q4Tz8mN2kP7vX3bR9wL5cY"}},
		{FromServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Signal: &netcode.Signal{Type: netcode.SignalAnswer, SDP: "v=0"}}},
		{FromServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Signal: resumed}},
		{FromServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Signal: refused}},
		{FromServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Signal: &netcode.Signal{Type: netcode.SignalRestart, Gen: 3}}},
		{FromServer, TypeClaim, &SeatRef{Envelope: env(TypeClaim, "2"), Room: "r-1", Player: "g-a", Seat: "seat"}},
		{FromServer, TypeRelease, &SeatRef{Envelope: env(TypeRelease, "3"), Room: "r-1", Player: "g-a", Reason: "kicked"}},
		{FromServer, TypeEnd, &End{Envelope: env(TypeEnd, "4"), Room: "r-1"}},

		{ToPlayer, TypeWelcome, &Welcome{Envelope: env(TypeWelcome, "1"), V: Version, Player: "g-a", Name: "Ann", Token: "t", Expires: 1800000000}},
		{ToPlayer, TypeOK, &Envelope{Type: TypeOK, ID: "2"}},
		{ToPlayer, TypeQueued, &Queued{Envelope: env(TypeQueued, "3"), Ticket: "t-1", Mode: "duo", Region: "eu"}},
		{ToPlayer, TypeMatch, &Match{Envelope: env(TypeMatch, "4"), Room: "r-1", Code: "ABCDEF", Mode: "duo", Server: "s-1", Seat: "seat",
			Players: players, ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}, {URLs: []string{"turn:x"}, Username: "u", Credential: "c"}}, Expires: 1800000000000}},
		{ToPlayer, TypeRoom, &RoomUpdate{Envelope: env(TypeRoom, ""), Room: "r-1", Players: players}},
		{ToPlayer, TypeParty, &PartyUpdate{Envelope: env(TypeParty, "5"), Code: "PARTY1", Leader: "g-a", Members: players}},
		{ToPlayer, TypeLeft, &Left{Envelope: env(TypeLeft, "6"), Room: "r-1", Reason: ReasonExpired}},
		{ToPlayer, TypeRooms, &RoomsList{Envelope: env(TypeRooms, "7"), Rooms: []RoomInfo{{Room: "r-1", Code: "ABCDEF", Mode: "duo", Players: 1, Max: 2}}}},
		{ToPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Signal: &netcode.Signal{Type: netcode.SignalCandidate}}},
		{ToPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Signal: resumed}},
		{ToPlayer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Signal: refused}},
		{ToPlayer, TypeError, &Error{Envelope: env(TypeError, "8"), Code: CodeBusy, Message: "already queued"}},

		{ToServer, TypeOK, &Envelope{Type: TypeOK, ID: "3"}},
		{ToServer, TypeRegistered, &Registered{Envelope: env(TypeRegistered, "1"), V: Version, Server: "s-1"}},
		{ToServer, TypeRegistered, &Registered{Envelope: env(TypeRegistered, "1"), V: Version, Server: "s-1", Capacity: 256, Resume: "tok", Resumed: true}},
		{ToServer, TypeSeat, &SeatRef{Envelope: env(TypeSeat, ""), Room: "r-1", Player: "g-a", Seat: "seat", Name: "Ann", Mode: "duo"}},
		{ToServer, TypeSeat, &SeatRef{Envelope: env(TypeSeat, ""), Room: "r-1", Player: "g-a", Seat: "seat", Mode: "duo", Claimed: true}},
		{ToServer, TypeUnseat, &SeatRef{Envelope: env(TypeUnseat, ""), Room: "r-1", Player: "g-a", Reason: ReasonLeave}},
		{ToServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Seat: "seat", Signal: offer}},
		{ToServer, TypeSignal, &Signal{Envelope: env(TypeSignal, ""), Room: "r-1", Player: "g-a", Seat: "seat", Signal: resume}},
		{ToServer, TypeEnd, &End{Envelope: env(TypeEnd, ""), Room: "r-1"}},
		{ToServer, TypeError, &Error{Envelope: env(TypeError, "2"), Code: CodeNotYourRoom}},
	}
}

// TestSamplesCoverEveryType keeps samples (and so the fuzz corpus) in step
// with newBody: every type each side knows has a sample.
func TestSamplesCoverEveryType(t *testing.T) {
	have := map[string]bool{}
	for _, s := range samples() {
		have[sideName(s.side)+"/"+s.typ] = true
	}
	all := []string{TypeHello, TypeQueue, TypeRoomCreate, TypeRoomJoin, TypeRooms, TypePartyNew, TypePartyJoin, TypeLeave,
		TypeSignal, TypeRegister, TypeClaim, TypeRelease, TypeEnd, TypeWelcome, TypeRegistered, TypeOK, TypeQueued, TypeMatch,
		TypeRoom, TypeParty, TypeLeft, TypeError, TypeSeat, TypeUnseat}
	for side := range sides {
		for _, typ := range all {
			if newBody(side, typ) != nil && !have[sideName(side)+"/"+typ] {
				t.Errorf("no sample of %s on %s", typ, sideName(side))
			}
		}
	}
}

func TestDecodeValid(t *testing.T) {
	for _, s := range samples() {
		t.Run(sideName(s.side)+"/"+s.typ, func(t *testing.T) {
			b, err := json.Marshal(s.msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(s.side, b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Fatalf("Decode(%s)\n got %#v\nwant %#v", b, got, s.msg)
			}
		})
	}
	// Hand-written JSON, as a browser would send it: field order, extra
	// fields and the limits themselves are fine.
	hand := []struct {
		side Side
		in   string
		want any
	}{
		{FromPlayer, `{"token":"t","v":1,"type":"hello","id":"h"}`, &Hello{Envelope: env(TypeHello, "h"), V: 1, Token: "t"}},
		{FromPlayer, `{"type":"leave","extra":{"ignored":[1,2]}}`, &Envelope{Type: TypeLeave}},
		{FromPlayer, `{"type":"queue","mode":"` + strings.Repeat("m", MaxNameLen) + `","id":"` + strings.Repeat("i", MaxIDLen) + `"}`,
			&Queue{Envelope: env(TypeQueue, strings.Repeat("i", MaxIDLen)), Mode: strings.Repeat("m", MaxNameLen)}},
		{FromPlayer, `{"type":"queue","mode":"duo","rating":-1e9}`, &Queue{Envelope: env(TypeQueue, ""), Mode: "duo", Rating: -1e9}},
		{FromPlayer, `{"type":"signal","room":"r","seat":"s","signal":{"type":"answer","sdp":"` + strings.Repeat("a", MaxSDPSize) + `"}}`,
			&Signal{Envelope: env(TypeSignal, ""), Room: "r", Seat: "s", Signal: &netcode.Signal{Type: netcode.SignalAnswer, SDP: strings.Repeat("a", MaxSDPSize)}}},
		{FromPlayer, `{"type":"signal","room":"r","signal":{"type":"candidate","candidate":null}}`,
			&Signal{Envelope: env(TypeSignal, ""), Room: "r", Signal: &netcode.Signal{Type: netcode.SignalCandidate}}},
		{FromPlayer, `{"type":"signal","room":"r","seat":"s","signal":{"gen":4294967295,"resume":"` + strings.Repeat("t", MaxResumeLen) + `","sdp":"x","type":"offer"}}`,
			&Signal{Envelope: env(TypeSignal, ""), Room: "r", Seat: "s", Signal: &netcode.Signal{Type: netcode.SignalOffer, SDP: "x", Gen: 1<<32 - 1, Resume: strings.Repeat("t", MaxResumeLen)}}},
		{FromPlayer, `{"type":"signal","room":"r","seat":"s","signal":{"type":"candidate","gen":2,"resume":"","error":""}}`,
			&Signal{Envelope: env(TypeSignal, ""), Room: "r", Seat: "s", Signal: &netcode.Signal{Type: netcode.SignalCandidate, Gen: 2}}},
		{FromServer, `{"type":"signal","room":"r","player":"p","signal":{"type":"refused","error":"` + strings.Repeat("e", MaxSignalErrorLen) + `"}}`,
			&Signal{Envelope: env(TypeSignal, ""), Room: "r", Player: "p", Signal: &netcode.Signal{Type: netcode.SignalRefused, Error: strings.Repeat("e", MaxSignalErrorLen)}}},
		{FromServer, `{"type":"register","v":1,"capacity":1048576}`, &Register{Envelope: env(TypeRegister, ""), V: 1, Capacity: 1 << 20}},
		{ToPlayer, `{"type":"error","id":"x","code":"whatever_new_code"}`, &Error{Envelope: env(TypeError, "x"), Code: "whatever_new_code"}},
	}
	for i, h := range hand {
		got, err := Decode(h.side, []byte(h.in))
		if err != nil {
			t.Errorf("hand %d: Decode(%s, %.80s): %v", i, sideName(h.side), h.in, err)
			continue
		}
		if !reflect.DeepEqual(got, h.want) {
			t.Errorf("hand %d: Decode(%s, %.80s)\n got %#v\nwant %#v", i, sideName(h.side), h.in, got, h.want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	sig := func(s string) string {
		return `{"type":"signal","id":"s","room":"r","seat":"t","signal":` + s + `}`
	}
	cases := []struct {
		name string
		side Side
		in   string
		code string
		id   string // the id the error must echo
	}{
		// Not a message at all.
		{"empty", FromPlayer, ``, CodeMalformed, ""},
		{"not json", FromPlayer, `hello`, CodeMalformed, ""},
		{"truncated", FromPlayer, `{"type":"hello","v":1,`, CodeMalformed, ""},
		{"trailing garbage", FromPlayer, `{"type":"leave"} {"type":"leave"}`, CodeMalformed, ""},
		{"array", FromPlayer, `[{"type":"leave"}]`, CodeMalformed, ""},
		{"string", FromPlayer, `"leave"`, CodeMalformed, ""},
		{"number", FromServer, `42`, CodeMalformed, ""},
		{"null", FromPlayer, `null`, CodeMalformed, ""},
		{"binary junk", FromServer, "\x00\xff\xfe{", CodeMalformed, ""},
		{"type not a string", FromPlayer, `{"type":7,"id":"a"}`, CodeMalformed, ""},
		{"id not a string", FromPlayer, `{"type":"leave","id":7}`, CodeMalformed, ""},
		{"missing type", FromPlayer, `{"id":"a","mode":"duo"}`, CodeMalformed, "a"},
		{"empty type", ToPlayer, `{"type":"","id":"a"}`, CodeMalformed, "a"},
		{"field of wrong type", FromPlayer, `{"type":"hello","id":"h","v":"1","token":"t"}`, CodeMalformed, "h"},
		{"signal not an object", FromPlayer, sig(`"offer"`), CodeMalformed, "s"},
		{"sdpMLineIndex overflow", FromPlayer, sig(`{"type":"candidate","candidate":{"candidate":"c","sdpMLineIndex":70000}}`), CodeMalformed, "s"},
		{"gen negative", FromPlayer, sig(`{"type":"offer","sdp":"x","gen":-1}`), CodeMalformed, "s"},
		{"gen over 32 bits", FromPlayer, sig(`{"type":"offer","sdp":"x","gen":4294967296}`), CodeMalformed, "s"},
		{"gen not a number", FromPlayer, sig(`{"type":"offer","sdp":"x","gen":"1"}`), CodeMalformed, "s"},
		{"resume not a string", FromPlayer, sig(`{"type":"offer","sdp":"x","resume":7}`), CodeMalformed, "s"},
		{"error not a string", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"refused","error":{}}}`, CodeMalformed, "s"},
		{"max not an integer", FromPlayer, `{"type":"room.create","id":"c","mode":"duo","max":1.5}`, CodeMalformed, "c"},
		{"rating overflows float64", FromPlayer, `{"type":"queue","id":"q","mode":"duo","rating":1e400}`, CodeMalformed, "q"},

		// Types.
		{"unknown type", FromPlayer, `{"type":"dance","id":"d"}`, CodeUnknownType, "d"},
		{"server type from player", FromPlayer, `{"type":"register","id":"r","v":1,"capacity":1}`, CodeUnknownType, "r"},
		{"claim from player", FromPlayer, `{"type":"claim","id":"c","room":"r","player":"p"}`, CodeUnknownType, "c"},
		{"player type from server", FromServer, `{"type":"hello","id":"h","v":1,"token":"t"}`, CodeUnknownType, "h"},
		{"reply type from player", FromPlayer, `{"type":"welcome","id":"w"}`, CodeUnknownType, "w"},
		{"request type to player", ToPlayer, `{"type":"queue","mode":"duo"}`, CodeUnknownType, ""},
		{"type case matters", FromPlayer, `{"type":"HELLO","v":1,"token":"t"}`, CodeUnknownType, ""},

		// Limits of PROTOCOL.md.
		{"id too long", FromPlayer, `{"type":"leave","id":"` + long(MaxIDLen+1) + `"}`, CodeBadRequest, ""},
		{"hello without token", FromPlayer, `{"type":"hello","id":"h","v":1}`, CodeBadRequest, "h"},
		{"token too long", FromPlayer, `{"type":"hello","id":"h","v":1,"token":"` + long(MaxTokenLen+1) + `"}`, CodeBadRequest, "h"},
		{"queue without mode", FromPlayer, `{"type":"queue","id":"q"}`, CodeBadRequest, "q"},
		{"mode too long", FromPlayer, `{"type":"queue","id":"q","mode":"` + long(MaxNameLen+1) + `"}`, CodeBadRequest, "q"},
		{"region too long", FromPlayer, `{"type":"queue","id":"q","mode":"duo","region":"` + long(MaxNameLen+1) + `"}`, CodeBadRequest, "q"},
		{"rating too high", FromPlayer, `{"type":"queue","id":"q","mode":"duo","rating":1e10}`, CodeBadRequest, "q"},
		{"rating too low", FromPlayer, `{"type":"queue","id":"q","mode":"duo","rating":-1e10}`, CodeBadRequest, "q"},
		{"room.create without mode", FromPlayer, `{"type":"room.create","id":"c"}`, CodeBadRequest, "c"},
		{"room.create negative max", FromPlayer, `{"type":"room.create","id":"c","mode":"duo","max":-1}`, CodeBadRequest, "c"},
		{"room name too long", FromPlayer, `{"type":"room.create","id":"c","mode":"duo","name":"` + long(MaxNameLen+1) + `"}`, CodeBadRequest, "c"},
		{"room.join without code", FromPlayer, `{"type":"room.join","id":"j"}`, CodeBadRequest, "j"},
		{"join code too long", FromPlayer, `{"type":"room.join","id":"j","code":"` + long(MaxIDLen+1) + `"}`, CodeBadRequest, "j"},
		{"rooms mode too long", FromPlayer, `{"type":"rooms","id":"l","mode":"` + long(MaxNameLen+1) + `"}`, CodeBadRequest, "l"},
		{"party.join without code", FromPlayer, `{"type":"party.join","id":"p"}`, CodeBadRequest, "p"},
		{"signal without room", FromPlayer, `{"type":"signal","id":"s","signal":{"type":"offer","sdp":"x"}}`, CodeBadRequest, "s"},
		{"signal without signal", FromPlayer, `{"type":"signal","id":"s","room":"r"}`, CodeBadRequest, "s"},
		{"signal of unknown type", FromPlayer, sig(`{"type":"pranswer","sdp":"x"}`), CodeBadRequest, "s"},
		{"offer without sdp", FromPlayer, sig(`{"type":"offer"}`), CodeBadRequest, "s"},
		{"resume offer without sdp", FromPlayer, sig(`{"type":"offer","gen":1,"resume":"t"}`), CodeBadRequest, "s"},
		{"refused without error", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"refused","gen":1}}`, CodeBadRequest, "s"},
		{"refused with an empty error", ToPlayer, `{"type":"signal","id":"s","room":"r","signal":{"type":"refused","error":""}}`, CodeBadRequest, "s"},
		{"resume on a candidate", FromPlayer, sig(`{"type":"candidate","resume":"t"}`), CodeBadRequest, "s"},
		{"resume on a refusal", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"refused","error":"no","resume":"t"}}`, CodeBadRequest, "s"},
		{"resume on a restart", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"restart","resume":"t"}}`, CodeBadRequest, "s"},
		{"error on an offer", FromPlayer, sig(`{"type":"offer","sdp":"x","error":"no"}`), CodeBadRequest, "s"},
		{"error on an answer", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"answer","sdp":"x","error":"no"}}`, CodeBadRequest, "s"},
		{"error on a candidate", FromPlayer, sig(`{"type":"candidate","error":"no"}`), CodeBadRequest, "s"},
		{"error on a restart", ToPlayer, `{"type":"signal","id":"s","room":"r","signal":{"type":"restart","error":"no"}}`, CodeBadRequest, "s"},
		{"code on an offer", FromPlayer, sig(`{"type":"offer","sdp":"x","code":2}`), CodeBadRequest, "s"},
		{"code out of range", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"refused","error":"no","code":70000}}`, CodeMalformed, "s"},
		{"seat too long", FromPlayer, `{"type":"signal","id":"s","room":"r","seat":"` + long(MaxIDLen+1) + `","signal":{"type":"offer","sdp":"x"}}`, CodeBadRequest, "s"},
		{"register capacity 0", FromServer, `{"type":"register","id":"r","v":1}`, CodeBadRequest, "r"},
		{"register capacity too large", FromServer, `{"type":"register","id":"r","v":1,"capacity":1048577}`, CodeBadRequest, "r"},
		{"register key too long", FromServer, `{"type":"register","id":"r","v":1,"capacity":1,"key":"` + long(MaxTokenLen+1) + `"}`, CodeBadRequest, "r"},
		{"register name too long", FromServer, `{"type":"register","id":"r","v":1,"capacity":1,"name":"` + long(MaxNameLen+1) + `"}`, CodeBadRequest, "r"},
		{"register resume token too long", FromServer, `{"type":"register","id":"r","v":1,"capacity":1,"resume":"` + long(MaxIDLen+1) + `"}`, CodeBadRequest, "r"},
		{"claim without player", FromServer, `{"type":"claim","id":"c","room":"r","seat":"s"}`, CodeBadRequest, "c"},
		{"release without room", FromServer, `{"type":"release","id":"c","player":"p"}`, CodeBadRequest, "c"},
		{"end without room", FromServer, `{"type":"end","id":"e"}`, CodeBadRequest, "e"},
		{"server signal player too long", FromServer, `{"type":"signal","id":"s","room":"r","player":"` + long(MaxIDLen+1) + `","signal":{"type":"answer","sdp":"x"}}`, CodeBadRequest, "s"},

		// Versions, checked before any other field.
		{"hello of another version", FromPlayer, `{"type":"hello","id":"h","v":2,"token":"t"}`, CodeVersion, "h"},
		{"hello without version", FromPlayer, `{"type":"hello","id":"h","token":"t"}`, CodeVersion, "h"},
		{"later hello without token", FromPlayer, `{"type":"hello","id":"h","v":2}`, CodeVersion, "h"},
		{"register of another version", FromServer, `{"type":"register","id":"r","v":0,"capacity":1}`, CodeVersion, "r"},
		{"later register without capacity", FromServer, `{"type":"register","id":"r","v":3}`, CodeVersion, "r"},

		// Oversized signaling is too_large, not bad_request.
		{"sdp too large", FromPlayer, sig(`{"type":"offer","sdp":"` + long(MaxSDPSize+1) + `"}`), CodeTooLarge, "s"},
		{"server sdp too large", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"answer","sdp":"` + long(MaxSDPSize+1) + `"}}`, CodeTooLarge, "s"},
		{"candidate too large", FromPlayer, sig(`{"type":"candidate","candidate":{"candidate":"` + long(MaxCandidateSize+1) + `"}}`), CodeTooLarge, "s"},
		{"usernameFragment too large", FromPlayer, sig(`{"type":"candidate","candidate":{"candidate":"c","usernameFragment":"` + long(MaxNameLen+1) + `"}}`), CodeTooLarge, "s"},
		{"resume too large", FromPlayer, sig(`{"type":"offer","sdp":"x","gen":1,"resume":"` + long(MaxResumeLen+1) + `"}`), CodeTooLarge, "s"},
		{"answer's resume too large", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"answer","sdp":"x","resume":"` + long(MaxResumeLen+1) + `"}}`, CodeTooLarge, "s"},
		{"refusal's error too large", FromServer, `{"type":"signal","id":"s","room":"r","player":"p","signal":{"type":"refused","error":"` + long(MaxSignalErrorLen+1) + `"}}`, CodeTooLarge, "s"},
		{"sdpMid too large", FromPlayer, sig(`{"type":"candidate","candidate":{"candidate":"c","sdpMid":"` + long(MaxIDLen+1) + `"}}`), CodeTooLarge, "s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg, err := Decode(c.side, []byte(c.in))
			if err == nil {
				t.Fatalf("Decode(%s, %.100s) = %#v, want error %s", sideName(c.side), c.in, msg, c.code)
			}
			if msg != nil {
				t.Errorf("Decode returned a message (%T) with its error", msg)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			if !errors.Is(err, ErrProto) {
				t.Errorf("error %v does not wrap ErrProto", err)
			}
			if de.Code != c.code || de.ID != c.id {
				t.Errorf("Decode(%s, %.100s): code %q id %q (%s), want code %q id %q", sideName(c.side), c.in, de.Code, de.ID, de.Msg, c.code, c.id)
			}
		})
	}
}

// TestEncodeDecodeRoundTrip: what Encode writes, Decode reads back as the
// same message, on the side it travels.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(sideName(s.side)+"/"+s.typ, func(t *testing.T) {
			// Encode sets the type, so a message built without one still travels.
			msg := reflect.New(reflect.TypeOf(s.msg).Elem())
			msg.Elem().Set(reflect.ValueOf(s.msg).Elem())
			Env(msg.Interface()).Type = ""
			b, err := Encode(s.typ, msg.Interface())
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(s.side, b)
			if err != nil {
				t.Fatalf("Decode(Encode) %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Fatalf("round trip of %s\n got %#v\nwant %#v", b, got, s.msg)
			}
		})
	}
	if Env(struct{}{}) != nil || Env(&struct{ X int }{}) != nil {
		t.Error("Env of a non-message is not nil")
	}
}

var decodeCodes = map[string]bool{CodeMalformed: true, CodeBadRequest: true, CodeUnknownType: true, CodeTooLarge: true, CodeVersion: true}

// FuzzDecode: Decode never panics; it returns either a message of the type
// its envelope names, within the id limit, or a *DecodeError with one of the
// decoding codes that echoes the id when the envelope was readable; and a
// decoded message re-encodes to one that decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range samples() {
		b, err := json.Marshal(s.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(s.side), b)
	}
	for _, junk := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"type":null}`, `{"type":"dance","id":"d"}`, `{"type":"hello","v":"1"}`,
		`{"type":"signal","room":"r","signal":{"type":"candidate","candidate":{"sdpMLineIndex":65535,"sdpMid":null}}}`,
		`{"type":"queue","mode":"duo","rating":1e9,"Type":"rooms"}`, `{"TYPE":"leave","ID":"x"}`,
		`{"type":"match","ice_servers":[],"players":null}`, "{\"type\":\"hello\",\"token\":\"\xff\xfe\",\"v\":1}",
		`{"type":"hello","token":"\ud800","v":1}`, `{"type":"leave"}x`, "\x00", `{"type":"room.create","mode":"m","max":-0}`,
		`{"type":"signal","room":"r","player":"p","signal":{"type":"refused","gen":1,"error":"\ud800\u00e9"}}`,
		`{"type":"signal","room":"r","seat":"s","signal":{"type":"offer","sdp":"x","gen":4294967295,"resume":"\u00ff"}}`,
	} {
		for side := range sides {
			f.Add(uint8(side), []byte(junk))
		}
	}
	f.Fuzz(func(t *testing.T, s uint8, b []byte) {
		side := Side(s % 4)
		msg, err := Decode(side, b)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, ErrProto) {
				t.Fatalf("error %v (%T) is not a *DecodeError wrapping ErrProto", err, err)
			}
			if msg != nil {
				t.Fatalf("a message (%T) with error %v", msg, err)
			}
			if !decodeCodes[de.Code] {
				t.Fatalf("unknown decode error code %q", de.Code)
			}
			var e Envelope
			if json.Unmarshal(b, &e) == nil && len(e.ID) <= MaxIDLen && utf8.ValidString(e.ID) && de.ID != e.ID {
				t.Fatalf("error echoes id %q, envelope has %q", de.ID, e.ID)
			}
			if len(de.ID) > MaxIDLen {
				t.Fatalf("error echoes an id of %d bytes", len(de.ID))
			}
			return
		}
		e := Env(msg)
		if e == nil {
			t.Fatalf("decoded a %T, which has no envelope", msg)
		}
		if want := newBody(side, e.Type); want == nil || reflect.TypeOf(want) != reflect.TypeOf(msg) {
			t.Fatalf("type %q on %s decoded as %T, want %T", e.Type, sideName(side), msg, want)
		}
		if len(e.ID) > MaxIDLen {
			t.Fatalf("accepted an id of %d bytes", len(e.ID))
		}
		b2, err := Encode(e.Type, msg)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", msg, err)
		}
		msg2, err := Decode(side, b2)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n in: %q\nout: %q", err, b, b2)
		}
		if !sameValue(reflect.ValueOf(msg), reflect.ValueOf(msg2)) {
			t.Fatalf("round trip changed the message\n in: %q\nout: %q\n got %#v\nwant %#v", b, b2, msg2, msg)
		}
	})
}

// sameValue is reflect.DeepEqual, except that a nil and an empty slice are
// the same value: JSON cannot tell them apart under omitempty ("ice_servers":
// [] and no ice_servers both mean none).
func sameValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	}
	panic("sameValue: unexpected kind " + a.Kind().String())
}
