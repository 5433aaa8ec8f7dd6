//go:build !js

package lobby

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGuestTokens(t *testing.T) {
	clock := newFakeClock()
	g, err := NewGuests(&GuestsConfig{Secret: []byte("0123456789abcdef0123"), TTL: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewGuests(&GuestsConfig{Secret: []byte("another-secret-of-20b"), Now: clock.Now})
	ctx := context.Background()
	id := g.NewGuest("  Ada\x00 Lovelace  ")
	if !strings.HasPrefix(id.Player, "g-") || id.Name != "Ada Lovelace" {
		t.Fatalf("guest %+v", id)
	}
	issue := func() string {
		tok, exp, err := g.IssueToken(id)
		if err != nil || !exp.Equal(clock.Now().Add(time.Hour)) {
			t.Fatalf("IssueToken: %v, expiry %v", err, exp)
		}
		return tok
	}
	good := issue()
	body, sig, _ := strings.Cut(good, ".")
	foreign, _, _ := other.IssueToken(id)

	expiring := issue()
	replayed := issue()
	if _, err := g.Authenticate(ctx, replayed); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, token, code string
		advance           time.Duration
	}{
		{"valid", good, "", 0},
		{"replayed", replayed, CodeTokenReplayed, 0},
		{"forged signature", body + "." + strings.Repeat("A", len(sig)), CodeTokenInvalid, 0},
		{"claims changed", strings.Replace(body, body[:4], "eyJw", 1) + "x." + sig, CodeTokenInvalid, 0},
		{"other secret", foreign, CodeTokenInvalid, 0},
		{"no dot", "garbage", CodeTokenInvalid, 0},
		{"empty", "", CodeTokenInvalid, 0},
		{"expired", expiring, CodeTokenExpired, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock.Advance(tc.advance)
			got, err := g.Authenticate(ctx, tc.token)
			if tc.code == "" {
				if err != nil || got != id {
					t.Fatalf("Authenticate: %+v, %v; want %+v", got, err, id)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("%v does not match ErrUnauthorized", err)
			}
			wantCode(t, err, tc.code)
		})
	}
	if _, err := NewGuests(&GuestsConfig{Secret: []byte("short")}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("short secret: %v", err)
	}
}
