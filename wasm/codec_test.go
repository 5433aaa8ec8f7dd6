//go:build !js

package main

// Native tests of the bridge's pure-Go half: the msgpack payload codec and
// the JSON values tickwire.js parses. convert_test.go covers the syscall/js
// half under GOOS=js (node).

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
	"github.com/vmihailenco/msgpack/v5"
)

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeNormalizes decodes what Go game servers send (msgpack.Marshal
// of their own types) into plain values.
func TestDecodeNormalizes(t *testing.T) {
	type inner struct {
		A int8   `msgpack:"a"`
		B string `msgpack:"b"`
	}
	type asArray struct {
		_msgpack struct{} `msgpack:",as_array"`
		ID       uint16
		X, Y     int16
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC)
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"fixint", int8(5), int64(5)},
		{"negative fixint", -3, int64(-3)},
		{"int16", int16(-300), int64(-300)},
		{"int32", int32(1 << 20), int64(1 << 20)},
		{"int64", int64(-1 << 40), int64(-1 << 40)},
		{"uint8", uint8(200), int64(200)},
		{"uint16", uint16(60000), int64(60000)},
		{"uint32", uint32(1 << 31), int64(1 << 31)},
		{"uint64", uint64(1 << 62), int64(1 << 62)},
		{"uint64 beyond int64", uint64(1 << 63), uint64(1 << 63)},
		{"float32", float32(1.5), float64(1.5)},
		{"float64", 0.1, 0.1},
		{"string", "héllo", "héllo"},
		{"bin", []byte{0, 1, 255}, []byte{0, 1, 255}},
		{"empty bin", []byte{}, []byte{}},
		{"array", []any{1, "a", nil}, []any{int64(1), "a", nil}},
		{"struct as map", inner{A: -1, B: "x"}, map[string]any{"a": int64(-1), "b": "x"}},
		{"struct as_array", asArray{ID: 7, X: -100, Y: 100}, []any{int64(7), int64(-100), int64(100)}},
		{"dots snapshot", dots.Snapshot{Tick: 70000, Players: []dots.PlayerState{{ID: 1, X: 2, Y: -3}}},
			map[string]any{"tick": int64(70000), "players": []any{[]any{int64(1), int64(2), int64(-3)}}}},
		{"int keys", map[int]string{1: "a", -2: "b"}, map[string]any{"1": "a", "-2": "b"}},
		{"nested maps", map[string]any{"m": map[uint8]bool{3: true}}, map[string]any{"m": map[string]any{"3": true}}},
		{"bool and float keys", map[any]int{true: 1, 1.5: 2}, map[string]any{"true": int64(1), "1.5": int64(2)}},
		{"empty map", map[string]int{}, map[string]any{}},
		{"timestamp", ts, ts},
		{"timestamp 32", time.Unix(1<<31, 0), time.Unix(1<<31, 0)},
		{"timestamp 96", time.Unix(-1, 5), time.Unix(-1, 5)},
	}
	dec := newDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dec.decode(mustMarshal(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if gt, ok := got.(time.Time); ok {
				if !gt.Equal(tt.want.(time.Time)) {
					t.Errorf("got %v, want %v", gt, tt.want)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	deep := []byte{}
	for range maxDepth + 2 {
		deep = append(deep, 0x91) // fixarray of one
	}
	deep = append(deep, 0xc0)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"reserved code", []byte{0xc1}, "unknown code"},
		{"trailing bytes", []byte{0x01, 0x02}, "1 bytes after the value"},
		{"truncated string", []byte{0xa5, 'a'}, "5 bytes announced, 1 left"},
		{"unknown ext", []byte{0xd4, 0x42, 0x00}, "unknown ext type 66"},
		{"bad timestamp", []byte{0xd5, 0xff, 0x00, 0x00}, "timestamp of 2 bytes"},
		{"ext32 longer than the payload", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "4294967295 bytes announced, 1 left"},
		{"too deep", deep, "nested deeper"},
		{"array32 longer than the payload", []byte{0xdd, 0x87, 0x30, 0x30, 0x30, 0x01}, "array of 2268082224 elements in 1 bytes"},
		{"map16 longer than the payload", []byte{0xde, 0x00, 0x03, 0xa1, 'a', 0x01}, "map of 3 entries in 3 bytes"},
		{"bin32 longer than the payload", []byte{0xc6, 0xe0, 0x1e, 0xa2, 0x9a, 0x3f, 0x01}, "3760104090 bytes announced, 2 left"},
		{"str8 longer than the payload", []byte{0xd9, 0x05, 'a'}, "5 bytes announced, 1 left"},
	}
	dec := newDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := dec.decode(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("decode(% x) = %#v, %v; want an error containing %q", tt.in, v, err, tt.want)
			}
		})
	}
	// The decoder is reusable after an error.
	if v, err := dec.decode([]byte{0x07}); err != nil || v != int64(7) {
		t.Errorf("after errors: %#v, %v", v, err)
	}
}

// TestEncodePayload encodes plain values as fromJS makes them, and checks
// what a Go game server decodes: integers into any integer field, the
// smallest encodings (an input must fit one datagram).
func TestEncodePayload(t *testing.T) {
	b, err := encodePayload(map[string]any{"dx": int64(1), "dy": int64(-1)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dots.DecodeMove(b)
	if err != nil || m != (dots.Move{DX: 1, DY: -1}) {
		t.Fatalf("DecodeMove = %+v, %v", m, err)
	}
	if len(b) != 9 {
		t.Errorf("{dx: 1, dy: -1} is %d bytes (% x), want 9", len(b), b)
	}

	tests := []struct {
		name string
		in   any
		want []byte
	}{
		{"nil", nil, []byte{0xc0}},
		{"true", true, []byte{0xc3}},
		{"small int", int64(5), []byte{0x05}},
		{"negative int", int64(-33), []byte{0xd0, 0xdf}},
		{"int16", int64(1000), []byte{0xcd, 0x03, 0xe8}},
		{"integral float", 3.0, []byte{0x03}},
		{"float", 3.5, []byte{0xcb, 0x40, 0x0c, 0, 0, 0, 0, 0, 0}},
		{"float64", 0.1, []byte{0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a}},
		{"string", "ab", []byte{0xa2, 'a', 'b'}},
		{"bytes", []byte{1, 2}, []byte{0xc4, 0x02, 1, 2}},
		{"array", []any{int64(1), nil}, []byte{0x92, 0x01, 0xc0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := encodePayload(tt.in)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("encodePayload(%#v) = % x, %v; want % x", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestPayloadRoundTrip: what the page sends comes back equal through a Go
// server that echoes it (decode into any, encode again).
func TestPayloadRoundTrip(t *testing.T) {
	in := map[string]any{
		"kind": "hello", "n": int64(42), "pi": 3.5, "neg": int64(-7), "big": int64(1 << 40), "ok": true, "nothing": nil,
		"list": []any{int64(1), "two", false}, "nested": map[string]any{"deep": map[string]any{"x": int64(1)}},
		"bin": []byte{0, 1, 254, 255}, "text": "héllo ✓",
	}
	b, err := encodePayload(in)
	if err != nil {
		t.Fatal(err)
	}
	var server any
	if err := msgpack.Unmarshal(b, &server); err != nil {
		t.Fatal(err)
	}
	echo := mustMarshal(t, server)
	got, err := newDecoder().decode(echo)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, in)
	}
}

func TestJSNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want any
	}{
		{0, int64(0)},
		{math.Copysign(0, -1), math.Copysign(0, -1)},
		{1, int64(1)},
		{-1, int64(-1)},
		{1.5, 1.5},
		{1 << 40, int64(1 << 40)},
		{maxSafeInt, int64(maxSafeInt)},
		{-maxSafeInt, int64(-maxSafeInt)},
		{maxSafeInt + 1, float64(maxSafeInt + 1)},
		{1e300, 1e300},
		{math.Inf(1), math.Inf(1)},
	}
	for _, tt := range tests {
		got := jsNumber(tt.in)
		if reflect.TypeOf(got) != reflect.TypeOf(tt.want) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("jsNumber(%v) = %#v, want %#v", tt.in, got, tt.want)
		}
		if f, ok := got.(float64); ok && f == 0 && !math.Signbit(f) {
			t.Errorf("jsNumber(%v) lost the sign of zero", tt.in)
		}
	}
	if f, ok := jsNumber(math.NaN()).(float64); !ok || !math.IsNaN(f) {
		t.Errorf("jsNumber(NaN) = %#v", jsNumber(math.NaN()))
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"k", "k"}, {nil, "null"}, {true, "true"}, {int8(-1), "-1"}, {uint64(1 << 63), "9223372036854775808"},
		{float32(1.5), "1.5"}, {2.0, "2"}, {1e21, "1e+21"}, {math.NaN(), "NaN"}, {math.Inf(-1), "-Infinity"},
		{[]byte("b"), "b"},
	}
	for _, tt := range tests {
		if got := keyString(tt.in); got != tt.want {
			t.Errorf("keyString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseCodec(t *testing.T) {
	for in, want := range map[string]codec{"": codecMsgpack, "msgpack": codecMsgpack, "raw": codecRaw} {
		if got, err := parseCodec(in); err != nil || got != want {
			t.Errorf("parseCodec(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseCodec("json"); err == nil {
		t.Error(`parseCodec("json") succeeded`)
	}
}

// TestMatchJSON: the JSON has the d.ts names, and parseMatch reads back
// what toMatchJSON wrote, also with fields the d.ts marks optional absent.
func TestMatchJSON(t *testing.T) {
	m := &lobby.Match{
		Room: "r-1", Code: "ABCDEF", Mode: "duel", Region: "eu", Server: "gs-1", Seat: "seat",
		Players:    []lobby.PlayerInfo{{ID: "g-a", Name: "ann"}, {ID: "g-b"}},
		ICEServers: []lobby.ICEServer{{URLs: []string{"turn:127.0.0.1:3478"}, Username: "u", Credential: "c"}, {URLs: []string{"stun:x"}}},
		Expires:    time.UnixMilli(1767225600123),
	}
	text, err := jsonText(toMatchJSON(m))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"room":"r-1","code":"ABCDEF","mode":"duel","region":"eu","server":"gs-1","seat":"seat",` +
		`"players":[{"id":"g-a","name":"ann"},{"id":"g-b"}],` +
		`"iceServers":[{"urls":["turn:127.0.0.1:3478"],"username":"u","credential":"c"},{"urls":["stun:x"]}],"expires":1767225600123}`
	if text != want {
		t.Errorf("match JSON\n got %s\nwant %s", text, want)
	}
	back, err := parseMatch(text)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Expires.Equal(m.Expires) {
		t.Errorf("expires %v, want %v", back.Expires, m.Expires)
	}
	back.Expires = m.Expires
	if !reflect.DeepEqual(back, m) {
		t.Errorf("parseMatch:\n got %+v\nwant %+v", back, m)
	}

	empty, _ := jsonText(toMatchJSON(&lobby.Match{Room: "r", Seat: "s", Expires: time.UnixMilli(0)}))
	if !strings.Contains(empty, `"players":[]`) || !strings.Contains(empty, `"iceServers":[]`) || strings.Contains(empty, "code") {
		t.Errorf("a match without players, ICE servers or code: %s", empty)
	}

	for _, bad := range []string{``, `null`, `[]`, `{"room":"r"}`, `{"seat":"s"}`, `{"room":1,"seat":"s"}`, `{"room":"r","seat":"s","iceServers":"x"}`} {
		if _, err := parseMatch(bad); !errors.Is(err, errBadArgument) {
			t.Errorf("parseMatch(%s) = %v, want a bad argument", bad, err)
		}
	}
}

func TestNoticeJSON(t *testing.T) {
	tests := []struct {
		in   lobby.Notice
		want string
	}{
		{lobby.Notice{Type: "queued"}, `{"type":"queued"}`},
		{lobby.Notice{Type: "left", Room: "r", Reason: "kicked"}, `{"type":"left","room":"r","reason":"kicked"}`},
		{lobby.Notice{Type: "room", Room: "r", Players: []lobby.PlayerInfo{{ID: "a"}}}, `{"type":"room","room":"r","players":[{"id":"a"}]}`},
		{lobby.Notice{Type: "party", Party: &lobby.Party{Code: "P", Leader: "a"}}, `{"type":"party","party":{"code":"P","leader":"a","members":[]}}`},
		{lobby.Notice{Type: "error", Err: &lobby.Error{Code: "busy", Message: "m"}}, `{"type":"error","error":{"code":"busy","message":"m"}}`},
	}
	for _, tt := range tests {
		if got, err := jsonText(toNoticeJSON(tt.in)); err != nil || got != tt.want {
			t.Errorf("notice %+v: %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestStatsAndChannelsJSON(t *testing.T) {
	text, err := jsonText(toStatsJSON(netcode.Stats{RTT: 1500 * time.Microsecond, Lost: 3, SnapshotsReceived: 97, Loss: 0.25}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatal(err)
	}
	// The d.ts Stats fields.
	for _, k := range []string{"rttMs", "loss", "snapshotsReceived", "snapshotsLost", "inputsSent", "eventsSent", "eventsReceived", "bytesIn", "bytesOut"} {
		if _, ok := got[k]; !ok {
			t.Errorf("stats JSON has no %s: %s", k, text)
		}
	}
	if got["rttMs"] != 1.5 || got["snapshotsLost"] != 3.0 || got["loss"] != 0.25 {
		t.Errorf("stats JSON %s", text)
	}

	zero := uint16(0)
	text, _ = jsonText(nonNil([]netcode.ChannelInfo{
		{Label: "snapshots", Protocol: "p", Ordered: false, MaxRetransmits: &zero},
		{Label: "events", Protocol: "p", Ordered: true},
	}))
	const want = `[{"label":"snapshots","protocol":"p","ordered":false,"maxRetransmits":0},{"label":"events","protocol":"p","ordered":true,"maxRetransmits":null}]`
	if text != want {
		t.Errorf("channels JSON\n got %s\nwant %s", text, want)
	}
	if text, _ := jsonText(nonNil([]netcode.ChannelInfo(nil))); text != "[]" {
		t.Errorf("no channels: %s", text)
	}
}

func TestCloseJSON(t *testing.T) {
	tests := []struct {
		err  error
		want closeJSON
	}{
		{nil, closeJSON{Reason: "closed", Code: "normal"}},
		{&netcode.CloseError{Code: netcode.CloseNormal, Reason: "client closed"}, closeJSON{Reason: "normal: client closed", Code: "normal"}},
		{&netcode.CloseError{Code: netcode.CloseShutdown, Remote: true}, closeJSON{Reason: "shutdown", Code: "shutdown", Remote: true}},
		{fmt.Errorf("wrapped: %w", &netcode.CloseError{Code: netcode.CloseConnectionLost, Reason: "ICE failed"}), closeJSON{Reason: "connection lost: ICE failed", Code: "connection lost"}},
		{errors.New("other"), closeJSON{Reason: "other", Code: "connection lost"}},
	}
	for _, tt := range tests {
		got := toCloseJSON(tt.err, netcode.Stats{SnapshotsReceived: 5})
		tt.want.Stats.SnapshotsReceived = 5
		if got != tt.want {
			t.Errorf("toCloseJSON(%v) = %+v, want %+v", tt.err, got, tt.want)
		}
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&lobby.Error{Code: lobby.CodeRoomNotFound}, "room_not_found"},
		{fmt.Errorf("x: %w", &lobby.Error{Code: lobby.CodeTokenExpired}), "token_expired"},
		{fmt.Errorf("%w: 5000 bytes", netcode.ErrTooLarge), "too_large"},
		{netcode.ErrCongested, "congested"},
		{netcode.ErrEventBufferFull, "event_buffer_full"},
		{&netcode.CloseError{Code: netcode.CloseNormal}, "closed"},
		{lobby.ErrClosed, "closed"},
		{errClosedHandle, "closed"},
		{fmt.Errorf("%w: opening the channels after 1s", errTimeout), "timeout"},
		{badArg("x"), "bad_argument"},
		{errTooDeep, "bad_argument"},
		{netcode.ErrInvalidConfig, "bad_argument"},
		{fmt.Errorf("%w: no answer", netcode.ErrSignaling), "signaling"},
		{lobby.ErrProtocol, "protocol"},
		{fmt.Errorf("%w: ICE failed", netcode.ErrConnectionLost), "connection_lost"},
		{&netcode.CloseError{Code: netcode.CloseConnectionLost, Err: netcode.ErrConnectionLost}, "closed"},
		{fmt.Errorf("%w: forged", netcode.ErrResumeRejected), "resume_rejected"},
		{netcode.ErrSlowReader, "slow_reader"},
		{&networkError{errors.New("lobby: dial ws://x: websocket closed: status 1006")}, "network"},
		{func() error { _, err := parseCodec("json"); return err }(), "bad_argument"},
		{errors.New("other"), ""},
	}
	for _, tt := range tests {
		if got := errorCode(tt.err); got != tt.want {
			t.Errorf("errorCode(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	var q queueOptions
	if err := parseOptions(`{"mode":"duel","rating":1500.5,"extra":1}`, "queue options", &q); err != nil || q != (queueOptions{Mode: "duel", Rating: 1500.5}) {
		t.Errorf("queue options: %+v, %v", q, err)
	}
	var p playOptions
	if err := parseOptions("", "play options", &p); err != nil || p != (playOptions{}) {
		t.Errorf("no play options: %+v, %v", p, err)
	}
	if err := parseOptions(`{"relayOnly":true,"codec":"raw","timeout":2500}`, "play options", &p); err != nil || p != (playOptions{Codec: "raw", RelayOnly: true, Timeout: 2500}) {
		t.Errorf("play options: %+v, %v", p, err)
	}
	var r roomOptions
	err := parseOptions(`{"mode":5}`, "room options", &r)
	if !errors.Is(err, errBadArgument) || !strings.Contains(err.Error(), "room options") {
		t.Errorf("a number for mode: %v", err)
	}
}

// FuzzPayloadDecode: whatever a server sends, decoding returns a plain
// value or an error, never panics, and a plain value encodes again.
func FuzzPayloadDecode(f *testing.F) {
	for _, v := range []any{nil, 1, "s", []byte{1}, map[string]any{"a": []any{1.5, true}}, map[int]any{1: nil}, dots.Snapshot{Players: []dots.PlayerState{{ID: 1}}}} {
		b, _ := msgpack.Marshal(v)
		f.Add(b)
	}
	dec := newDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := dec.decode(b)
		if err != nil {
			return
		}
		if _, err := encodePayload(v); err != nil {
			t.Errorf("decoded %#v from % x, which does not encode: %v", v, b, err)
		}
	})
}
