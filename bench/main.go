// Command bench measures Tickwire's netcode against the transports a game
// could use instead, on loopback, under simulated loss and delay, and with
// many clients, so that a claim about latency or cost is a figure anyone can
// regenerate. Every network it uses stays on loopback or inside pion's vnet.
//
//	go run ./bench rtt  [-n 20000] [-size 64] [-json] [-html FILE]
//	go run ./bench loss [-loss 0.05] [-delay 25ms] [-jitter 0] [-hz 60] [-duration 10s] [-json]
//	go run ./bench grid [-duration 4s] [-json]
//	go run ./bench ccu  [-clients 500] [-hz 30] [-size 200] [-duration 20s] [-cpuprofile FILE] [-json]
//	go run ./bench flood [-rates 25000,50000,100000,200000] [-duration 3s] [-players 2] [-kind mixed] [-json]
//	go run ./bench paths [-n 30] [-json]    (root: network namespaces)
//	go run ./bench browser [-n 1500] [-rounds 3] [-json] [-html FILE]    (chromium; make js first)
//	go run ./bench idle [-sessions 100] [-duration 10s] [-rounds 2] [-json]
//	go run ./bench connect [-n 50] [-chromium /usr/bin/chromium] [-json]
//	go run ./bench replication [-loss 0.05] [-delay 25ms] [-jitter 10ms] [-clients 4] [-duration 10s] [-scenes reference,cubes] [-json]
//	go run ./bench compare -base REV [-runs 3] [-tool auto|head|own] [-json] SUBCOMMAND [flags]
//	go run ./bench results [-o bench/RESULTS.md] [-base 907f4b3]
//
// Each prints an aligned table by default, one JSON object on stdout with
// -json, and writes a self-contained HTML report with -html. Progress goes
// to stderr, and only when stderr is a terminal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
)

// workerEnv marks a process started by ccu as a client worker. The test
// binary needs it: its TestMain must run the worker instead of the tests.
const workerEnv = "TICKWIRE_BENCH_WORKER"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], newEnv(os.Stdin, os.Stdout, os.Stderr))
	stop()
	os.Exit(code)
}

// env is what a subcommand may touch outside its arguments, so that tests
// can run subcommands in-process and capture their output.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// progress draws progress bars on stderr; only useful on a terminal.
	progress bool
	// tty is stderr when it is a terminal, for child processes to draw
	// their own progress on.
	tty *os.File
	// args are the subcommand's own arguments, recorded in its JSON so that
	// a figure always comes with the command that produced it.
	args []string
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	// ccu's workers share stderr with this process, each through a goroutine
	// of os/exec's.
	e := &env{stdin: stdin, stdout: stdout, stderr: &lockedWriter{w: stderr}}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			e.progress, e.tty = true, f
		}
	}
	return e
}

// subcommand is one of the tool's subcommands. Each registers itself from
// the file that implements it, so that main.go names none of them: compare
// -tool head builds this tool against an older library and leaves out the
// files that do not compile against it, and with them only their own
// subcommands.
type subcommand struct {
	name string
	// summary is the line usage prints; hidden subcommands (the worker
	// processes the others start) have none.
	summary string
	run     func(ctx context.Context, args []string, e *env) error
}

// subcommands is filled by init functions and only read afterwards.
var subcommands = map[string]subcommand{}

func register(list ...subcommand) {
	for _, s := range list {
		if _, dup := subcommands[s.name]; dup {
			panic("bench: subcommand " + s.name + " registered twice")
		}
		subcommands[s.name] = s
	}
}

// usageOrder is the order usage lists subcommands in; any not named here
// follow, by name.
var usageOrder = []string{"rtt", "loss", "grid", "ccu", "flood", "paths", "browser", "idle", "connect", "compare", "results"}

// run dispatches to a subcommand and returns the process exit code: 0, 1
// for a failed measurement, 2 for bad usage.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	e.args = args
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(e.stdout)
		return 0
	}
	sc, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "bench: unknown subcommand %q\n", args[0])
		usage(e.stderr)
		return 2
	}
	err := sc.run(ctx, args[1:], e)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(e.stderr, "bench %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage reports bad flags; the flag package has already said why.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: go run ./bench SUBCOMMAND [flags]\n\nsubcommands:\n")
	var names []string
	for _, name := range usageOrder {
		if _, ok := subcommands[name]; ok {
			names = append(names, name)
		}
	}
	var rest []string
	for name := range subcommands {
		if !slices.Contains(usageOrder, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range append(names, rest...) {
		if s := subcommands[name]; s.summary != "" {
			fmt.Fprintf(w, "  %-8s %s\n", name, s.summary)
		}
	}
	fmt.Fprint(w, "\nRun \"go run ./bench SUBCOMMAND -h\" for a subcommand's flags.\n")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseFlags parses args and refuses positional leftovers, which would
// otherwise be a silently ignored typo.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// usageErrorf reports an invalid flag value the way the flag package does.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return errUsage
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// String is what was written, where w keeps it (a strings.Builder).
func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.w.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}
