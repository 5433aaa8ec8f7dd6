//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tickwire/tickwire/internal/nattest"
	"github.com/tickwire/tickwire/internal/testcert"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// pathPlayerCommand is the hidden subcommand paths runs its players with,
// each a process in its namespace: pion's active ICE-TCP dials with the
// operating system's network, whatever NativeConfig.Net says.
const pathPlayerCommand = "path-player"

// pathCase is one way a player reaches a game server.
type pathCase struct {
	name      string
	player    func(l *pathLab) *nattest.Host
	serverTCP bool                         // the game server listens for ICE-TCP
	turn      func(urls []string) []string // the TURN URLs the lobby hands out
	relayOnly bool                         // the player connects relay-only
	want      func(p netcode.Path) bool    // the pair the path must select
}

type pathLab struct {
	lab                *nattest.Lab
	web, turn, game    *nattest.Host
	public, nat, noUDP *nattest.Host
	cert               *testcert.Cert
	ts                 *lobby.TURNServer
}

const pathsTURNSecret = "bench-paths-secret"

func pathCases() []pathCase {
	none := func([]string) []string { return nil }
	only := func(i int) func([]string) []string { return func(u []string) []string { return u[i : i+1] } }
	all := func(u []string) []string { return u }
	relay := func(proto string) func(p netcode.Path) bool {
		return func(p netcode.Path) bool { return p.Local.Type == "relay" && p.Local.RelayProtocol == proto }
	}
	return []pathCase{
		{name: "direct UDP", player: func(l *pathLab) *nattest.Host { return l.public }, turn: none,
			want: func(p netcode.Path) bool { return p.Local.Type == "host" && p.Local.Protocol == "udp" }},
		{name: "through a NAT (UDP)", player: func(l *pathLab) *nattest.Host { return l.nat }, turn: none,
			want: func(p netcode.Path) bool { return p.Remote.Type == "host" && p.Local.Protocol == "udp" }},
		{name: "ICE-TCP", player: func(l *pathLab) *nattest.Host { return l.noUDP }, serverTCP: true, turn: none,
			want: func(p netcode.Path) bool { return p.Local.Type == "host" && p.Local.Protocol == "tcp" }},
		{name: "TURN over UDP", player: func(l *pathLab) *nattest.Host { return l.nat }, turn: only(0), relayOnly: true, want: relay("udp")},
		{name: "TURN over TCP", player: func(l *pathLab) *nattest.Host { return l.noUDP }, turn: only(1), relayOnly: true, want: relay("tcp")},
		{name: "TURN over TLS", player: func(l *pathLab) *nattest.Host { return l.noUDP }, turn: only(2), relayOnly: true, want: relay("tls")},
		{name: "TURN over TCP, found by ICE", player: func(l *pathLab) *nattest.Host { return l.noUDP }, turn: all, want: relay("tcp")},
	}
}

func init() {
	register(
		subcommand{"paths", "match to channels open by path (UDP, NAT, ICE-TCP, TURN over UDP/TCP/TLS); root, Linux", cmdPaths},
		subcommand{pathPlayerCommand, "", cmdPathPlayer},
	)
}

// cmdPaths measures, for each way a player can reach a game server, the
// time from a match to both channels open, in network namespaces with real
// NATs (internal/nattest; root, ip and nft).
func cmdPaths(ctx context.Context, args []string, e *env) (err error) {
	fs := newFlagSet("paths", e)
	n := fs.Int("n", 30, "connections per path")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return usageErrorf(fs, "-n must be at least 1")
	}
	bt := newBenchT()
	defer func() {
		err = errors.Join(err, bt.finish(recover()))
	}()
	l := &pathLab{lab: nattest.New(bt)}
	l.web, l.turn, l.game = l.lab.Public("web"), l.lab.Public("turn"), l.lab.Public("game")
	l.public = l.lab.Public("player")
	l.nat = l.lab.Private("natted", nattest.NAT{Kind: nattest.Filtering})
	l.noUDP = l.lab.Private("noudp", nattest.NAT{Kind: nattest.BlockUDP})
	l.cert = testcert.New(bt, l.turn.IP.String())
	if l.ts, err = lobby.NewTURNServer(lobby.TURNServerConfig{
		Addr: l.turn.IP.String() + ":3478", TLSAddr: l.turn.IP.String() + ":443",
		CertFile: l.cert.CertFile, KeyFile: l.cert.KeyFile, Secret: pathsTURNSecret, Net: l.turn.Net(),
	}); err != nil {
		return err
	}
	bt.Cleanup(func() { _ = l.ts.Close() })

	r := &pathsReport{Scenario: "paths", Args: e.args, Params: pathsParams{N: *n}}
	cases := pathCases()
	bar := e.newProgress("paths", len(cases))
	defer bar.finish()
	for _, pc := range cases {
		bar.relabel("paths: " + pc.name)
		res := l.run(ctx, pc, *n, e)
		r.Results = append(r.Results, res)
		bar.add(1)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return emit(r, out, e)
}

// run serves one case's lobby and game server and runs its player process.
func (l *pathLab) run(ctx context.Context, pc pathCase, n int, e *env) pathResult {
	res := pathResult{Path: pc.name}
	fail := func(err error) pathResult { res.Error = err.Error(); return res }
	addr := l.game.IP.String() + ":7777"
	ncfg := ncOptions{Net: l.game.Net(), UDPAddr: addr}
	if pc.serverTCP {
		ncfg.TCPAddr = addr
	}
	ns, err := netcode.NewServer(ncfg.server())
	if err != nil {
		return fail(err)
	}
	defer ns.Close()
	// One player creates a room per connection and signals for each,
	// faster than the lobby's default budgets for a real player allow (32
	// signals, then 4/s: about four connections in a row; 60 messages a
	// connection, then 20/s: the lobby closes it with rate_limited some 25
	// connections in).
	ls, err := lobby.NewServer(&lobby.Config{
		TURN:           lobby.TURNConfig{URLs: pc.turn(l.ts.URLs()), Secret: pathsTURNSecret},
		RoomCreateRate: 1000, RoomCreateBurst: 1000, IPRoomCreateRate: 1000, IPRoomCreateBurst: 1000,
		SignalRate: 1000, SignalBurst: 1000, MessageRate: 1000, MessageBurst: 1000, IPMessageRate: 1000, IPMessageBurst: 1000,
	})
	if err != nil {
		return fail(err)
	}
	defer ls.Close()
	ln, err := l.web.Listen("tcp4", l.web.IP.String()+":0")
	if err != nil {
		return fail(err)
	}
	hs := &http.Server{Handler: ls, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	gs, err := ls.AttachGameServer(gctx, ns, &lobby.GameServerConfig{Capacity: 1 << 12})
	if err != nil {
		return fail(err)
	}
	defer gs.Close()
	go func() {
		// The game: take each player; it closes its side itself.
		for {
			if _, err := gs.Accept(gctx); err != nil {
				return
			}
		}
	}()

	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Duration(n)*10*time.Second+30*time.Second)
	defer cancel()
	cmdArgs := []string{pathPlayerCommand, "-lobby", "http://" + ln.Addr().String(), "-n", strconv.Itoa(n)}
	if pc.relayOnly {
		cmdArgs = append(cmdArgs, "-relay-only")
	}
	cmd := pc.player(l).Command(pctx, exe, cmdArgs...)
	// turns: is checked against the system's roots by pion: the player
	// process trusts the lab's authority that way.
	cmd.Env = append(os.Environ(), workerEnv+"=1", "SSL_CERT_FILE="+l.cert.CAFile, "SSL_CERT_DIR=/nonexistent")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, e.stderr
	if err := cmd.Run(); err != nil {
		return fail(fmt.Errorf("player: %w", err))
	}
	var rep pathPlayerReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return fail(fmt.Errorf("player said %q: %w", stdout.String(), err))
	}
	if rep.Error != "" {
		return fail(errors.New(rep.Error))
	}
	res.samples = rep.MS
	slices.Sort(res.samples)
	res.N = len(res.samples)
	if res.N > 0 {
		pct := func(q float64) float64 { return res.samples[min(res.N-1, int(q*float64(res.N)))] }
		res.P50MS, res.P99MS, res.MaxMS = pct(0.5), pct(0.99), res.samples[res.N-1]
	}
	res.Selected = rep.Path.String()
	if !pc.want(rep.Path) {
		res.Error = "unexpected path " + rep.Path.String()
	}
	return res
}

// pathPlayerReport is what a player process prints.
type pathPlayerReport struct {
	MS    []float64    `json:"ms"`
	Path  netcode.Path `json:"path"`
	Error string       `json:"error,omitempty"`
}

// cmdPathPlayer creates rooms at the lobby and connects to each, n times,
// timing match to channels open.
func cmdPathPlayer(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet(pathPlayerCommand, e)
	lobbyURL := fs.String("lobby", "", "lobby URL")
	n := fs.Int("n", 1, "connections")
	relayOnly := fs.Bool("relay-only", false, "connect through TURN only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var rep pathPlayerReport
	err := func() error {
		tok, err := lobby.GuestToken(ctx, *lobbyURL, "paths")
		if err != nil {
			return err
		}
		c, err := lobby.Dial(ctx, *lobbyURL, tok, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range *n {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := c.CreateRoom(cctx, lobby.RoomOptions{Mode: "default"})
			if err != nil {
				cancel()
				return fmt.Errorf("connection %d: create room: %w", i+1, err)
			}
			start := time.Now()
			nc, err := c.Connect(cctx, m, ncOptions{RelayOnly: *relayOnly}.client())
			if err != nil {
				cancel()
				return fmt.Errorf("connection %d: connect: %w", i+1, err)
			}
			rep.MS = append(rep.MS, float64(time.Since(start).Microseconds())/1000)
			rep.Path, err = nc.Path(cctx)
			_ = nc.Close()
			if err != nil {
				err = fmt.Errorf("connection %d: path: %w", i+1, err)
			} else if err = c.Leave(cctx); err != nil {
				err = fmt.Errorf("connection %d: leave: %w", i+1, err)
			}
			cancel()
			if err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		rep.Error = err.Error()
	}
	return json.NewEncoder(e.stdout).Encode(rep)
}

// benchT is what nattest and testcert need of a test, for a command: Fatal
// unwinds to cmdPaths, which runs the cleanups.
type benchT struct {
	cleanups []func()
	failed   bool
	logs     []string
}

type benchFatal struct{ msg string }

func newBenchT() *benchT                         { return &benchT{} }
func (b *benchT) Helper()                        {}
func (b *benchT) Cleanup(f func())               { b.cleanups = append(b.cleanups, f) }
func (b *benchT) Failed() bool                   { return b.failed }
func (b *benchT) Logf(format string, a ...any)   { b.logs = append(b.logs, fmt.Sprintf(format, a...)) }
func (b *benchT) Errorf(format string, a ...any) { b.failed = true; b.Logf(format, a...) }
func (b *benchT) Fatal(a ...any)                 { b.failed = true; panic(benchFatal{fmt.Sprint(a...)}) }
func (b *benchT) Fatalf(format string, a ...any) {
	b.failed = true
	panic(benchFatal{fmt.Sprintf(format, a...)})
}
func (b *benchT) Skipf(format string, a ...any) { panic(benchFatal{fmt.Sprintf(format, a...)}) }
func (b *benchT) TempDir() string {
	dir, err := os.MkdirTemp("", "tickwire-paths-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// finish runs the cleanups, last first, and turns a Fatal's panic into an
// error (any other panic goes on).
func (b *benchT) finish(p any) error {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	var err error
	if p != nil {
		f, ok := p.(benchFatal)
		if !ok {
			panic(p)
		}
		err = errors.New(f.msg)
	}
	if len(b.logs) > 0 && err != nil {
		err = fmt.Errorf("%w\n%s", err, strings.Join(b.logs, "\n"))
	}
	return err
}
