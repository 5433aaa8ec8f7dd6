//go:build !js

package lobby

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// storeLua is the lobby's state machine for Redis: every operation of
// PROTOCOL.md that changes shared state is one atomic call of it. It is a
// library of Redis functions (Redis 7), named after its hash, which
// storeLibrary fills in: functions are compiled once, where a script's
// helpers would be made again at every call.
//
//go:embed store.lua
var storeLua string

var storeFunc, storeLibrary = func() (string, string) {
	sum := sha1.Sum([]byte(storeLua))
	name := "tickwire_" + hex.EncodeToString(sum[:6])
	return name, strings.ReplaceAll(storeLua, "LIBNAME", name)
}()

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// URL is the Redis server, as redis.ParseURL reads it:
	// redis://[[user]:password@]host:6379/0, rediss:// for TLS,
	// unix:///path/to/redis.sock. Redis 7.0 or later.
	URL string
	// Prefix names the lobby's keys, "tickwire" by default: every key is
	// "{Prefix}:...", in one hash slot. Lobbies with different Modes or
	// Auth must not share a Prefix.
	Prefix string
	// NodeTTL is how long a node that stops heartbeating still counts as
	// alive (3 s by default; it heartbeats three times as often): a node
	// that dies hands its players and game servers over, and its
	// matchmaker leases pass to another node, that long after. At least
	// 300 ms.
	NodeTTL time.Duration
	// PlayerGrace is how long the players of a node that stopped or died
	// keep their tickets and parties, to come back through another node
	// (10 s by default). Their seats are kept as for any player without a
	// lobby connection (Config.AbandonedSeatTimeout, unless claimed).
	PlayerGrace time.Duration
	// Timeout bounds each call to Redis (2 s by default). A lobby that
	// cannot reach Redis refuses new work with unavailable.
	Timeout time.Duration
	// Logger receives the store's logs; the Server's Logger by default.
	Logger *slog.Logger
}

// RedisStore keeps a lobby's state in Redis, shared by every lobby node
// that has one with the same URL and Prefix; each node (Server) needs its
// own RedisStore. docs/scaling.md describes what it keeps and how nodes
// share the work.
type RedisStore struct {
	cfg RedisConfig
	// rdb serves the requests of players and game servers, each
	// connection's in turn. The node's own work has connections of its
	// own, so that a burst of requests never holds it up: bg for the
	// heartbeat, matchmaking and sweeps, inbox for the blocking read of the
	// node's inbox.
	rdb, bg, inbox *redis.Client
	prefix         string // the hash tag that starts every key: "{tickwire}"
	used           bool   // by a Server already
}

// NewRedisStore connects to Redis and checks that it answers.
func NewRedisStore(ctx context.Context, cfg RedisConfig) (*RedisStore, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: RedisConfig.URL is empty", ErrInvalidConfig)
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: Redis URL: %v", ErrInvalidConfig, err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tickwire"
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("%w: Redis prefix %q: no braces, it goes inside a hash tag", ErrInvalidConfig, cfg.Prefix)
	}
	if cfg.NodeTTL == 0 {
		cfg.NodeTTL = 3 * time.Second
	}
	if cfg.PlayerGrace == 0 {
		cfg.PlayerGrace = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.NodeTTL < 300*time.Millisecond || cfg.PlayerGrace < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: RedisConfig: NodeTTL below 300ms, or a negative PlayerGrace or Timeout", ErrInvalidConfig)
	}
	// Operations change state: one retried after its answer was lost would
	// be made twice. A failed call is answered unavailable instead.
	opt.MaxRetries = -1
	opt.DialTimeout = min(cfg.Timeout, time.Second)
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	// Each connection's reader makes its calls in turn, and the inbox reader
	// holds one connection in XREAD BLOCK.
	opt.PoolSize = max(opt.PoolSize, 64)
	bg, inbox := *opt, *opt
	bg.PoolSize, inbox.PoolSize = 4, 1
	s := &RedisStore{cfg: cfg, rdb: redis.NewClient(opt), bg: redis.NewClient(&bg), inbox: redis.NewClient(&inbox),
		prefix: "{" + cfg.Prefix + "}"}
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := s.load(cctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("lobby: Redis at %s: %w", redactURL(cfg.URL), err)
	}
	return s, nil
}

// load loads the library of store functions, as it is at start and
// whenever Redis has lost it (a restart without persistence).
func (s *RedisStore) load(ctx context.Context) error {
	err := s.rdb.FunctionLoadReplace(ctx, storeLibrary).Err()
	if err != nil && strings.Contains(err.Error(), "unknown command") {
		return fmt.Errorf("Redis 7 or later needed (FUNCTION LOAD): %w", err)
	}
	return err
}

// Close closes the connections to Redis. Close the Server first.
func (s *RedisStore) Close() error {
	return errors.Join(s.rdb.Close(), s.bg.Close(), s.inbox.Close())
}

// Spend implements NonceStore: the nonce is a key that expires with its
// token.
func (s *RedisStore) Spend(ctx context.Context, nonce string, until time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if !until.After(time.Now()) {
		until = time.Now().Add(time.Second)
	}
	ok, err := s.rdb.SetArgs(ctx, s.key("nonce", nonce), "1", redis.SetArgs{Mode: "NX", ExpireAt: until}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return ok == "OK", nil
}

func (s *RedisStore) key(parts ...string) string {
	return s.prefix + ":" + strings.Join(parts, ":")
}

// call runs one operation of store.lua with args (a JSON object) at now,
// and returns its answer ("" for none).
func (s *RedisStore) call(ctx context.Context, c *redis.Client, op string, now time.Time, args map[string]any) (string, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := c.FCall(ctx, storeFunc, []string{s.prefix}, op, now.UnixMilli(), b).Result()
	if err != nil && strings.Contains(err.Error(), "Function not found") {
		// Redis restarted and lost it; the call did not run: load, again.
		if err = s.load(ctx); err == nil {
			res, err = c.FCall(ctx, storeFunc, []string{s.prefix}, op, now.UnixMilli(), b).Result()
		}
	}
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	str, _ := res.(string)
	return str, nil
}

// callMany runs the operation op once for each of args, in order, in one
// round trip (a pipeline); each answer is as call's. An error means that
// none, some or all of them ran.
func (s *RedisStore) callMany(ctx context.Context, op string, now time.Time, args []map[string]any) ([]string, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		bs[i] = b
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	run := func() ([]redis.Cmder, error) {
		pipe := s.bg.Pipeline()
		for _, b := range bs {
			pipe.FCall(ctx, storeFunc, []string{s.prefix}, op, now.UnixMilli(), b)
		}
		return pipe.Exec(ctx)
	}
	cmds, err := run()
	if err != nil && strings.Contains(err.Error(), "Function not found") {
		// Every one of them found no function, so none ran.
		if err = s.load(ctx); err == nil {
			cmds, err = run()
		}
	}
	out := make([]string, len(cmds))
	for i, c := range cmds {
		res, cerr := c.(*redis.Cmd).Result()
		if cerr != nil && !errors.Is(cerr, redis.Nil) {
			return nil, cerr
		}
		out[i], _ = res.(string)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return out, nil
}

// outagePrefixes start the errors with which Redis says it cannot serve
// now, whatever it is asked: it is loading its data, running a long
// script, a replica (after a failover, until the client finds the new
// primary), out of memory, unable to persist, without its primary or
// replicas, or refusing our credentials.
var outagePrefixes = []string{"LOADING ", "BUSY ", "READONLY ", "MASTERDOWN ", "OOM ", "MISCONF ", "NOREPLICAS ",
	"TRYAGAIN ", "CLUSTERDOWN ", "NOAUTH ", "WRONGPASS ", "ERR max number of clients reached"}

// outage says whether err, from a call to Redis, means that Redis is
// unavailable (unreachable, timed out, or refusing everything now, as
// outagePrefixes list), as opposed to an error of the operation itself:
// a bug. A lobby refuses new work while Redis is unavailable, and finds out
// by itself when it is back.
func outage(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true // the network, a timeout, a closed pool
	}
	msg := rerr.Error()
	for _, p := range outagePrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// redactURL hides a password in a Redis URL, for errors and logs.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}
