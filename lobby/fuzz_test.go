//go:build !js

package lobby

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pion/turn/v5"
	"github.com/tickwire/tickwire/internal/pionlog"
)

// The lobby's decoders of credentials and tokens: guest tokens as hello
// carries them (FuzzGuestToken), the body of POST /v1/guest
// (FuzzGuestEndpoint), the client's reading of its answer
// (FuzzGuestAnswer), and the TURN REST credentials that the embedded TURN
// server checks (FuzzTURNCredentials). The lobby protocol's messages are
// fuzzed in internal/proto.

// fuzzSecret signs the fuzzers' guest tokens: fixed, so that the seeds are
// the same tokens in the coordinator and in every fuzzing worker.
var fuzzSecret = []byte("fuzz-guest-secret-0123456789")

// signedClaims is a token with claims of our choosing under fuzzSecret:
// what only the lobby can make, malformed claims included.
func signedClaims(t testing.TB, g *Guests, claims any) string {
	t.Helper()
	payload, ok := claims.([]byte)
	if !ok {
		var err error
		if payload, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	body := b64.EncodeToString(payload)
	return body + "." + b64.EncodeToString(g.sign(body))
}

// FuzzGuestToken: whatever token a hello carries, Authenticate never
// panics, refuses with one of the token codes unless the token's signed
// part is one the lobby made, and a token it accepts is spent: a second
// use is refused as replayed.
func FuzzGuestToken(f *testing.F) {
	clock := newFakeClock()
	g, err := NewGuests(&GuestsConfig{Secret: fuzzSecret, TTL: time.Hour, Now: clock.Now, MaxUsed: 4096})
	if err != nil {
		f.Fatal(err)
	}
	other, err := NewGuests(&GuestsConfig{Secret: []byte("another-secret-0123456789"), Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour).Unix()
	issued := map[string]bool{} // the signed parts of the valid tokens below
	valid := func(player, name, nonce string) string {
		tok := signedClaims(f, g, tokenClaims{Player: player, Name: name, Exp: exp, Nonce: nonce})
		body, _, _ := strings.Cut(tok, ".")
		issued[body] = true
		return tok
	}
	good := valid("g-fuzzplayer", "Ann", "nonce-one")
	for _, tok := range []string{
		good,
		valid("g-other", "", "nonce-two"),
		valid("g-\u00e9\u2028", "\ud7ff", "nonce-three"),
		signedClaims(f, g, tokenClaims{Player: "g-old", Exp: clock.Now().Unix() - 1, Nonce: "nonce-old"}),
		signedClaims(f, g, tokenClaims{Player: "g-now", Exp: clock.Now().Unix(), Nonce: "nonce-now"}),
		signedClaims(f, g, tokenClaims{Player: "", Exp: exp, Nonce: "n"}),
		signedClaims(f, g, tokenClaims{Player: "p", Exp: exp}),
		signedClaims(f, g, []byte(`{"p":"p","e":1e30,"j":"n"}`)),
		signedClaims(f, g, []byte(`{"p":7}`)),
		signedClaims(f, g, []byte(`not json`)),
		signedClaims(f, other, tokenClaims{Player: "g-forged", Exp: exp, Nonce: "n"}),
		good[:len(good)-1], good + "A", good + ".", strings.Replace(good, ".", "..", 1),
		strings.ToUpper(good), "." + good, good[strings.Index(good, ".")+1:] + "." + good[:strings.Index(good, ".")],
		"", ".", "..", "a.b", "=.=", "\x00.\xff",
	} {
		f.Add(tok)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := g.Authenticate(ctx, tok)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) || !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("refusal %v (%T) is not an *Error matching ErrUnauthorized", err, err)
			}
			switch le.Code {
			case CodeTokenInvalid, CodeTokenExpired, CodeTokenReplayed:
			default:
				t.Fatalf("refusal with code %q", le.Code)
			}
			return
		}
		body, _, _ := strings.Cut(tok, ".")
		if !issued[body] {
			t.Fatalf("token %q accepted as %+v, but the lobby never signed its claims", tok, id)
		}
		if id.Player == "" {
			t.Fatalf("token %q accepted with no player", tok)
		}
		_, err = g.Authenticate(ctx, tok)
		var le *Error
		if !errors.As(err, &le) || le.Code != CodeTokenReplayed {
			t.Fatalf("token %q used twice: %v", tok, err)
		}
	})
}

// FuzzGuestEndpoint: whatever body a POST /v1/guest carries, the lobby
// answers 400 or a token, never anything else; the token opens exactly
// one connection as the player it names, under a display name that is
// valid UTF-8, printable, 1..32 bytes, and the asked-for name itself
// when that already was one.
func FuzzGuestEndpoint(f *testing.F) {
	g, err := NewGuests(&GuestsConfig{Secret: fuzzSecret, MaxUsed: 4096})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := NewServer(&Config{Auth: g, IPMessageRate: 1e9, IPMessageBurst: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	for _, b := range []string{
		`{"name":"ada"}`, ``, `{}`, `{"name":""}`, `{"name":"   "}`, `{"name":" \u0000bob\u007f\t"}`,
		`{"name":"` + strings.Repeat("x", 40) + `"}`, `{"name":"` + strings.Repeat("\u00e9", 40) + `"}`,
		`{"name":"` + strings.Repeat("\U0001F600", 9) + `"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\xfe\"}",
		`{"name":1}`, `[]`, `null`, `"ada"`, `{"name":"a"} trailing`, `{"name":"a"`, `{"NAME":"caps"}`,
		`{"name":"` + strings.Repeat("y", 5000) + `"}`, "\x00",
	} {
		f.Add([]byte(b))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/guest", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var asked struct {
			Name string `json:"name"`
		}
		decodeErr := json.NewDecoder(bytes.NewReader(body)).Decode(&asked)
		if decodeErr == io.EOF {
			decodeErr = nil
		}
		switch rec.Code {
		case http.StatusBadRequest:
			if decodeErr == nil && len(body) <= 4<<10 {
				t.Fatalf("body %q refused", body)
			}
			return
		case http.StatusOK:
			if decodeErr != nil {
				t.Fatalf("body %q (%v) accepted", body, decodeErr)
			}
		default:
			t.Fatalf("body %q: status %d: %s", body, rec.Code, rec.Body)
		}
		var resp GuestTokenResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer %q: %v", rec.Body, err)
		}
		name := resp.Name
		if name == "" || len(name) > 32 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("asked for %q, named %q", asked.Name, name)
		}
		plain := asked.Name != "" && len(asked.Name) <= 32 && asked.Name == strings.TrimSpace(asked.Name) &&
			!strings.ContainsFunc(asked.Name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError })
		if plain && name != asked.Name {
			t.Fatalf("asked for %q, named %q", asked.Name, name)
		}
		id, err := g.Authenticate(ctx, resp.Token)
		if err != nil || id.Player != resp.Player || id.Name != name {
			t.Fatalf("token of %+v authenticates as %+v, %v", resp, id, err)
		}
		if _, err := g.Authenticate(ctx, resp.Token); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("token of %+v used twice: %v", resp, err)
		}
	})
}

// FuzzGuestAnswer: whatever a lobby (or something in its place) answers
// to POST /v1/guest, GuestToken returns a token or an error: for a 200
// answer that is not the documented JSON, one wrapping ErrProtocol, that
// quotes at most a bounded part of the answer.
func FuzzGuestAnswer(f *testing.F) {
	for _, b := range []string{`{"token":"abc.def","player":"g-a","name":"a","expires":1}`, `{"token":""}`, `{}`, ``, `null`,
		`{"token":7}`, "<html>502</html>", `{"token":"` + strings.Repeat("t", 5000) + `"}`, "\xff"} {
		f.Add(200, []byte(b))
		f.Add(502, []byte(b))
	}
	f.Fuzz(func(t *testing.T, status int, b []byte) {
		tok, err := guestAnswer(status, strconv.Itoa(status)+" status", b)
		if status != 200 {
			if err == nil {
				t.Fatalf("status %d gave token %q", status, tok)
			}
			return
		}
		var g struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(b, &g) == nil && g.Token != "" {
			if err != nil || tok != g.Token {
				t.Fatalf("answer %q: token %q, %v; want %q", b, tok, err, g.Token)
			}
			return
		}
		if err == nil || !errors.Is(err, ErrProtocol) || tok != "" {
			t.Fatalf("answer %q: token %q, %v; want ErrProtocol", b, tok, err)
		}
		if len(err.Error()) > 1024 {
			t.Fatalf("error of %d bytes for an answer of %d", len(err.Error()), len(b))
		}
	})
}

// FuzzTURNCredentials: whatever username a client presents to the embedded
// TURN server (NewTURNServer's REST handler), it is refused unless its
// timestamp is in the future, and the key it gets is the one only a holder
// of the lobby's secret can compute; and the credentials the lobby hands
// any player are accepted until their expiry with the password it gave.
func FuzzTURNCredentials(f *testing.F) {
	const secret, realm = "fuzz-turn-secret", "tickwire"
	handler := turn.LongTermTURNRESTAuthHandler(secret, pionlog.Factory{Log: slog.New(slog.DiscardHandler)}.NewLogger("turn"))
	future := time.Now().Add(24 * 365 * time.Hour)
	good, _ := TURNCredentials(secret, "g-fuzz", future)
	for _, u := range []string{good, "1:g-old", "", ":", "abc:def", "99999999999999999999:x", "-1:x", "+" + good,
		strconv.FormatInt(future.Unix(), 10), good + ":extra", " " + good, "0x7fffffff:x", "1e12:x", "\xff:\x00"} {
		f.Add(u, "g-fuzz")
	}
	f.Add(good, "a:b")
	f.Add(good, strings.Repeat("p", 64))
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
	password := func(username string) string {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(username))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	f.Fuzz(func(t *testing.T, username, player string) {
		now := time.Now()
		if _, key, ok := handler(&turn.RequestAttributes{Username: username, Realm: realm, SrcAddr: src}); ok {
			ts, _, _ := strings.Cut(username, ":")
			if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n < now.Unix() {
				t.Fatalf("username %q accepted: its expiry %q is not a time to come", username, ts)
			}
			if want := turn.GenerateAuthKey(username, realm, password(username)); !bytes.Equal(key, want) {
				t.Fatalf("username %q: key %x, want the secret's %x", username, key, want)
			}
		}
		if player == "" || len(player) > 64 {
			return // the lobby's identities
		}
		user, pass := TURNCredentials(secret, player, now.Add(time.Hour))
		_, key, ok := handler(&turn.RequestAttributes{Username: user, Realm: realm, SrcAddr: src})
		if !ok || !bytes.Equal(key, turn.GenerateAuthKey(user, realm, pass)) {
			t.Fatalf("credentials of %q refused or keyed otherwise: ok=%v", player, ok)
		}
		user, _ = TURNCredentials(secret, player, now.Add(-2*time.Second))
		if _, _, ok := handler(&turn.RequestAttributes{Username: user, Realm: realm, SrcAddr: src}); ok {
			t.Fatalf("expired credentials of %q accepted", player)
		}
	})
}
