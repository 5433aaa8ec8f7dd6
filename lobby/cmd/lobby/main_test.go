package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/dots"
	"github.com/tickwire/tickwire/internal/testcert"
	"github.com/tickwire/tickwire/lobby"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	webDir := t.TempDir()
	webFile := filepath.Join(webDir, "index.html")
	if err := os.WriteFile(webFile, []byte("<!doctype html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   func(string) string
		check func(t *testing.T, c *config)
		err   string // a substring of the error; "" means valid
	}{
		{name: "defaults", check: func(t *testing.T, c *config) {
			if c.Addr != "127.0.0.1:8080" || !c.Game || c.GameUDP != "127.0.0.1:0" || c.SeatTimeout != 30*time.Second ||
				c.TokenTTL != 24*time.Hour || c.TURNTTL != time.Hour || c.LogLevel != slog.LevelInfo || c.GameHz != 30 || c.Web != "" {
				t.Errorf("defaults: %+v", c)
			}
			if m := c.Modes["default"]; len(c.Modes) != 1 || m.MinPlayers != 2 || m.MaxPlayers != 4 || m.FillWait != 10*time.Second {
				t.Errorf("modes: %+v", c.Modes)
			}
		}},
		{name: "env over default", env: env("TICKWIRE_LOBBY_ADDR", ":9000", "TICKWIRE_LOBBY_GAME", "false",
			"TICKWIRE_LOBBY_KEY", "0123456789abcdef", "TICKWIRE_LOBBY_SEAT_TIMEOUT", "5s", "TICKWIRE_LOBBY_LOG_LEVEL", "debug"),
			check: func(t *testing.T, c *config) {
				if c.Addr != ":9000" || c.Game || c.Key != "0123456789abcdef" || c.SeatTimeout != 5*time.Second || c.LogLevel != slog.LevelDebug {
					t.Errorf("env not applied: %+v", c)
				}
			}},
		{name: "flag over env", args: []string{"-addr", "127.0.0.1:1", "-game=true", "-seat-timeout", "7s", "-modes", "duel=2-2"},
			env: env("TICKWIRE_LOBBY_ADDR", ":9000", "TICKWIRE_LOBBY_GAME", "false", "TICKWIRE_LOBBY_SEAT_TIMEOUT", "5s", "TICKWIRE_LOBBY_MODES", "x=3"),
			check: func(t *testing.T, c *config) {
				if c.Addr != "127.0.0.1:1" || !c.Game || c.SeatTimeout != 7*time.Second {
					t.Errorf("flags did not win: %+v", c)
				}
				if m, ok := c.Modes["duel"]; len(c.Modes) != 1 || !ok || m.MinPlayers != 2 || m.MaxPlayers != 2 {
					t.Errorf("modes: %+v", c.Modes)
				}
			}},
		{name: "empty env is unset", env: env("TICKWIRE_LOBBY_ADDR", ""), check: func(t *testing.T, c *config) {
			if c.Addr != "127.0.0.1:8080" {
				t.Errorf("addr %q", c.Addr)
			}
		}},
		{name: "lists", args: []string{"-modes", " a=1-3 , b=5,", "-stun", "stun:s1:3478, stuns:s2", "-turn-url", "turn:t:3478",
			"-turn-secret", "s", "-origin", "a.example.com,*.b.example.com", "-fill-wait", "0", "-backfill"},
			check: func(t *testing.T, c *config) {
				if a, b := c.Modes["a"], c.Modes["b"]; a.MinPlayers != 1 || a.MaxPlayers != 3 || b.MinPlayers != 5 || b.MaxPlayers != 5 || !a.Backfill || a.FillWait <= 0 || a.FillWait > time.Millisecond {
					t.Errorf("modes: %+v", c.Modes)
				}
				if strings.Join(c.STUN, " ") != "stun:s1:3478 stuns:s2" || strings.Join(c.TURNURLs, " ") != "turn:t:3478" ||
					strings.Join(c.Origins, " ") != "a.example.com *.b.example.com" {
					t.Errorf("lists: %q %q %q", c.STUN, c.TURNURLs, c.Origins)
				}
			}},
		{name: "web", args: []string{"-web", webDir}, check: func(t *testing.T, c *config) {
			if c.Web != webDir {
				t.Errorf("web %q", c.Web)
			}
		}},
		{name: "web env", env: env("TICKWIRE_LOBBY_WEB", webDir), check: func(t *testing.T, c *config) {
			if c.Web != webDir {
				t.Errorf("web %q", c.Web)
			}
		}},
		{name: "embedded TURN", args: []string{"-turn-embedded", "127.0.0.1:3478"}},
		{name: "embedded TURN on wildcard with relay IP", args: []string{"-turn-embedded", "0.0.0.0:3478", "-turn-relay-ip", "203.0.113.7"}},
		{name: "embedded TURN with TLS", args: []string{"-turn-embedded", "0.0.0.0:3478", "-turn-relay-ip", "203.0.113.7", "-turn-tls-addr", ":443",
			"-turn-cert", webFile, "-turn-key", webFile, "-turn-host", "turn.example.com"},
			check: func(t *testing.T, c *config) {
				if c.TURNTLSAddr != ":443" || c.TURNCert != webFile || c.TURNKey != webFile || c.TURNHost != "turn.example.com" {
					t.Errorf("TURN TLS: %+v", c)
				}
			}},
		{name: "embedded TURN with TLS from env", args: []string{"-turn-embedded", "127.0.0.1:3478"},
			env: env("TICKWIRE_LOBBY_TURN_TLS_ADDR", "127.0.0.1:5349", "TICKWIRE_LOBBY_TURN_CERT", webFile, "TICKWIRE_LOBBY_TURN_KEY", webFile, "TICKWIRE_LOBBY_TURN_HOST", "t.example.com"),
			check: func(t *testing.T, c *config) {
				if c.TURNTLSAddr != "127.0.0.1:5349" || c.TURNCert != webFile || c.TURNKey != webFile || c.TURNHost != "t.example.com" {
					t.Errorf("TURN TLS: %+v", c)
				}
			}},

		{name: "ICE-TCP on the game port by default", args: []string{"-game-udp", "0.0.0.0:7777"}, check: func(t *testing.T, c *config) {
			if c.GameTCP != "0.0.0.0:7777" {
				t.Errorf("GameTCP %q, want the -game-udp address", c.GameTCP)
			}
		}},
		{name: "ICE-TCP off", args: []string{"-game-tcp", "off"}, check: func(t *testing.T, c *config) {
			if c.GameTCP != "" {
				t.Errorf("GameTCP %q, want none", c.GameTCP)
			}
		}},
		{name: "ICE-TCP moved", env: env("TICKWIRE_LOBBY_GAME_TCP", "0.0.0.0:443"), check: func(t *testing.T, c *config) {
			if c.GameTCP != "0.0.0.0:443" {
				t.Errorf("GameTCP %q", c.GameTCP)
			}
		}},
		{name: "public IPs", args: []string{"-public-ip", "203.0.113.7,[2001:db8::7]:7777"}, check: func(t *testing.T, c *config) {
			if strings.Join(c.PublicIPs, " ") != "203.0.113.7 [2001:db8::7]:7777" || c.PublicIPAuto {
				t.Errorf("PublicIPs %q, auto %v", c.PublicIPs, c.PublicIPAuto)
			}
		}},
		{name: "public IP auto", args: []string{"-public-ip", "auto", "-stun", "stun:stun.example.com:3478"}, check: func(t *testing.T, c *config) {
			if !c.PublicIPAuto {
				t.Error("auto not set")
			}
		}},
		{name: "public IP auto without STUN", args: []string{"-public-ip", "auto"}, err: "-public-ip: auto needs a stun: URL"},
		{name: "public IP not an IP", env: env("TICKWIRE_LOBBY_PUBLIC_IP", "game.example.com"), err: "TICKWIRE_LOBBY_PUBLIC_IP"},
		{name: "two public IPv4s", args: []string{"-public-ip", "203.0.113.7,203.0.113.8"}, err: "at most one IPv4"},
		{name: "game tcp", args: []string{"-game-tcp", "7777"}, err: "-game-tcp"},
		{name: "public IP without the game", args: []string{"-game=false", "-key", "0123456789abcdef", "-public-ip", "203.0.113.7"}, err: "-public-ip: only applies"},

		{name: "bad env value names the variable", env: env("TICKWIRE_LOBBY_SEAT_TIMEOUT", "soon"), err: "TICKWIRE_LOBBY_SEAT_TIMEOUT"},
		{name: "bad env bool", env: env("TICKWIRE_LOBBY_GAME", "perhaps"), err: "TICKWIRE_LOBBY_GAME"},
		{name: "invalid env value names the variable", env: env("TICKWIRE_LOBBY_ADDR", "nowhere"), err: "TICKWIRE_LOBBY_ADDR"},
		{name: "unknown flag", args: []string{"-nope"}, err: "-nope"},
		{name: "argument", args: []string{"extra"}, err: "unexpected argument"},
		{name: "addr without port", args: []string{"-addr", "localhost"}, err: "-addr"},
		{name: "addr bad port", args: []string{"-addr", "localhost:http2"}, err: "-addr"},
		{name: "game udp", args: []string{"-game-udp", "127.0.0.1"}, err: "-game-udp"},
		{name: "capacity", args: []string{"-game-capacity", "0"}, err: "-game-capacity"},
		{name: "hz", args: []string{"-game-hz", "0"}, err: "-game-hz"},
		{name: "modes empty", args: []string{"-modes", ","}, err: "-modes"},
		{name: "modes syntax", args: []string{"-modes", "default"}, err: "-modes"},
		{name: "modes numbers", args: []string{"-modes", "default=two-four"}, err: "-modes"},
		{name: "modes order", args: []string{"-modes", "default=4-2"}, err: "-modes"},
		{name: "modes zero", args: []string{"-modes", "default=0-2"}, err: "-modes"},
		{name: "modes twice", args: []string{"-modes", "a=2,a=3"}, err: "twice"},
		{name: "modes too big for the game", args: []string{"-modes", "big=2-100"}, err: "snapshot"},
		{name: "modes too big for capacity", args: []string{"-modes", "a=2-8", "-game-capacity", "4"}, err: "-game-capacity"},
		{name: "big modes without the game", args: []string{"-modes", "big=2-100", "-game=false", "-key", "0123456789abcdef"}},
		{name: "fill wait", args: []string{"-fill-wait", "-1s"}, err: "-fill-wait"},
		{name: "short key", args: []string{"-key", "short"}, err: "-key"},
		{name: "no game no key", args: []string{"-game=false"}, err: "-game"},
		{name: "short guest secret", args: []string{"-guest-secret", "short"}, err: "-guest-secret"},
		{name: "token ttl", args: []string{"-token-ttl", "0s"}, err: "-token-ttl"},
		{name: "seat timeout", args: []string{"-seat-timeout", "-1s"}, err: "-seat-timeout"},
		{name: "turn ttl", args: []string{"-turn-ttl", "0"}, err: "-turn-ttl"},
		{name: "stun scheme", args: []string{"-stun", "turn:x"}, err: "-stun"},
		{name: "turn scheme", args: []string{"-turn-url", "stun:x", "-turn-secret", "s"}, err: "-turn-url"},
		{name: "turn without secret", args: []string{"-turn-url", "turn:x:3478"}, err: "-turn-secret"},
		{name: "turn embedded wildcard", args: []string{"-turn-embedded", ":3478"}, err: "-turn-relay-ip"},
		{name: "turn embedded addr", args: []string{"-turn-embedded", "3478"}, err: "-turn-embedded"},
		{name: "turn relay ip", args: []string{"-turn-embedded", "0.0.0.0:3478", "-turn-relay-ip", "turn.example.com"}, err: "-turn-relay-ip"},
		{name: "relay ip alone", args: []string{"-turn-relay-ip", "203.0.113.7"}, err: "-turn-embedded"},
		{name: "turn tls alone", args: []string{"-turn-tls-addr", ":443", "-turn-cert", webFile, "-turn-key", webFile}, err: "-turn-tls-addr: only applies with -turn-embedded"},
		{name: "turn host alone", args: []string{"-turn-host", "turn.example.com"}, err: "-turn-host"},
		{name: "turn tls without cert", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-tls-addr", ":443", "-turn-key", webFile}, err: "-turn-cert"},
		{name: "turn tls without key", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-tls-addr", ":443", "-turn-cert", webFile}, err: "-turn-key"},
		{name: "turn tls addr", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-tls-addr", "443", "-turn-cert", webFile, "-turn-key", webFile}, err: "-turn-tls-addr"},
		{name: "turn cert without tls", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-cert", webFile}, err: "-turn-cert: only applies with -turn-tls-addr"},
		{name: "turn cert missing", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-tls-addr", ":443", "-turn-cert", webFile + ".nope", "-turn-key", webFile}, err: "-turn-cert"},
		{name: "turn key missing env", args: []string{"-turn-embedded", "127.0.0.1:3478", "-turn-tls-addr", ":443", "-turn-cert", webFile},
			env: env("TICKWIRE_LOBBY_TURN_KEY", webFile+".nope"), err: "TICKWIRE_LOBBY_TURN_KEY"},
		{name: "log level", args: []string{"-log-level", "loud"}, err: "-log-level"},
		{name: "web missing", args: []string{"-web", filepath.Join(webDir, "nope")}, err: "-web"},
		{name: "web not a directory", args: []string{"-web", webFile}, err: "not a directory"},
		{name: "web env missing", env: env("TICKWIRE_LOBBY_WEB", filepath.Join(webDir, "nope")), err: "TICKWIRE_LOBBY_WEB"},
		{name: "log level env", env: env("TICKWIRE_LOBBY_LOG_LEVEL", "loud"), err: "TICKWIRE_LOBBY_LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := tt.env
			if getenv == nil {
				getenv = env()
			}
			c, err := parseConfig(tt.args, getenv, io.Discard)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.err)
			}
		})
	}
}

// TestUsage: -h lists every flag with its environment variable and default.
func TestUsage(t *testing.T) {
	var b bytes.Buffer
	_, err := parseConfig([]string{"-h"}, env(), &b)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	out := b.String()
	for _, name := range []string{"addr", "game", "game-udp", "game-tcp", "public-ip", "modes", "key", "guest-secret", "token-ttl", "seat-timeout",
		"stun", "turn-url", "turn-secret", "turn-ttl", "turn-embedded", "turn-relay-ip", "turn-tls-addr", "turn-cert", "turn-key", "turn-host",
		"origin", "log-level", "web"} {
		if !strings.Contains(out, "\n  -"+name+" ") && !strings.Contains(out, "\n  -"+name+"\n") {
			t.Errorf("usage lacks -%s", name)
		}
		if !strings.Contains(out, "env "+envName(name)+", default ") {
			t.Errorf("usage lacks %s with a default", envName(name))
		}
	}
	// The -turn-url example gives a URL per transport: a turn: URL without
	// ?transport= would leave players on UDP-blocking networks no relay.
	turnHelp := out[strings.Index(out, "\n  -turn-url "):]
	turnHelp = turnHelp[:strings.Index(turnHelp, "env TICKWIRE_LOBBY_TURN_URL")]
	for _, f := range strings.FieldsFunc(turnHelp, func(r rune) bool { return r == ' ' || r == '\n' || r == ',' }) {
		if strings.HasPrefix(f, "turn:") && f != "turn:" && !strings.Contains(f, "?transport=") {
			t.Errorf("-turn-url help suggests %q, a URL without ?transport=", f)
		}
	}
	for _, want := range []string{"?transport=udp", "?transport=tcp", "turns:"} {
		if !strings.Contains(turnHelp, want) {
			t.Errorf("-turn-url help lacks %q:\n%s", want, turnHelp)
		}
	}
	if !strings.Contains(out, `env TICKWIRE_LOBBY_ADDR, default "127.0.0.1:8080"`) {
		t.Errorf("usage lacks the address default:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun starts the whole command in-process on loopback: the lobby
// answers /healthz, two players are matched into one room of the embedded
// game, see both dots in the world and each other's joined event, and the
// command shuts down cleanly when its context ends.
func TestRun(t *testing.T) {
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-modes", "default=2-2", "-log-level", "debug"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, base, logs, stop := startCommand(t, cfg)

	// Alive, and ready: the embedded game server can take rooms.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
	if out := logs.String(); !strings.Contains(out, "go run ./examples/lobbybots -lobby "+base) {
		t.Errorf("banner lacks the bots command:\n%s", out)
	}

	pctx, pcancel := context.WithTimeout(ctx, 8*time.Second)
	defer pcancel()
	for _, err := range playPair(pctx, base, base) {
		if err != nil {
			t.Error(err)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	stop()
	out := logs.String()
	for _, want := range []string{"game: player joined", "game: room opened", "shutting down"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// playPair plays two players at once, the first through the lobby at
// base0 and the second through base1, each until it has seen the other
// (playUntilBothSeen), and returns their errors.
func playPair(ctx context.Context, base0, base1 string) []error {
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, base := range []string{base0, base1} {
		wg.Go(func() { errs[i] = playUntilBothSeen(ctx, base, i) })
	}
	wg.Wait()
	return errs
}

// playUntilBothSeen plays one player until its replica of the world holds
// both players' dots and every bot, and the other player's joined event
// has arrived, then leaves.
func playUntilBothSeen(ctx context.Context, base string, i int) error {
	tok, err := lobby.GuestToken(ctx, base, "p"+string(rune('0'+i)))
	if err != nil {
		return err
	}
	c, err := lobby.Dial(ctx, base, tok, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Queue(ctx, "default", "", 1000); err != nil {
		return err
	}
	m, err := c.WaitMatch(ctx)
	if err != nil {
		return err
	}
	nc, err := c.Connect(ctx, m, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	welcome, joined := false, false
	for !welcome || !joined {
		b, err := nc.ReadEvent(ctx)
		if err != nil {
			return errors.New("events: " + err.Error())
		}
		ev, err := dots.DecodeEvent(b)
		if err != nil {
			return err
		}
		switch ev.Type {
		case dots.EventWelcome:
			welcome = ev.Player == c.Player() && ev.Room == m.Room
		case dots.EventJoined:
			joined = ev.Player != c.Player() && ev.Room == m.Room
		}
	}
	last := "nothing"
	sawBoth, sawBots := false, false
	for {
		mv, _ := dots.EncodeMove(dots.Move{DX: 1})
		_ = nc.SendInput(mv)
		if _, err := nc.World().Next(ctx); err != nil {
			return fmt.Errorf("world, last %s: %w", last, err)
		}
		players, bots := 0, 0
		for _, id := range nc.World().Entities() {
			e, _ := nc.World().Entity(id)
			var d dots.Dot
			if err := e.Decode(&d); err != nil {
				return err
			}
			if d.Player {
				players++
			} else {
				bots++
			}
		}
		// Each at some point: the other player may have left before this
		// one's replica holds every bot (a full world takes a few ticks).
		sawBoth = sawBoth || players == 2
		sawBots = sawBots || bots == dots.Bots
		if sawBoth && sawBots {
			break
		}
		last = fmt.Sprintf("%d players and %d bots at tick %d", players, bots, nc.World().Tick())
	}
	return c.Leave(ctx)
}

// TestRunWeb: with -web the command serves the directory's files at / with
// the Content-Types browsers insist on (application/wasm for
// WebAssembly.instantiateStreaming, a JavaScript type for modules), while
// the lobby's own routes keep priority over files of the same name.
func TestRunWeb(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"index.html":    "<!doctype html><title>dots</title>",
		"game.js":       "export {};",
		"tickwire.wasm": "\x00asm\x01\x00\x00\x00",
		"healthz":       "a file, not the lobby",
		"v1/guest":      "a file, not the lobby",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-web", dir}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, base, logs, stop := startCommand(t, cfg)
	if out := logs.String(); !strings.Contains(out, "web page:      "+base+"/") || !strings.Contains(out, "open "+base+"/ in two tabs") {
		t.Errorf("banner lacks the page URL:\n%s", out)
	}

	get := func(method, path string) (status int, ctype, body string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, tc := range []struct{ path, ctype, body string }{
		{"/", "text/html; charset=utf-8", files["index.html"]},
		{"/game.js", "text/javascript; charset=utf-8", files["game.js"]},
		{"/tickwire.wasm", "application/wasm", files["tickwire.wasm"]},
	} {
		status, ctype, body := get("GET", tc.path)
		if status != http.StatusOK || ctype != tc.ctype || body != tc.body {
			t.Errorf("GET %s: %d %q %q, want 200 %q %q", tc.path, status, ctype, body, tc.ctype, tc.body)
		}
	}
	if status, _, _ := get("GET", "/nope.js"); status != http.StatusNotFound {
		t.Errorf("GET /nope.js: %d, want 404", status)
	}

	// The lobby's routes, not the files that shadow them.
	if status, _, body := get("GET", "/healthz"); status != http.StatusOK || body == files["healthz"] {
		t.Errorf("GET /healthz: %d %q", status, body)
	}
	if status, ctype, body := get("POST", "/v1/guest"); status != http.StatusOK || !strings.HasPrefix(ctype, "application/json") || !strings.Contains(body, `"token"`) {
		t.Errorf("POST /v1/guest: %d %q %q", status, ctype, body)
	}
	if status, _, body := get("GET", "/v1/guest"); status == http.StatusOK || body == files["v1/guest"] {
		t.Errorf("GET /v1/guest served the file: %d %q", status, body)
	}
	// A whole lobby session through the same handler.
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	tok, err := lobby.GuestToken(pctx, base, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c, err := lobby.Dial(pctx, base, tok, nil)
	if err != nil {
		t.Fatalf("player WebSocket: %v", err)
	}
	if _, err := c.Rooms(pctx, ""); err != nil {
		t.Errorf("rooms: %v", err)
	}
	c.Close()
	http.DefaultClient.CloseIdleConnections()

	stop()
}

// startCommand runs the command with cfg in-process until stop, which
// fails the test unless it shuts down cleanly within 5 s. ctx ends with
// stop; base is the lobby's URL; logs collect the command's output, shown
// when the test fails.
func startCommand(t *testing.T, cfg *config) (ctx context.Context, base string, logs *syncBuffer, stop func()) {
	t.Helper()
	logs = &syncBuffer{}
	cfg.out = logs
	baseCh := make(chan string, 1)
	cfg.ready = func(base string) { baseCh <- base }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	runErr := make(chan error, 1)
	go func() { runErr <- run(ctx, cfg) }()
	select {
	case base = <-baseCh:
	case err := <-runErr:
		t.Fatalf("run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready after 5 s")
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("command output:\n%s", logs.String())
		}
	})
	stop = func() {
		t.Helper()
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Fatalf("run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no shutdown within 5 s")
		}
	}
	return ctx, base, logs, stop
}

// TestRunTURN: with -turn-embedded and -turn-tls-addr the command serves
// TURN over UDP, TCP and TLS, prints a URL for each, and hands them all to
// players after any -turn-url; a turn: URL without ?transport= gets a
// warning.
func TestRunTURN(t *testing.T) {
	cert := testcert.New(t, "127.0.0.1")
	const bare = "turn:127.0.0.1:9"
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-turn-embedded", "127.0.0.1:0", "-turn-tls-addr", "127.0.0.1:0",
		"-turn-cert", cert.CertFile, "-turn-key", cert.KeyFile, "-turn-url", bare + ",turn:127.0.0.1:9?transport=tcp", "-turn-secret", "s"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, base, logs, stop := startCommand(t, cfg)
	defer stop()
	tok, err := lobby.GuestToken(ctx, base, "p")
	if err != nil {
		t.Fatal(err)
	}
	c, err := lobby.Dial(ctx, base, tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.CreateRoom(ctx, lobby.RoomOptions{Mode: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ICEServers) != 1 {
		t.Fatalf("ICE servers %+v", m.ICEServers)
	}
	urls := m.ICEServers[0].URLs
	if len(urls) != 5 || urls[0] != bare {
		t.Fatalf("URLs %q: want the two of -turn-url, then one per transport of the embedded server", urls)
	}
	for i, prefix := range []string{"turn:127.0.0.1:", "turn:127.0.0.1:", "turns:127.0.0.1:"} {
		u := urls[2+i]
		if !strings.HasPrefix(u, prefix) || !strings.HasSuffix(u, []string{"?transport=udp", "?transport=tcp", "?transport=tcp"}[i]) {
			t.Errorf("URL %q", u)
		}
	}
	out := logs.String()
	for _, u := range urls {
		if !strings.Contains(out, u) {
			t.Errorf("banner lacks %s", u)
		}
	}
	if !strings.Contains(out, "without ?transport=") || !strings.Contains(out, "url="+bare+"\n") {
		t.Errorf("no warning about %s:\n%s", bare, out)
	}
	c.Close()
	http.DefaultClient.CloseIdleConnections()
}

// TestRedisLogger: go-redis's lines join the command's log, as JSON when
// it is, at debug only.
func TestRedisLogger(t *testing.T) {
	var buf bytes.Buffer
	l := redisLogger{slog.New(logHandler(&buf, "json", slog.LevelDebug))}
	l.Printf(context.Background(), "redis: failed to dial after %d attempts\n", 5)
	var line struct{ Level, Msg string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not a JSON line: %q: %v", buf.String(), err)
	}
	if line.Level != "DEBUG" || line.Msg != "redis: failed to dial after 5 attempts" {
		t.Errorf("got %+v", line)
	}
	buf.Reset()
	l = redisLogger{slog.New(logHandler(&buf, "text", slog.LevelInfo))}
	l.Printf(context.Background(), "redis: noise")
	if buf.Len() != 0 {
		t.Errorf("logged above debug: %q", buf.String())
	}
}
