//go:build !js

package netcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// resumeTokens issues and checks the tokens that resume a session on a new
// PeerConnection (WIRE.md, "Resume").
//
// A token is 16 random bytes and the first 16 bytes of their HMAC-SHA256
// under a key of this Server, in base64url: unguessable, and a forgery is
// told apart from a token that was real once. Each session has one current
// token; redeeming it spends it and issues the next. Spent tokens and those
// of ended sessions stay in the cache to explain a refusal ("already used",
// "expired") until newer ones push them out.
//
// The cache is golang-lru's expirable LRU without a TTL: with one, v2.0.7
// starts a cleanup goroutine that nothing can stop, which would outlive
// Server.Close. Expiry needs no timer here anyway: the session enforces
// its grace period (Config.ReconnectTimeout) and, when it ends, marks its
// token expired.
type resumeTokens struct {
	key     [32]byte
	mu      sync.Mutex
	cache   *expirable.LRU[string, *tokenEntry]
	current map[*peer]string
}

// maxTokens bounds the cache: far more than the sessions one server holds,
// so that only spent and ended tokens are ever pushed out.
const maxTokens = 1 << 16

type tokenState uint8

const (
	tokenCurrent tokenState = iota
	tokenSpent
	tokenExpired // the session ended waiting to be resumed
	tokenClosed  // the session ended otherwise
)

type tokenEntry struct {
	p      *peer
	state  tokenState
	at     time.Time // when it was spent or retired
	reason string    // why the session closed
}

// Refusals, wrapped in ErrResumeRejected by the peer.
var (
	errTokenForged  = errors.New("resume token not issued by this server")
	errTokenUnknown = errors.New("resume token unknown: expired long ago, or from another server")
	errTokenUsed    = errors.New("resume token already used")
	errTokenExpired = errors.New("resume token expired")
	errTokenClosed  = errors.New("session closed")
	errTokenOther   = errors.New("resume token of another session")
)

// refusal is what a client is told when its resume is refused: whether
// its token was spent, expired or its session closed, which its own
// client needs in order to say what happened, but nothing that tells a
// token's holder more than that. A token that is forged, unknown or
// another session's looks the same from outside, and spent and expired
// ones do not say when. The server logs the whole error.
func (t *resumeTokens) refusal(err error) string { return refusal(err) }

func refusal(err error) string {
	switch {
	case errors.Is(err, errTokenUsed):
		return errTokenUsed.Error()
	case errors.Is(err, errTokenExpired):
		return errTokenExpired.Error()
	case errors.Is(err, errTokenClosed):
		return errTokenClosed.Error()
	case errors.Is(err, ErrLimit):
		return err.Error()
	}
	return "resume token not valid"
}

const tokenRandLen, tokenMACLen = 16, 16

func newResumeTokens() *resumeTokens {
	t := &resumeTokens{
		cache:   expirable.NewLRU[string, *tokenEntry](maxTokens, nil, 0),
		current: make(map[*peer]string),
	}
	_, _ = rand.Read(t.key[:])
	return t
}

func (t *resumeTokens) mac(b []byte) []byte {
	m := hmac.New(sha256.New, t.key[:])
	m.Write(b)
	return m.Sum(nil)[:tokenMACLen]
}

func (t *resumeTokens) issue(p *peer) string {
	b := make([]byte, tokenRandLen, tokenRandLen+tokenMACLen)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(append(b, t.mac(b)...))
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.current[p]; ok {
		if e, ok := t.cache.Peek(old); ok && e.state == tokenCurrent {
			e.state, e.at, e.p = tokenSpent, time.Now(), nil // let the session go when it ends
		}
	}
	t.current[p] = tok
	t.cache.Add(tok, &tokenEntry{p: p})
	return tok
}

// lookup finds the entry of a well-formed token. Under mu.
func (t *resumeTokens) lookup(tok string) (*tokenEntry, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != tokenRandLen+tokenMACLen || !hmac.Equal(t.mac(b[:tokenRandLen]), b[tokenRandLen:]) {
		return nil, errTokenForged
	}
	e, ok := t.cache.Get(tok)
	if !ok {
		return nil, errTokenUnknown
	}
	switch e.state {
	case tokenSpent:
		return nil, fmt.Errorf("%w (%v ago)", errTokenUsed, time.Since(e.at).Round(time.Millisecond))
	case tokenExpired:
		return nil, fmt.Errorf("%w: the server gave up on the session %v ago: %s", errTokenExpired, time.Since(e.at).Round(time.Millisecond), e.reason)
	case tokenClosed:
		return nil, fmt.Errorf("%w: %s", errTokenClosed, e.reason)
	}
	return e, nil
}

func (t *resumeTokens) redeem(tok string, p *peer) (string, error) {
	t.mu.Lock()
	e, err := t.lookup(tok)
	if err == nil && e.p != p {
		err = errTokenOther
	}
	t.mu.Unlock()
	if err != nil {
		return "", err
	}
	return t.issue(p), nil // spends tok
}

// check explains what a token presented to Accept is; it spends nothing.
func (t *resumeTokens) check(tok string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.lookup(tok); err != nil {
		return err
	}
	return errors.New("a resume must come over the session's own signaling, not as a new client")
}

func (t *resumeTokens) retire(p *peer, ce *CloseError) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.current[p]
	if !ok {
		return
	}
	delete(t.current, p)
	if e, ok := t.cache.Peek(tok); ok {
		e.state, e.at, e.reason = tokenClosed, time.Now(), ce.Error()
		if ce.Code == CloseConnectionLost && !ce.Remote {
			e.state = tokenExpired
		}
		e.p = nil // let the session go
	}
}
