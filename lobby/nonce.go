package lobby

import (
	"context"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// NonceStore remembers the nonces of spent single-use tokens, so that a
// token opens one connection however many lobby nodes there are. Guests
// uses one (GuestsConfig.Nonces); so may an Authenticator of your own.
type NonceStore interface {
	// Spend records nonce as spent until until, when the token that
	// carries it expires, and reports whether it was not spent before. An
	// error means the store cannot be reached: the token is neither spent
	// nor refused.
	Spend(ctx context.Context, nonce string, until time.Time) (fresh bool, err error)
}

// MemoryStore keeps a lobby's state in its own process.
type MemoryStore struct {
	used *lru.Cache[string, struct{}]
}

// NewMemoryStore returns a store for one lobby process that remembers up to
// maxNonces spent token nonces (1<<18 for 0): the least recently used is
// forgotten first, so size it above the logins you expect per token
// lifetime; a token whose nonce was forgotten could be used once more.
func NewMemoryStore(maxNonces int) (*MemoryStore, error) {
	if maxNonces == 0 {
		maxNonces = 1 << 18
	}
	// A plain LRU, not golang-lru's expirable one: that starts a cleanup
	// goroutine that nothing can stop (v2.0.7), and an expired nonce needs
	// no cleanup anyway, as its token is refused for its expiry first.
	used, err := lru.New[string, struct{}](maxNonces)
	if err != nil {
		return nil, err
	}
	return &MemoryStore{used: used}, nil
}

// Spend implements NonceStore. ContainsOrAdd is atomic: two connections
// racing with one token cannot both win.
func (m *MemoryStore) Spend(_ context.Context, nonce string, _ time.Time) (bool, error) {
	found, _ := m.used.ContainsOrAdd(nonce, struct{}{})
	return !found, nil
}
