package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Issue 18 measures the lobby in memory and on Redis with the lobby
// package's own Go benchmarks (lobby/cluster_bench_test.go): they are how
// docs/scaling.md tells a user to measure it, so this section runs exactly
// those `go test -bench` commands and parses go test's output, rather than
// keeping a second copy of the benchmarks here that could drift from them.

func init() {
	register(subcommand{"lobby", "issue 18: the lobby's Go benchmarks in memory and on Redis, as a Markdown section", cmdLobby})
}

// lobbyModes are the sub-benchmarks of every lobby benchmark, in the
// order of the table's columns.
var lobbyModes = []struct{ name, title string }{
	{"memory", "one node, in memory"},
	{"redis-1", "one node on Redis"},
	{"redis-3", "three nodes on Redis"},
}

func lobbyModeNames() []string {
	var names []string
	for _, m := range lobbyModes {
		names = append(names, m.name)
	}
	return names
}

// lobbyFlags are the section's flags, shared by `lobby` and `results`
// (there with a prefix).
type lobbyFlags struct {
	matchN, openN, signalN int
}

func addLobbyFlags(fs *flag.FlagSet, prefix string) *lobbyFlags {
	f := &lobbyFlags{}
	fs.IntVar(&f.matchN, prefix+"match-n", 5, "issue 18: BenchmarkMatchRate's -benchtime, rounds of 400 players")
	fs.IntVar(&f.openN, prefix+"open-n", 60, "issue 18: BenchmarkClusterJoinToOpen's -benchtime, pairs of players")
	fs.IntVar(&f.signalN, prefix+"signal-n", 3000, "issue 18: BenchmarkSignalRelay's -benchtime, signals")
	return f
}

func (f *lobbyFlags) check(fs *flag.FlagSet, prefix string) error {
	for _, v := range []struct {
		name string
		n    int
	}{{"match-n", f.matchN}, {"open-n", f.openN}, {"signal-n", f.signalN}} {
		if v.n < 1 {
			return usageErrorf(fs, "-%s%s must be at least 1", prefix, v.name)
		}
	}
	return nil
}

// cmdLobby runs the section alone and prints its Markdown.
func cmdLobby(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("lobby", e)
	lf := addLobbyFlags(fs, "")
	goTool := fs.String("go", "go", "go command that runs the benchmarks")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := lf.check(fs, ""); err != nil {
		return err
	}
	d := runIssue18(ctx, *goTool, lf, e.stderr)
	writeIssue18Markdown(e.stdout, d)
	return d.err()
}

// lobbyBench is one benchmark of the section: one `go test` run.
type lobbyBench struct {
	name  string // BenchmarkMatchRate
	n     int    // -benchtime Nx
	shown string // the command, as the write-up prints it
	took  time.Duration
	out   benchOutput
	// err is go test's failure or the parser's, with the output's tail.
	err error
}

type issue18Doc struct {
	skipped string
	// noRedis says why the Redis modes were left out.
	noRedis             string
	match, open, signal *lobbyBench
}

func (d *issue18Doc) all() []*lobbyBench { return []*lobbyBench{d.match, d.open, d.signal} }

// err is the first failure, for `lobby`'s exit code.
func (d *issue18Doc) err() error {
	for _, b := range d.all() {
		if b != nil && b.err != nil {
			return fmt.Errorf("%s: %w", b.name, b.err)
		}
	}
	return nil
}

// runIssue18 runs the three benchmarks, each in one go test process in
// the lobby package. Without redis-server it runs the in-memory mode
// alone: the lobby's Redis benchmarks skip without one (and fail under
// CI=true), which would otherwise say nothing in the write-up.
func runIssue18(ctx context.Context, goTool string, lf *lobbyFlags, stderr io.Writer) *issue18Doc {
	d := &issue18Doc{}
	modes := lobbyModeNames()
	if _, err := exec.LookPath("redis-server"); err != nil {
		d.noRedis = "redis-server is not on PATH"
		modes = modes[:1]
	}
	run := func(name string, n int) *lobbyBench {
		b := &lobbyBench{name: name, n: n}
		pattern := "^" + name + "$"
		if len(modes) < len(lobbyModes) {
			pattern += "/^(" + strings.Join(modes, "|") + ")$"
		}
		args := []string{"test", "-run", "^$", "-bench", pattern, "-benchtime", strconv.Itoa(n) + "x", "./lobby/"}
		b.shown = fmt.Sprintf("%s test -run '^$' -bench '%s' -benchtime %dx ./lobby/", goTool, pattern, n)
		fmt.Fprintf(stderr, "results: %s\n", b.shown)
		start := time.Now()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Stdout = io.MultiWriter(&out, stderr)
		cmd.Stderr = cmd.Stdout
		runErr := cmd.Run()
		b.took = time.Since(start)
		var parseErr error
		b.out, parseErr = parseBenchOutput(out.String(), lobbyModeNames())
		if runErr != nil {
			b.err = fmt.Errorf("%w: %s", runErr, outputTail(out.String()))
		} else if parseErr != nil {
			b.err = parseErr
		}
		if b.err != nil {
			fmt.Fprintf(stderr, "results: %s: %v\n", name, b.err)
		}
		return b
	}
	d.match = run("BenchmarkMatchRate", lf.matchN)
	d.open = run("BenchmarkClusterJoinToOpen", lf.openN)
	d.signal = run("BenchmarkSignalRelay", lf.signalN)
	return d
}

// outputTail is the last lines of go test's output that say why it
// failed, on one line.
func outputTail(out string) string {
	var keep []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "Benchmark") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[max(0, len(keep)-4):], " / ")
}

// benchResult is one result line of go test -bench.
type benchResult struct {
	// Name is the benchmark's full name without the GOMAXPROCS suffix.
	Name string
	// Bench is the top-level benchmark, Mode its sub-benchmark ("" if none).
	Bench, Mode string
	N           int
	// Metrics are by unit: "ns/op", and b.ReportMetric's ("tickets/s").
	Metrics map[string]float64
}

// benchNote is a sub-benchmark go test marked FAIL or SKIP, and why.
type benchNote struct {
	Name, Kind, Reason string
}

type benchOutput struct {
	Results []benchResult
	Notes   []benchNote
}

// result returns the result of bench in mode, or nil.
func (o *benchOutput) result(bench, mode string) *benchResult {
	for i := range o.Results {
		if o.Results[i].Bench == bench && o.Results[i].Mode == mode {
			return &o.Results[i]
		}
	}
	return nil
}

var procsSuffix = regexp.MustCompile(`-[0-9]+$`)

// parseBenchOutput reads go test -bench's text output: result lines
//
//	BenchmarkX/mode-2   	  60	  13826671 ns/op	  9.590 p50-ms	  70.88 p99-ms
//
// and "--- FAIL:"/"--- SKIP:" lines with the reason under them. modes are
// the sub-benchmark names known to end in digits themselves ("redis-1"):
// go test appends "-GOMAXPROCS" only when that is not 1, so "redis-1"
// alone cannot say which it is. A line that starts like a result but does
// not parse as one is an error, and left out; the others are returned.
func parseBenchOutput(out string, modes []string) (benchOutput, error) {
	var o benchOutput
	var errs []error
	var note *benchNote
	for i, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if note != nil {
			if rest, ok := strings.CutPrefix(line, "    "); ok && note.Reason == "" {
				note.Reason = strings.TrimSpace(rest)
				continue
			}
			if !strings.HasPrefix(line, "    ") {
				o.Notes = append(o.Notes, *note)
				note = nil
			}
		}
		trimmed := strings.TrimSpace(line)
		for _, kind := range []string{"FAIL", "SKIP"} {
			if rest, ok := strings.CutPrefix(trimmed, "--- "+kind+": "); ok {
				name, _, _ := strings.Cut(rest, " ")
				note = &benchNote{Name: name, Kind: kind}
			}
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 1 {
			continue // the name alone, printed before a benchmark's log lines
		}
		r, err := parseBenchLine(f, modes)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d %q: %w", i+1, trimmed, err))
			continue
		}
		o.Results = append(o.Results, r)
	}
	if note != nil {
		o.Notes = append(o.Notes, *note)
	}
	return o, errors.Join(errs...)
}

func parseBenchLine(f []string, modes []string) (benchResult, error) {
	r := benchResult{Metrics: map[string]float64{}}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 1 {
		return r, fmt.Errorf("iterations %q are not a positive count", f[1])
	}
	r.N = n
	vals := f[2:]
	if len(vals) == 0 || len(vals)%2 != 0 {
		return r, errors.New("want value and unit pairs after the iterations")
	}
	for j := 0; j < len(vals); j += 2 {
		v, err := strconv.ParseFloat(vals[j], 64)
		if err != nil {
			return r, fmt.Errorf("%s: value %q is not a number", vals[j+1], vals[j])
		}
		if _, dup := r.Metrics[vals[j+1]]; dup {
			return r, fmt.Errorf("unit %q twice", vals[j+1])
		}
		r.Metrics[vals[j+1]] = v
	}
	bench, sub, hasSub := strings.Cut(f[0], "/")
	if !hasSub {
		r.Bench = procsSuffix.ReplaceAllString(bench, "")
		r.Name = r.Bench
		return r, nil
	}
	r.Bench, r.Mode = bench, procsSuffix.ReplaceAllString(sub, "")
	for _, m := range modes {
		if sub == m || (strings.HasPrefix(sub, m+"-") && procsSuffix.MatchString(strings.TrimPrefix(sub, m))) {
			r.Mode = m
			break
		}
	}
	r.Name = r.Bench + "/" + r.Mode
	return r, nil
}

// metric is a metric of bench's result in mode, if measured.
func (b *lobbyBench) metric(mode, unit string) (float64, bool) {
	if b == nil {
		return 0, false
	}
	r := b.out.result(b.name, mode)
	if r == nil {
		return 0, false
	}
	v, ok := r.Metrics[unit]
	return v, ok
}

func writeIssue18Markdown(w io.Writer, d *issue18Doc) {
	if d == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Issue 18: the lobby in memory and on Redis (`go test -bench`, lobby)\n\n")
	if d.skipped != "" {
		p("Not measured: %s.\n", d.skipped)
		return
	}
	p("The lobby package's benchmarks (lobby/cluster_bench_test.go), run by `go test` in this tree: one lobby node keeping its state in memory, one node on Redis, and three nodes on one Redis (a redis-server of the benchmark's own, on loopback). Players, game servers, lobby nodes and Redis all share this machine's cores: compare the modes within this table. ")
	p("*Tickets matched per second*: 400 players, connected through the nodes in turn, queue for rooms of four at once, and the clock runs until the last has its match (matchmaking, placement and the messages around them; no WebRTC). *Queue to both channels open*: two players queue for a duel and connect to its netcode game server. *One signal*: a candidate from a player's WebSocket to its game server's; on three nodes the player and the game server are on different nodes, so the signal crosses between them through Redis, on one node on Redis it stays on that node.\n\n")
	if d.noRedis != "" {
		p("**Redis modes not measured**: %s (install redis-server); only the in-memory column was run.\n\n", d.noRedis)
	}
	p("| | %s | %s | %s |\n|---|---:|---:|---:|\n", lobbyModes[0].title, lobbyModes[1].title, lobbyModes[2].title)
	row := func(label string, b *lobbyBench, unit string, format func(float64) string) {
		p("| %s |", label)
		for _, m := range lobbyModes {
			if v, ok := b.metric(m.name, unit); ok {
				p(" %s |", format(v))
			} else {
				p(" — |")
			}
		}
		p("\n")
	}
	perSec := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }
	us := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + " us" }
	row("tickets matched per second", d.match, "tickets/s", perSec)
	row("queue to both channels open, p50", d.open, "p50-ms", ms)
	row("queue to both channels open, p99", d.open, "p99-ms", ms)
	row("one signal, player to game server, p50", d.signal, "p50-us", us)
	row("one signal, player to game server, p99", d.signal, "p99-us", us)

	// What crossing nodes adds: three nodes against one, both on Redis,
	// where a signal takes the same Redis operations either way.
	across50, ok1 := d.signal.metric("redis-3", "p50-us")
	across99, ok2 := d.signal.metric("redis-3", "p99-us")
	same50, ok3 := d.signal.metric("redis-1", "p50-us")
	same99, ok4 := d.signal.metric("redis-1", "p99-us")
	if ok1 && ok2 && ok3 && ok4 {
		p("\nCross-node signaling adds %+.0f us at p50 and %+.0f us at p99 to a signal that stays on one node on Redis (three nodes against one).", across50-same50, across99-same99)
		if mem50, ok := d.signal.metric("memory", "p50-us"); ok {
			mem99, _ := d.signal.metric("memory", "p99-us")
			p(" Against one node in memory, where a signal never leaves the process: %+.0f us at p50, %+.0f us at p99.", across50-mem50, across99-mem99)
		}
		p("\n")
	}

	for _, b := range d.all() {
		if b == nil {
			continue
		}
		if b.err != nil {
			p("\n**%s failed** (`%s`): %s\n", b.name, b.shown, firstLine(b.err.Error()))
		}
		for _, n := range b.out.Notes {
			p("\n- %s: %s %s\n", n.Name, n.Kind, n.Reason)
		}
	}
	p("\nEach with how long it took, builds included:\n\n```\n")
	for _, c := range d.commands() {
		p("%s\n", c)
	}
	p("```\n\n`go run ./bench lobby` runs this section alone; `go run ./bench results -lobby=false` leaves it out.\n")
}

// lobbyCommands are the section's commands for the write-up's list.
func (d *issue18Doc) commands() []string {
	var out []string
	for _, b := range d.all() {
		if b != nil {
			out = append(out, fmt.Sprintf("%s    # %s", b.shown, b.took.Round(time.Second)))
		}
	}
	return out
}
