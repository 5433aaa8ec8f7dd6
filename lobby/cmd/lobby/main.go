// Command lobby runs a Tickwire lobby: guest tokens, matchmaking, rooms and
// the WebRTC signaling broker over HTTP and WebSocket (lobby/PROTOCOL.md).
// By default it also runs an embedded game server with a small demo game,
// so that one command gives players somewhere to play:
//
//	go run ./lobby/cmd/lobby -addr 127.0.0.1:8080
//	go run ./examples/lobbybots -lobby http://127.0.0.1:8080   # in another terminal
//
// With -web DIR it also serves the files of DIR at /, next to its own
// routes: `make run` builds the browser demo (examples/web and the wasm
// client) into build/web and serves it there, to play in two tabs.
//
// With -redis URL, several such processes share one lobby's state in
// Redis: players and game servers connect to any of them (docs/scaling.md).
// /metrics serves Prometheus metrics; SIGTERM drains the embedded game
// server before the process stops.
//
// Every flag has an environment variable twin (TICKWIRE_LOBBY_ADDR for
// -addr, and so on); -h lists them.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/metrics"
	"github.com/tickwire/tickwire/netcode"
)

// shutdownTimeout bounds the graceful shutdown after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	// Signals first, so that none is lost while the lobby starts. SIGTERM
	// is also noted on its own: the stop it starts drains the game server.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	// Once the first signal starts the shutdown, a second one kills.
	context.AfterFunc(ctx, stop)
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lobby: %v\nRun with -h for the flags and their environment variables.\n", err)
		os.Exit(2)
	}
	cfg.out = os.Stderr
	cfg.sigterm = term
	// go-redis logs every failed dial of a Redis outage, in a format of its
	// own; the lobby logs the outage once. A process-wide setting, so here.
	redis.SetLogger(redisLogger{slog.New(logHandler(os.Stderr, cfg.LogFormat, cfg.LogLevel)).With("component", "redis")})
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "lobby:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully, within
// shutdownTimeout: the game and its netcode server first (players are told
// the server is shutting down), then HTTP (no new connections), then the
// lobby's WebSockets, then the embedded TURN server.
func run(ctx context.Context, cfg *config) (err error) {
	out := cfg.out
	if out == nil {
		out = io.Discard
	}
	log := slog.New(logHandler(out, cfg.LogFormat, cfg.LogLevel))

	var cleanups []func(context.Context) error // run in reverse
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for i := len(cleanups) - 1; i >= 0; i-- {
			err = errors.Join(err, cleanups[i](sctx))
		}
	}()

	var secret []byte
	if cfg.GuestSecret != "" {
		secret = []byte(cfg.GuestSecret)
	}
	gcfg := &lobby.GuestsConfig{Secret: secret, TTL: cfg.TokenTTL}
	var store lobby.Store
	if cfg.Redis != "" {
		rs, err := lobby.NewRedisStore(ctx, lobby.RedisConfig{URL: cfg.Redis, Prefix: cfg.RedisPrefix, Logger: log})
		if err != nil {
			return err
		}
		// Closed after the lobby has handed its players over (cleanups run
		// in reverse).
		cleanups = append(cleanups, func(context.Context) error { return rs.Close() })
		store, gcfg.Nonces = rs, rs
	}
	guests, err := lobby.NewGuests(gcfg)
	if err != nil {
		return err
	}
	lcfg := &lobby.Config{
		Store:          store,
		Modes:          cfg.Modes,
		Auth:           guests,
		GameServerKey:  cfg.Key,
		SeatTimeout:    cfg.SeatTimeout,
		STUN:           cfg.STUN,
		TURN:           lobby.TURNConfig{URLs: cfg.TURNURLs, Secret: cfg.TURNSecret, TTL: cfg.TURNTTL},
		OriginPatterns: cfg.Origins,
		Logger:         log,
	}

	var turnSrv *lobby.TURNServer
	if cfg.TURNEmbedded != "" {
		if lcfg.TURN.Secret == "" {
			lcfg.TURN.Secret = randomSecret()
		}
		turnSrv, err = lobby.NewTURNServer(lobby.TURNServerConfig{
			Addr: cfg.TURNEmbedded, RelayIP: cfg.TURNRelayIP, Secret: lcfg.TURN.Secret, Logger: log.With("component", "turn"),
			TLSAddr: cfg.TURNTLSAddr, CertFile: cfg.TURNCert, KeyFile: cfg.TURNKey, Host: cfg.TURNHost,
		})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func(context.Context) error { return turnSrv.Close() })
		lcfg.TURN.URLs = append(lcfg.TURN.URLs, turnSrv.URLs()...)
	}
	for _, u := range cfg.TURNURLs {
		if strings.HasPrefix(u, "turn:") && !strings.Contains(u, "transport=") {
			log.Warn("a turn: URL without ?transport= is used over UDP only: players whose networks block UDP get no relay from it; hand out the ?transport=tcp one too", "url", u)
		}
	}

	ls, err := lobby.NewServer(lcfg)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func(ctx context.Context) error {
		if err := ls.Shutdown(ctx); err != nil {
			return fmt.Errorf("lobby shutdown: %w", err)
		}
		return nil
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var handler http.Handler = ls
	if cfg.Web != "" {
		handler = withWeb(ls, cfg.Web)
	}
	var reg *prometheus.Registry
	if cfg.Metrics {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			metrics.NewLobbyCollector(ls))
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
		mux.Handle("/", handler)
		handler = mux
	}
	if cfg.Pprof != "" {
		stopPprof, err := servePprof(cfg.Pprof, log)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stopPprof)
	}
	// An idle keep-alive holds one of its address's MaxTCPConnsPerIP
	// connections (ls.Listener) until IdleTimeout: browsers reconnect in
	// milliseconds, so half a minute costs them nothing.
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ls.Listener(ln)) }()
	// Registered after the lobby's, so it runs before it: no new WebSocket
	// arrives while the lobby closes the open ones. http.Server.Shutdown
	// does not wait for WebSockets (hijacked connections): the lobby's does.
	cleanups = append(cleanups, func(ctx context.Context) error {
		if err := hs.Shutdown(ctx); err != nil {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})

	var game *netcode.Server
	var gs *lobby.GameServer
	if cfg.Game {
		// pion warns about the normal course of a connection (pings before
		// the first candidate pair, writes racing a close): its warnings
		// show at -log-level debug only.
		nlevel := max(cfg.LogLevel, slog.LevelError)
		if cfg.LogLevel <= slog.LevelDebug {
			nlevel = cfg.LogLevel
		}
		nlog := slog.New(logHandler(out, cfg.LogFormat, nlevel)).With("component", "netcode")
		ncfg := &netcode.ServerConfig{Config: netcode.Config{Logger: nlog}, UDPAddr: cfg.GameUDP, TCPAddr: cfg.GameTCP, PublicAddrs: cfg.PublicIPs}
		if cfg.PublicIPAuto {
			ncfg.PublicAddrSTUN = cfg.STUN[0]
		}
		ns, err := netcode.NewServer(ncfg)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func(ctx context.Context) error {
			if err := ns.Shutdown(ctx); err != nil {
				return fmt.Errorf("game server shutdown: %w", err)
			}
			return nil
		})
		game = ns
		if reg != nil {
			reg.MustRegister(metrics.NewSessionCollector(ns))
		}
		gs, err = ls.AttachGameServer(ctx, ns, &lobby.GameServerConfig{
			Name: cfg.GameName, Region: cfg.GameRegion, Capacity: cfg.GameCapacity, Logger: log,
		})
		if err != nil {
			return err
		}
		cleanups = append(cleanups, func(context.Context) error { return gs.Close() })
		gctx, stopGame := context.WithCancel(context.Background())
		gameDone := make(chan struct{})
		go func() {
			defer close(gameDone)
			newGame(gs, log, cfg.GameHz).run(gctx)
		}()
		cleanups = append(cleanups, func(context.Context) error {
			stopGame()
			<-gameDone
			return nil
		})
	}

	base := "http://" + connectHost(ln.Addr())
	printBanner(out, cfg, base, game, lcfg.TURN.URLs)
	if cfg.ready != nil {
		cfg.ready(base)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
		drain(cfg, gs, log)
		return nil
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	}
}

// drain lets the embedded game server's rooms finish before the process
// stops, when SIGTERM stopped it: the lobby places nothing new on it
// meanwhile, and /readyz fails unless another game server can take rooms.
func drain(cfg *config, gs *lobby.GameServer, log *slog.Logger) {
	select {
	case <-cfg.sigterm:
	default:
		return // Ctrl-C, or a test's stop: at once
	}
	if gs == nil || cfg.DrainTimeout <= 0 {
		return
	}
	log.Info("draining the game server: no new rooms or players; waiting for the running rooms to end", "seats", gs.Seats(),
		"timeout", cfg.DrainTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	if err := gs.Drain(ctx); err != nil {
		log.Warn("drain ended before the rooms did", "err", err, "seats", gs.Seats())
		return
	}
	log.Info("game server drained")
}

// redisLogger puts go-redis's logs in the command's log, at debug.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// logHandler is the command's log handler: text or JSON lines.
func logHandler(w io.Writer, format string, level slog.Level) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// servePprof serves net/http/pprof on addr, apart from the players'
// address, and returns how to stop it.
func servePprof(addr string, log *slog.Logger) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { _ = ps.Serve(ln) }()
	log.Info("profiler on http://" + connectHost(ln.Addr()) + "/debug/pprof/")
	return ps.Shutdown, nil
}

// connectHost is the listening address as a client on this machine dials
// it: a wildcard address becomes loopback.
func connectHost(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func printBanner(w io.Writer, cfg *config, base string, game *netcode.Server, turnURLs []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\ntickwire lobby on %s\n", base)
	if cfg.Web != "" {
		fmt.Fprintf(&b, "  web page:      %s/ (files of %s)\n", base, cfg.Web)
	}
	fmt.Fprintf(&b, "  health:        %s/healthz (alive), %s/readyz (a game server can take rooms)\n", base, base)
	fmt.Fprintf(&b, "  guest tokens:  POST %s/v1/guest\n", base)
	if cfg.Metrics {
		fmt.Fprintf(&b, "  metrics:       %s/metrics (Prometheus)\n", base)
	}
	if cfg.Redis != "" {
		fmt.Fprintf(&b, "  shared state:  Redis (prefix %q): a node of a lobby, with every node that shares it\n", cfg.RedisPrefix)
	}
	fmt.Fprintf(&b, "  players:       %s/v1/play (WebSocket)\n", "ws"+strings.TrimPrefix(base, "http"))
	if cfg.Key != "" {
		fmt.Fprintf(&b, "  game servers:  %s/v1/server (WebSocket, with -key)\n", "ws"+strings.TrimPrefix(base, "http"))
	}
	var modes []string
	for _, name := range modeNames(cfg.Modes) {
		m := cfg.Modes[name]
		modes = append(modes, fmt.Sprintf("%s (%d-%d players)", name, m.MinPlayers, m.MaxPlayers))
	}
	fmt.Fprintf(&b, "  modes:         %s\n", strings.Join(modes, ", "))
	if len(turnURLs) > 0 {
		fmt.Fprintf(&b, "  TURN:          %s\n", strings.Join(turnURLs, ", "))
	}
	if game != nil {
		fmt.Fprintf(&b, "  game server:   %q, netcode on udp %s", cfg.GameName, game.UDPAddr())
		if tcp := game.TCPAddr(); tcp != nil {
			fmt.Fprintf(&b, " and tcp %s", tcp)
		}
		fmt.Fprintf(&b, ", %d Hz, %d seats\n", cfg.GameHz, cfg.GameCapacity)
		if pub := game.PublicAddrs(); len(pub) > 0 {
			var s []string
			for _, a := range pub {
				if a.Port() == 0 {
					s = append(s, a.Addr().String())
				} else {
					s = append(s, a.String())
				}
			}
			fmt.Fprintf(&b, "  advertised as: %s (players reach the game server there)\n", strings.Join(s, ", "))
		}
		if cfg.Web != "" {
			fmt.Fprintf(&b, "\nplay in the browser: open %s/ in two tabs (or two browsers)\n", base)
		}
		mode := "default"
		if _, ok := cfg.Modes[mode]; !ok {
			mode = modeNames(cfg.Modes)[0]
		}
		fmt.Fprintf(&b, "\nplay against it, in another terminal:\n  go run ./examples/lobbybots -lobby %s -bots %d -mode %s\n\n",
			base, cfg.Modes[mode].MaxPlayers, mode)
	} else {
		fmt.Fprintf(&b, "  game server:   none embedded; register one with lobby.DialGameServer(ctx, %q, ns, &lobby.GameServerConfig{Key: ...})\n\n", base)
	}
	_, _ = io.WriteString(w, b.String())
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
