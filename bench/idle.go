package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

func init() {
	register(subcommand{"idle", "what idle sessions cost the server: netcode against bare pion PeerConnections with the same channels", cmdIdle})
}

// idleConfig is one idle run.
type idleConfig struct {
	workerSpec
	duration time.Duration
	settle   time.Duration
	rounds   int
}

type idleParams struct {
	Sessions  int     `json:"sessions"`
	DurationS float64 `json:"duration_s"`
	SettleS   float64 `json:"settle_s"`
	Rounds    int     `json:"rounds"`
	PerWorker int     `json:"per_worker"`
	CPUs      int     `json:"cpus"`
}

// idleResult is one kind of session's cost to the server process, the
// median over rounds.
type idleResult struct {
	Name      string `json:"name"`
	Connected int    `json:"connected"`
	// ServerCPUCores is the server process's CPU time over the measured
	// phase (getrusage) divided by its length.
	ServerCPUCores float64 `json:"server_cpu_cores"`
	// ClientsCPUCores is the worker processes' (Linux; -1 elsewhere).
	ClientsCPUCores float64 `json:"clients_cpu_cores"`
	// GoroutinesPerSession counts every goroutine the sessions added to
	// the server process; OwnGoroutinesPerSession those among them with a
	// frame in netcode's packages (none for bare pion).
	GoroutinesPerSession    float64 `json:"goroutines_per_session"`
	OwnGoroutinesPerSession float64 `json:"own_goroutines_per_session"`
	// HeapBytesPerSession is the live heap the sessions added, after a
	// full collection.
	HeapBytesPerSession float64  `json:"heap_bytes_per_session"`
	ConnectP50MS        float64  `json:"connect_p50_ms"`
	Errors              []string `json:"errors,omitempty"`

	rounds []idlePhase
}

// idleGroup is netcode's goroutines of one job: the outermost netcode
// function on their stacks.
type idleGroup struct {
	Function   string  `json:"function"`
	PerSession float64 `json:"per_session"`
}

type idleReport struct {
	Scenario string       `json:"scenario"`
	Args     []string     `json:"args"`
	Params   idleParams   `json:"params"`
	Results  []idleResult `json:"results"`
	// The ratios are netcode's figure over bare pion's.
	CPURatio       float64 `json:"cpu_ratio"`
	GoroutineRatio float64 `json:"goroutine_ratio"`
	HeapRatio      float64 `json:"heap_ratio"`
	// OwnGoroutines breaks netcode's own goroutines per session down by job.
	OwnGoroutines []idleGroup `json:"own_goroutines"`
}

func cmdIdle(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("idle", e)
	cfg := idleConfig{}
	fs.IntVar(&cfg.clients, "sessions", 100, "sessions of each kind, each with its client in a worker process")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured phase of each kind, each round")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "wait between every session connected and the measured phase, for handshakes and trickling to finish")
	fs.IntVar(&cfg.rounds, "rounds", 2, "rounds, each measuring both kinds, in alternating order (netcode, bare, bare, netcode, ...) so that drift hits both alike")
	addWorkerFlags(fs, &cfg.workerSpec, 50)
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.workerSpec.check(fs); err != nil {
		return err
	}
	if cfg.duration <= 0 || cfg.settle < 0 || cfg.rounds < 1 {
		return usageErrorf(fs, "-duration and -rounds must be positive, -settle not negative")
	}
	cfg.lifetime = cfg.settle + cfg.duration + time.Minute
	r, err := runIdle(ctx, cfg, e)
	if err != nil {
		return err
	}
	r.Args = e.args
	return emit(r, out, e)
}

func runIdle(ctx context.Context, cfg idleConfig, e *env) (*idleReport, error) {
	r := &idleReport{Scenario: "idle", Params: idleParams{
		Sessions: cfg.clients, DurationS: cfg.duration.Seconds(), SettleS: cfg.settle.Seconds(), Rounds: cfg.rounds,
		PerWorker: cfg.perWorker, CPUs: runtime.NumCPU(),
	}}
	kinds := []string{kindNetcode, kindBare}
	results := map[string]*idleResult{}
	for _, k := range kinds {
		results[k] = &idleResult{Name: k}
	}
	bar := e.newProgress("idle", 2*cfg.rounds)
	defer bar.finish()
	for round := range cfg.rounds {
		order := slices.Clone(kinds)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			bar.relabel(fmt.Sprintf("idle: round %d, %s", round+1, k))
			spec := cfg.workerSpec
			spec.kind = k
			ph, err := runIdlePhase(ctx, spec, cfg, e)
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", k, round+1, err)
			}
			res := results[k]
			res.rounds = append(res.rounds, ph)
			for _, msg := range ph.errors {
				if len(res.Errors) < maxReportedErrors {
					res.Errors = append(res.Errors, msg)
				}
			}
			bar.add(1)
		}
	}
	for _, k := range kinds {
		res := results[k]
		med := func(f func(idlePhase) float64) float64 {
			var xs []float64
			for _, ph := range res.rounds {
				xs = append(xs, f(ph))
			}
			return median(xs)
		}
		res.Connected = int(med(func(p idlePhase) float64 { return float64(p.connected) }))
		res.ServerCPUCores = med(func(p idlePhase) float64 { return p.serverCPU })
		res.ClientsCPUCores = med(func(p idlePhase) float64 { return p.clientsCPU })
		res.GoroutinesPerSession = med(func(p idlePhase) float64 { return p.goroutines })
		res.OwnGoroutinesPerSession = med(func(p idlePhase) float64 { return p.own })
		res.HeapBytesPerSession = med(func(p idlePhase) float64 { return p.heap })
		res.ConnectP50MS = med(func(p idlePhase) float64 { return p.connectP50MS })
		r.Results = append(r.Results, *res)
	}
	nc, bare := results[kindNetcode], results[kindBare]
	r.CPURatio = ratio(nc.ServerCPUCores, bare.ServerCPUCores)
	r.GoroutineRatio = ratio(nc.GoroutinesPerSession, bare.GoroutinesPerSession)
	r.HeapRatio = ratio(nc.HeapBytesPerSession, bare.HeapBytesPerSession)
	// The job breakdown of the last netcode round.
	last := nc.rounds[len(nc.rounds)-1]
	for fn, n := range last.groups {
		r.OwnGoroutines = append(r.OwnGoroutines, idleGroup{Function: fn, PerSession: n})
	}
	slices.SortFunc(r.OwnGoroutines, func(a, b idleGroup) int {
		if a.PerSession != b.PerSession {
			return -cmpFloat(a.PerSession, b.PerSession)
		}
		return strings.Compare(a.Function, b.Function)
	})
	return r, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// idlePhase is one kind measured once.
type idlePhase struct {
	connected             int
	serverCPU, clientsCPU float64
	goroutines, own, heap float64
	connectP50MS          float64
	groups                map[string]float64
	errors                []string
}

// runIdlePhase serves one kind of session in this process to spec.clients
// clients in worker processes, lets them settle, then measures what the
// idle sessions cost, and tears everything down.
func runIdlePhase(ctx context.Context, spec workerSpec, cfg idleConfig, e *env) (ph idlePhase, err error) {
	connectCtx, cancelConnect := context.WithTimeout(ctx, spec.connectTimeout)
	defer cancelConnect()

	var srv *netcode.Server
	api := bareLoopbackAPI(false)
	accept := func(ctx context.Context, sig *wsSignaler) (func(), error) {
		p, err := acceptBare(ctx, api, sig)
		if err != nil {
			return nil, err
		}
		return p.close, nil
	}
	if spec.kind == kindNetcode {
		if srv, err = netcode.NewServer(ncOptions{UDPAddr: "127.0.0.1:0"}.server()); err != nil {
			return ph, fmt.Errorf("new server: %w", err)
		}
		defer func() { _ = srv.Close() }()
		accept = func(ctx context.Context, sig *wsSignaler) (func(), error) {
			s, err := srv.Accept(ctx, sig)
			if err != nil {
				return nil, err
			}
			return func() { _ = s.Close("") }, nil
		}
	}
	type accepted struct {
		close func()
		err   error
	}
	acceptedCh := make(chan accepted, spec.clients)
	url, stopSignaling, err := serveSignaling(func(sig *wsSignaler) {
		closer, err := accept(connectCtx, sig)
		select {
		case acceptedCh <- accepted{closer, err}:
		default:
			if closer != nil {
				closer()
			}
		}
	})
	if err != nil {
		return ph, err
	}
	defer func() {
		cancelConnect() // ends the handlers still accepting
		stopSignaling()
	}()
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()

	heap0, goroutines0 := liveHeap(), runtime.NumGoroutine()
	own0, groups0 := netcodeGoroutines()

	workers, err := startWorkers(ctx, spec, url, e)
	defer stopWorkers(workers)
	if err != nil {
		return ph, err
	}
	var connects []time.Duration
	connected := 0
	for _, w := range workers {
		select {
		case h, ok := <-w.hello:
			if !ok {
				return ph, errors.New("a worker exited before connecting")
			}
			connected += h.Connected
			for _, us := range h.ConnectUS {
				connects = append(connects, time.Duration(us)*time.Microsecond)
			}
			for _, msg := range h.Errors {
				if len(ph.errors) < maxReportedErrors {
					ph.errors = append(ph.errors, msg)
				}
			}
		case <-connectCtx.Done():
			return ph, fmt.Errorf("workers did not finish connecting: %w", connectCtx.Err())
		}
	}
	for len(closers) < connected {
		select {
		case a := <-acceptedCh:
			if a.err != nil {
				connected--
				if len(ph.errors) < maxReportedErrors {
					ph.errors = append(ph.errors, "accept: "+a.err.Error())
				}
				continue
			}
			closers = append(closers, a.close)
		case <-connectCtx.Done():
			return ph, fmt.Errorf("server accepted %d of %d: %w", len(closers), connected, connectCtx.Err())
		}
	}
	if connected == 0 {
		return ph, fmt.Errorf("no session connected: %v", ph.errors)
	}
	ph.connected = connected
	slices.Sort(connects)
	if len(connects) > 0 {
		ph.connectP50MS = ms(percentile(connects, 0.5))
	}

	select {
	case <-time.After(cfg.settle):
	case <-ctx.Done():
		return ph, ctx.Err()
	}
	n := float64(connected)
	ph.heap = float64(liveHeap()-heap0) / n
	ph.goroutines = float64(runtime.NumGoroutine()-goroutines0) / n
	own1, groups1 := netcodeGoroutines()
	ph.own = float64(own1-own0) / n
	ph.groups = map[string]float64{}
	for fn, c := range groups1 {
		if d := c - groups0[fn]; d != 0 {
			ph.groups[fn] = float64(d) / n
		}
	}

	workersCPU := func() time.Duration {
		var sum time.Duration
		for _, w := range workers {
			d, err := processCPUOf(w.cmd.Process.Pid)
			if err != nil {
				return -1
			}
			sum += d
		}
		return sum
	}
	cpu0, err := processCPU()
	if err != nil {
		return ph, err
	}
	clients0 := workersCPU()
	start := time.Now()
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
		return ph, ctx.Err()
	}
	cpu1, err := processCPU()
	if err != nil {
		return ph, err
	}
	clients1 := workersCPU()
	wall := time.Since(start).Seconds()
	ph.serverCPU = (cpu1 - cpu0).Seconds() / wall
	ph.clientsCPU = -1
	if clients0 >= 0 && clients1 >= 0 {
		ph.clientsCPU = (clients1 - clients0).Seconds() / wall
	}
	return ph, nil
}

// netcodePrefix is the import path of netcode and its internal packages.
const netcodePrefix = "github.com/tickwire/tickwire/netcode"

// stackArgs is the argument list that ends a function line of a
// goroutine dump.
var stackArgs = regexp.MustCompile(`\([^()]*\)$`)

// netcodeGoroutines counts this process's goroutines that netcode started
// and runs, and groups them by the outermost netcode frame: the function
// the goroutine was started in, or the netcode call that holds it. A
// goroutine pion started is pion's even when it blocks in netcode's code
// (ICE's read loop reads through netcode's port mux; a bare pion
// PeerConnection has the same goroutine reading pion's own mux), and one
// netcode started that runs only pion's code (a channel's read loop) is
// pion's too.
func netcodeGoroutines() (total int, groups map[string]int) {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 2)
	return countNetcodeGoroutines(&buf)
}

func countNetcodeGoroutines(dump io.Reader) (total int, groups map[string]int) {
	groups = map[string]int{}
	sc := bufio.NewScanner(dump)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	outer, creator := "", ""
	isNetcode := func(fn string) bool {
		return strings.HasPrefix(fn, netcodePrefix+".") || strings.HasPrefix(fn, netcodePrefix+"/")
	}
	flush := func() {
		if outer != "" && (creator == "" || isNetcode(creator)) {
			total++
			groups[outer]++
		}
		outer, creator = "", ""
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "goroutine "):
			flush()
		case strings.HasPrefix(line, "created by "):
			creator = strings.TrimPrefix(line, "created by ")
		case line == "", strings.HasPrefix(line, "\t"):
		case isNetcode(line):
			outer = stackArgs.ReplaceAllString(line, "")
		}
	}
	flush()
	return total, groups
}

func (r *idleReport) rows() [][]string {
	var rows [][]string
	for _, res := range r.Results {
		rows = append(rows, []string{res.Name, fmt.Sprint(res.Connected), fmt.Sprintf("%.3f", res.ServerCPUCores),
			fmt.Sprintf("%.3f", res.ClientsCPUCores), fmt.Sprintf("%.1f", res.GoroutinesPerSession),
			fmt.Sprintf("%.2f", res.OwnGoroutinesPerSession), fmt.Sprintf("%.0f KiB", res.HeapBytesPerSession/1024),
			fmt.Sprintf("%.1f ms", res.ConnectP50MS)})
	}
	rows = append(rows, []string{"netcode/bare", "", fmt.Sprintf("%.2f×", r.CPURatio), "",
		fmt.Sprintf("%.2f×", r.GoroutineRatio), "", fmt.Sprintf("%.2f×", r.HeapRatio), ""})
	return rows
}

var idleHead = []string{"sessions", "connected", "server CPU (cores)", "clients CPU", "goroutines/session", "netcode's own", "heap/session", "connect p50"}

func (r *idleReport) describe() string {
	p := r.Params
	return fmt.Sprintf("%d idle sessions of each kind served by this process, clients in worker processes (%d each); %g s measured after %g s to settle, %d round(s) in alternating order, medians",
		p.Sessions, p.PerWorker, p.DurationS, p.SettleS, p.Rounds)
}

func (r *idleReport) writeTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s\n\n", r.describe()); err != nil {
		return err
	}
	tw := tabwriterFor(w)
	writeRow(tw, idleHead)
	for _, row := range r.rows() {
		writeRow(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.OwnGoroutines) > 0 {
		if _, err := fmt.Fprintln(w, "\nnetcode's own goroutines per session, by job:"); err != nil {
			return err
		}
		for _, g := range r.OwnGoroutines {
			if _, err := fmt.Fprintf(w, "  %5.2f  %s\n", g.PerSession, g.Function); err != nil {
				return err
			}
		}
	}
	for _, res := range r.Results {
		for _, msg := range res.Errors {
			if _, err := fmt.Fprintf(w, "%s error: %s\n", res.Name, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *idleReport) writeHTML(w io.Writer) error {
	sections := []htmlSection{{
		Title: "Idle sessions: netcode against bare pion", Caption: r.describe(),
		Table: htmlTable{Head: idleHead, Rows: r.rows()},
	}}
	if len(r.OwnGoroutines) > 0 {
		t := htmlTable{Head: []string{"netcode function", "goroutines per session"}}
		for _, g := range r.OwnGoroutines {
			t.Rows = append(t.Rows, []string{g.Function, fmt.Sprintf("%.2f", g.PerSession)})
		}
		sections = append(sections, htmlSection{Title: "netcode's own goroutines by job", Table: t,
			Caption: "Goroutines with a frame in netcode's packages, grouped by the outermost one, counted with every session connected minus before any."})
	}
	return writeHTMLPage(w, "Tickwire bench: idle", r.Args, sections)
}
