package lobby

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Identity is who a player is, as an Authenticator vouches.
type Identity struct {
	// Player is the stable player id: a seat, a party and a reconnection
	// all follow it. At most 64 bytes.
	Player string
	// Name is what other players see. At most 64 bytes.
	Name string
}

// Authenticator turns the token of a hello message into an Identity. The
// lobby calls it from the connection's own goroutine, so it may block (on a
// database, an identity provider), bounded by ctx. A refusal should be an
// *Error with one of the token codes; any other error counts as
// CodeUnauthorized.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// TokenIssuer is an Authenticator that can also mint tokens. When the
// lobby's Authenticator is one, the welcome message carries a fresh token
// for the next connection (tokens are single use), and POST /v1/guest issues
// guest tokens.
type TokenIssuer interface {
	Authenticator
	// IssueToken returns a token for id and when it expires.
	IssueToken(id Identity) (token string, expires time.Time, err error)
	// NewGuest returns a fresh guest identity named name.
	NewGuest(name string) Identity
}

// Guests is the default Authenticator: guest tokens signed with
// HMAC-SHA256, with an expiry and a nonce. Each token opens one connection:
// the lobby hands a fresh one to the client in the welcome message, so a
// token copied from a log or a proxy cannot be used to take over a player.
type Guests struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	used   NonceStore
}

// GuestsConfig configures Guests.
type GuestsConfig struct {
	// Secret signs tokens; at least 16 bytes. Empty means a random secret,
	// so tokens die with the process: fine for one lobby, wrong for several
	// behind a load balancer.
	Secret []byte
	// TTL is how long a token stays valid (24 h by default).
	TTL time.Duration
	// Now is the clock (time.Now by default); tests inject their own.
	Now func() time.Time
	// MaxUsed bounds how many used nonces are remembered to refuse replays
	// (1<<18 by default, about 30 MB at worst). The least recently used
	// nonce is forgotten first, so size it above your logins per TTL: a
	// token whose nonce was forgotten could be used once more. It applies
	// to the default Nonces only.
	MaxUsed int
	// Nonces remembers spent nonces: a MemoryStore of MaxUsed by default.
	// Lobby nodes that share players share it too (a RedisStore), or a
	// token could open one connection on each node.
	Nonces NonceStore
}

const minSecret = 16

// NewGuests returns a guest authenticator; nil cfg means defaults.
func NewGuests(cfg *GuestsConfig) (*Guests, error) {
	var c GuestsConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Secret == nil {
		c.Secret = make([]byte, 32)
		_, _ = rand.Read(c.Secret)
	}
	if len(c.Secret) < minSecret {
		return nil, fmt.Errorf("%w: guest token secret of %d bytes, need at least %d", ErrInvalidConfig, len(c.Secret), minSecret)
	}
	if c.TTL == 0 {
		c.TTL = 24 * time.Hour
	}
	if c.TTL < 0 {
		return nil, fmt.Errorf("%w: negative guest token TTL", ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxUsed == 0 {
		c.MaxUsed = 1 << 18
	}
	if c.MaxUsed < 0 {
		return nil, fmt.Errorf("%w: negative MaxUsed", ErrInvalidConfig)
	}
	used := c.Nonces
	if used == nil {
		m, err := NewMemoryStore(c.MaxUsed)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
		used = m
	}
	return &Guests{
		secret: append([]byte(nil), c.Secret...),
		ttl:    c.TTL,
		now:    c.Now,
		used:   used,
	}, nil
}

// tokenClaims is the signed part of a guest token. Short keys: the token
// travels in every hello.
type tokenClaims struct {
	Player string `json:"p"`
	Name   string `json:"n,omitempty"`
	Exp    int64  `json:"e"`
	Nonce  string `json:"j"`
}

var b64 = base64.RawURLEncoding

// NewGuest returns a guest identity with a fresh random player id.
func (g *Guests) NewGuest(name string) Identity {
	return Identity{Player: "g-" + randomID(10), Name: cleanName(name)}
}

// IssueToken signs a token for id.
func (g *Guests) IssueToken(id Identity) (string, time.Time, error) {
	if id.Player == "" || len(id.Player) > 64 || len(id.Name) > 64 {
		return "", time.Time{}, fmt.Errorf("lobby: identity out of limits")
	}
	exp := g.now().Add(g.ttl).Truncate(time.Second)
	payload, err := json.Marshal(tokenClaims{Player: id.Player, Name: id.Name, Exp: exp.Unix(), Nonce: randomID(16)})
	if err != nil {
		return "", time.Time{}, err
	}
	body := b64.EncodeToString(payload)
	return body + "." + b64.EncodeToString(g.sign(body)), exp, nil
}

func (g *Guests) sign(body string) []byte {
	m := hmac.New(sha256.New, g.secret)
	m.Write([]byte("tickwire-guest-v1."))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Authenticate verifies a token and spends it.
func (g *Guests) Authenticate(ctx context.Context, token string) (Identity, error) {
	body, sig, ok := strings.Cut(token, ".")
	mac, err := b64.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(mac, g.sign(body)) {
		return Identity{}, refuse(CodeTokenInvalid, "token signature does not verify")
	}
	payload, err := b64.DecodeString(body)
	var c tokenClaims
	if err == nil {
		err = json.Unmarshal(payload, &c)
	}
	if err != nil || c.Player == "" || c.Nonce == "" {
		// Signed by us yet unreadable: only a different secret's format could do it.
		return Identity{}, refuse(CodeTokenInvalid, "token claims unreadable")
	}
	if g.now().Unix() >= c.Exp {
		return Identity{}, refuse(CodeTokenExpired, "token expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	// Spend is atomic: two connections racing with one token cannot both
	// win, on one lobby node or several.
	fresh, err := g.used.Spend(ctx, c.Nonce, time.Unix(c.Exp, 0))
	if err != nil {
		return Identity{}, refuse(CodeUnavailable, "cannot check the token now: %v", err)
	}
	if !fresh {
		return Identity{}, refuse(CodeTokenReplayed, "token already used")
	}
	return Identity{Player: c.Player, Name: c.Name}, nil
}

// cleanName keeps a display name printable and short.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(name))
	for len(name) > 32 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" {
		name = "guest"
	}
	return name
}

// randomID returns n characters of crypto-random base32 (lowercase, no
// padding): unguessable ids and tokens that survive URLs and logs.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

// joinCode returns a room code that people can read aloud: no 0/O or 1/I/L.
func joinCode() string {
	const alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
