package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func init() {
	register(subcommand{"results", "run the standard set and write bench/RESULTS.md", cmdResults})
}

// cmdResults runs the standard set of measurements, each in its own
// process exactly as a user would run it, and writes them up in Markdown
// with the machine they ran on. `make bench` runs it.
func cmdResults(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("results", e)
	outPath := fs.String("o", "bench/RESULTS.md", "Markdown file to write")
	rttN := fs.Int("rtt-n", 20000, "rtt: round trips per transport")
	// Longer than loss's own default: whether the reliable channel meets
	// SCTP's 1 s retransmission timeout (a retransmission lost too) within
	// one run is chance, and 10 s at 5% loss sees only about one such event.
	lossDuration := fs.Duration("loss-duration", 30*time.Second, "loss: stream duration")
	gridDuration := fs.Duration("grid-duration", 4*time.Second, "grid: stream duration per cell")
	ccuClients := fs.Int("ccu-clients", 500, "ccu: the goal's client count, profiled")
	ccuSweep := fs.String("ccu-sweep", "100,250,350,400,500,750,1000,1500", "ccu: client counts to try, ascending, stopping at the first that breaks past -ccu-clients")
	ccuDuration := fs.Duration("ccu-duration", 20*time.Second, "ccu: measured phase")
	goTool := fs.String("go", "go", "go command, for `go tool pprof` and compare's builds")
	base := fs.String("base", "907f4b3", "issue 16: the `revision` to compare netcode with (bench compare); empty to skip that section, which takes about ten minutes")
	compareRuns := fs.Int("compare-runs", 1, "issue 16: runs of each side of each compare")
	lobby := fs.Bool("lobby", true, "issue 18: run the lobby's Go benchmarks (in memory and on Redis); false leaves that section out")
	lobbyFlags := addLobbyFlags(fs, "lobby-")
	replication := fs.Bool("replication", true, "issue 17: run the replication bench; false leaves that section out")
	replDuration := fs.Duration("replication-duration", 10*time.Second, "issue 17: replication's measured phase per scene")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := lobbyFlags.check(fs, "lobby-"); err != nil {
		return err
	}
	sweep, err := parseList(*ccuSweep, strconv.Atoi)
	if err != nil {
		return usageErrorf(fs, "-ccu-sweep: %v", err)
	}
	sweep = append(sweep, *ccuClients)
	slices.Sort(sweep)
	sweep = slices.Compact(sweep)

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	tmp, err := os.MkdirTemp("", "tickwire-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// measure runs one subcommand in a child process and decodes its JSON.
	var commands []string
	measure := func(v any, args ...string) error {
		// -json right after the subcommand: compare passes what follows its
		// own flags to the subcommand it runs.
		args = append([]string{args[0], "-json"}, args[1:]...)
		// The temporary directory means nothing in the write-up.
		shown := "go run ./bench " + strings.ReplaceAll(strings.Join(args, " "), tmp+string(filepath.Separator), "")
		fmt.Fprintf(e.stderr, "results: %s\n", shown)
		start := time.Now()
		defer func() {
			commands = append(commands, fmt.Sprintf("%s    # %s", shown, time.Since(start).Round(time.Second)))
		}()
		cmd := exec.CommandContext(ctx, exe, args...)
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, e.stderr
		if e.tty != nil {
			cmd.Stderr = e.tty // so that the child draws its progress bar
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
		if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
			return fmt.Errorf("%s: decode output: %w", strings.Join(args, " "), err)
		}
		return nil
	}

	started, loadBefore := time.Now(), loadAverage()
	var rtt rttReport
	if err := measure(&rtt, "rtt", "-n", strconv.Itoa(*rttN)); err != nil {
		return err
	}
	var loss lossReport
	if err := measure(&loss, "loss", "-loss", "0.05", "-delay", "25ms", "-duration", lossDuration.String()); err != nil {
		return err
	}
	var grid gridReport
	if err := measure(&grid, "grid", "-duration", gridDuration.String()); err != nil {
		return err
	}
	var ccus []ccuReport
	var profileTop, profileCum string
	for _, n := range sweep {
		args := []string{"ccu", "-clients", strconv.Itoa(n), "-duration", ccuDuration.String()}
		prof := ""
		if n == *ccuClients {
			prof = filepath.Join(tmp, "ccu.pprof")
			args = append(args, "-cpuprofile", prof)
		}
		var r ccuReport
		if err := measure(&r, args...); err != nil {
			return err
		}
		r.CPUProfile = ""
		ccus = append(ccus, r)
		if prof != "" {
			profileTop = pprofTop(ctx, *goTool, prof, "-top")
			profileCum = pprofTop(ctx, *goTool, prof, "-top", "-cum")
		}
		if n >= *ccuClients && ccuBroken(&r) != "" {
			break
		}
	}

	var flood floodReport
	if err := measure(&flood, "flood", "-rates", "50000,100000,200000,300000"); err != nil {
		return err
	}
	// paths builds network namespaces: root on Linux only.
	var paths *pathsReport
	pathsSkipped := ""
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		pathsSkipped = "needs root on Linux (network namespaces)"
	} else {
		paths = &pathsReport{}
		if err := measure(paths, "paths", "-n", "30"); err != nil {
			return err
		}
	}

	issue16 := newIssue16Doc(*base, *compareRuns, *ccuDuration, *goTool)
	if *base == "" {
		issue16.skipped = "-base is empty"
	} else {
		for _, run := range issue16.all() {
			start := time.Now()
			run.r = &compareReport{}
			if run.err = measure(run.r, run.args...); run.err != nil {
				run.r = nil
				fmt.Fprintf(e.stderr, "results: %v\n", run.err)
			}
			run.took = time.Since(start)
		}
	}

	issue17 := &issue17Doc{skipped: "-replication=false"}
	if *replication {
		issue17 = &issue17Doc{args: []string{"replication", "-duration", replDuration.String()}, r: &replReport{}}
		start := time.Now()
		if issue17.err = measure(issue17.r, issue17.args...); issue17.err != nil {
			issue17.r = nil
			fmt.Fprintf(e.stderr, "results: %v\n", issue17.err)
		}
		issue17.took = time.Since(start)
	}

	issue18 := &issue18Doc{skipped: "-lobby=false"}
	if *lobby {
		issue18 = runIssue18(ctx, *goTool, lobbyFlags, e.stderr)
		commands = append(commands, issue18.commands()...)
	}

	var md bytes.Buffer
	writeResultsMarkdown(&md, resultsDoc{
		started: started, took: time.Since(started), commands: commands,
		loadBefore: loadBefore, loadAfter: loadAverage(),
		rtt: &rtt, loss: &loss, grid: &grid, ccus: ccus, goalClients: *ccuClients,
		profileTop: profileTop, profileCum: profileCum,
		flood: &flood, paths: paths, pathsSkipped: pathsSkipped, issue16: issue16,
		issue17: issue17, issue18: issue18,
	})
	if err := os.WriteFile(*outPath, md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *outPath, err)
	}
	fmt.Fprintf(e.stderr, "results: wrote %s\n", *outPath)
	return nil
}

// ccuBroken says why a ccu run missed the bar, or "" if it did not: every
// client connected, snapshot p99 within one tick, 99% delivered, and the
// server keeping its tick rate.
func ccuBroken(r *ccuReport) string {
	tickUS := 1e6 / float64(r.Params.Hz)
	var why []string
	if r.ClientsConnected < r.Params.Clients {
		why = append(why, fmt.Sprintf("%d of %d connected", r.ClientsConnected, r.Params.Clients))
	}
	if r.SnapshotP99US > tickUS {
		why = append(why, fmt.Sprintf("p99 %s over one tick", fmtMicros(r.SnapshotP99US)))
	}
	if r.Delivered < 0.99 {
		why = append(why, fmt.Sprintf("%.1f%% delivered", 100*r.Delivered))
	}
	if r.TicksExpected > 0 && float64(r.Ticks) < 0.99*float64(r.TicksExpected) {
		why = append(why, fmt.Sprintf("%d of %d ticks", r.Ticks, r.TicksExpected))
	}
	return strings.Join(why, ", ")
}

// pprofTop renders a profile's top functions, or says why it could not.
func pprofTop(ctx context.Context, goTool, profile string, flags ...string) string {
	args := append([]string{"tool", "pprof", "-nodecount=25"}, flags...)
	out, err := exec.CommandContext(ctx, goTool, append(args, profile)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof failed: %v)\n%s", err, out)
	}
	return string(out)
}

type resultsDoc struct {
	started                time.Time
	took                   time.Duration
	commands               []string
	rtt                    *rttReport
	loss                   *lossReport
	grid                   *gridReport
	ccus                   []ccuReport
	goalClients            int
	profileTop, profileCum string
	loadBefore, loadAfter  string
	flood                  *floodReport
	paths                  *pathsReport
	pathsSkipped           string
	issue16                *issue16Doc
	issue17                *issue17Doc
	issue18                *issue18Doc
}

func writeResultsMarkdown(w io.Writer, d resultsDoc) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Tickwire benchmark results\n\n")
	p("Generated by `make bench` (`go run ./bench results`), %s, in %s. ", d.started.UTC().Format("2006-01-02 15:04 MST"),
		d.took.Round(time.Second))
	p("Regenerate with `make bench`; every figure below comes from one run of the commands listed, on this machine:\n\n")
	p("- CPU: %s, %d logical CPUs\n", cpuModel(), runtime.NumCPU())
	p("- Go: %s %s/%s; kernel %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, kernelRelease())
	p("- Load average (1, 5, 15 min) before the run: %s; after: %s\n", d.loadBefore, d.loadAfter)
	p("\nFigures from one run on one virtual machine, which other work may share: compare transports within a table, not across runs.\n\n")

	p("## Goals\n\n")
	p("| goal | measured | met |\n|---|---|---|\n")
	for _, g := range goals(d) {
		p("| %s | %s | %s |\n", g.goal, g.measured, yesNo(g.met))
	}

	p("\n## Loopback echo round trip (`rtt`)\n\n")
	p("Each transport echoes a %d-byte message %d times, in batches of %d round-robin with the others after %d warm-up trips, so that the machine's drift hits each alike. ",
		d.rtt.Size, firstN(d.rtt.Results), rttBatch, warmupTrips)
	p("`netcode` is a client input echoed by the server as a snapshot (`SendInput` → `Session.ReadInput` → `Session.SendSnapshot` → `ReadSnapshot`). Lost: no echo within %v.\n\n", echoTimeout)
	markdownResults(w, d.rtt.Results, nil, nil)

	lp := d.loss.Params
	p("\n## One-way latency under loss (`loss`)\n\n")
	p("Over pion's vnet: %.3g%% loss in each direction, %g ms one-way delay, %d Hz of %d-byte messages for %g s, server to client, all three transports at once on their own host pairs. ",
		100*lp.Loss, lp.DelayMS, lp.Hz, lp.Size, lp.DurationS)
	p("Latency is stamped at send and read at arrival in one process. Delivered: arrived within %g s of the last send. Packets/msg: UDP packets on the wire in both directions (data, SACKs, FORWARD-TSNs, retransmissions, keepalives, netcode pings), dropped ones included, per message sent.\n\n", lp.DrainS)
	markdownLoss(w, d.loss.Results)

	gp := d.grid.Params
	p("\n## Loss by delay (`grid`)\n\n")
	p("As `loss`, %g s per cell, %d Hz, %d-byte messages.\n\n", gp.DurationS, gp.Hz, gp.Size)
	p("| loss | delay | transport | delivered | p50 | p99 | max | packets/msg |\n|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, c := range d.grid.Cells {
		for _, r := range c.Results {
			p("| %.3g%% | %g ms | %s | %.1f%% | %s | %s | %s | %.2f |\n", 100*c.Loss, c.DelayMS, r.Transport, 100*r.Delivered,
				fmtMicros(r.P50), fmtMicros(r.P99), fmtMicros(r.Max), r.WirePacketsPerMsg)
		}
	}

	p("\n## Many clients (`ccu`)\n\n")
	p("One netcode server in the measuring process; the clients in worker processes (up to 50 each) on the same machine, so the server's CPU (getrusage of its process over the measured phase) is its own, but the clients compete with it for the same cores. ")
	p("Each tick the server sends every session one snapshot stamped with the wall-clock time; latency is from that stamp to netcode reading the snapshot in the client's process. Heap and goroutines per client: the server process's live heap and goroutine count with every client connected, minus before any, divided by clients. ")
	p("Connect: signaling WebSocket dial to `Dial` returning, %d at a time per worker. A run breaks when a client fails to connect, p99 exceeds one tick, under 99%% is delivered, or the server misses ticks.\n\n", paramsParallel(d.ccus))
	p("| clients | connected | snapshot p50 | p99 | max | delivered | ticks | server CPU (cores) | server CPU per snapshot | heap/client | goroutines/client | connect p50 | p99 | machine busy | verdict |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var broke *ccuReport
	for i := range d.ccus {
		r := &d.ccus[i]
		verdict := "ok"
		if why := ccuBroken(r); why != "" {
			verdict = "**breaks**: " + why
			if broke == nil {
				broke = r
			}
		}
		p("| %d | %d | %s | %s | %s | %.2f%% | %d/%d | %.2f | %s | %.0f KiB | %.1f | %.0f ms | %.0f ms | %.0f%% | %s |\n",
			r.Params.Clients, r.ClientsConnected, fmtMicros(r.SnapshotP50US), fmtMicros(r.SnapshotP99US), fmtMicros(r.SnapshotMaxUS),
			100*r.Delivered, r.Ticks, r.TicksExpected, r.ServerCPUCores, fmtMicros(cpuPerSnapshotUS(r)),
			r.ServerHeapBytesPerClient/1024, r.ServerGoroutinesPerClient, r.ConnectP50MS, r.ConnectP99MS, 100*r.MachineCPUBusy, verdict)
	}
	p("\nWhere the undelivered snapshots went, both phases, summed over clients. *Arrived*: netcode took them off the network. *Read*: the client's read loop got them before a newer one replaced them (newest wins), so arrived minus read is client starvation. *Lost*: never arrived (sequence gaps). *Stale*: arrived after a newer one. *Kernel UDP drops*: datagrams the kernel dropped machine-wide for a full socket receive buffer during the tick phase; with no snapshot lost, these are packets to the server's one socket (acknowledgements, pings).\n\n")
	p("| clients | arrived | read | lost | stale | kernel UDP drops |\n|---:|---:|---:|---:|---:|---:|\n")
	for i := range d.ccus {
		r := &d.ccus[i]
		p("| %d | %d | %d | %d | %d | %d |\n", r.Params.Clients, r.ClientArrived, r.ClientRead, r.ClientNetLost, r.ClientStale, r.UDPRcvbufErrors)
	}
	if broke != nil {
		p("\nFirst count that breaks: **%d clients** (%s).", broke.Params.Clients, ccuBroken(broke))
		if broke.MachineCPUBusy > 0.9 {
			p(" The machine was %.0f%% busy: the server used %.2f of its %d cores and the clients, on the same cores, the rest, so snapshots waited for the clients' read loops to be scheduled as much as for the server.",
				100*broke.MachineCPUBusy, broke.ServerCPUCores, broke.Params.CPUs)
		}
		p("\n")
	}
	for i := range d.ccus {
		for _, msg := range d.ccus[i].Errors {
			p("\n- %d clients: %s", d.ccus[i].Params.Clients, msg)
		}
	}
	if d.profileTop != "" {
		p("\n\n### Where the server's CPU goes, %d clients (`-cpuprofile`, measured phase)\n\n", d.goalClients)
		p("`go tool pprof -top -nodecount=25`:\n\n```\n%s```\n\n", d.profileTop)
		p("Cumulative (`-top -cum`):\n\n```\n%s```\n", d.profileCum)
	}

	if d.flood != nil {
		fp := d.flood.Params
		p("\n## Players under a UDP flood (`flood`)\n\n")
		p("%d players echo an input as a snapshot every 5 ms through one server while another process floods, from 256 source ports, with a %s mix of random datagrams, STUN binding requests naming no session and DTLS ClientHellos: first a UDP port nobody listens on (*dead*, the control: the same load on the machine and its kernel), then the game server's own (*game*). %g s a phase. *Dropped*: datagrams the server read and dropped as unknown (`ServerStats.UDPUnknown`).\n\n",
			fp.Players, fp.Kind, fp.DurationS)
		p("| flood/s | at | sent | dropped | trips | lost | p50 | p99 | p50 vs dead |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, ph := range d.flood.Phases {
			p("| %d | %s | %d | %d | %d | %d | %s | %s | %s |\n", ph.Rate, ph.Target, ph.Sent, ph.Dropped, ph.N, ph.Lost,
				fmtMicros(ph.P50), fmtMicros(ph.P99), d.flood.ratio(ph))
		}
	}
	p("\n## Match to channels open, by path (`paths`)\n\n")
	if d.paths == nil {
		p("Not measured: %s.\n", d.pathsSkipped)
	} else {
		p("In network namespaces with real NATs (internal/nattest): a public game server (UDP and, for ICE-TCP, TCP on port 7777), a lobby and a TURN server (UDP, TCP and TLS) on a public bridge, players on it, behind an address-and-port-filtering NAT, or behind one that drops all UDP. Each player is a process in its namespace and connects %d times: create a room, `Connect`, close. The TURN rows but the last are relay-only; the last is a player on the UDP-blocked network with every TURN URL and a server without ICE-TCP, which ICE leaves to find the relay.\n\n", d.paths.Params.N)
		p("| path | n | p50 | p99 | max | selected pair (player's side) |\n|---|---:|---:|---:|---:|---|\n")
		for _, r := range d.paths.Results {
			sel := r.Selected
			if r.Error != "" {
				sel = "**error**: " + r.Error
			}
			p("| %s | %d | %s | %s | %s | %s |\n", r.Path, r.N, fmtMS(r.P50MS), fmtMS(r.P99MS), fmtMS(r.MaxMS), sel)
		}
	}

	writeIssue16Markdown(w, d.issue16)
	writeIssue17Markdown(w, d.issue17)
	writeIssue18Markdown(w, d.issue18)

	p("\n## Commands\n\nEach with how long it took.\n\n```\n")
	for _, c := range d.commands {
		p("%s\n", c)
	}
	p("```\n")
}

type goal struct {
	goal, measured string
	met            bool
}

func goals(d resultsDoc) []goal {
	var out []goal
	if nc, un := find(d.rtt.Results, "netcode"), find(d.rtt.Results, "dc-unreliable"); nc != nil && un != nil && un.P50 > 0 {
		ratio := nc.P50 / un.P50
		out = append(out, goal{"loopback: netcode p50 ≤ 1.2× dc-unreliable p50",
			fmt.Sprintf("%s vs %s: %.2f×", fmtMicros(nc.P50), fmtMicros(un.P50), ratio), ratio <= 1.2})
	}
	lp := d.loss.Params
	var lossResults []result
	for _, r := range d.loss.Results {
		lossResults = append(lossResults, r.result)
	}
	if nc := find(lossResults, "netcode"); nc != nil {
		limit := 1.2 * lp.DelayMS * 1000
		out = append(out, goal{fmt.Sprintf("%.3g%% loss, %g ms: netcode p99 within 20%% of the delay (≤ %s)", 100*lp.Loss, lp.DelayMS, fmtMicros(limit)),
			fmtMicros(nc.P99), nc.P99 <= limit})
	}
	if rel := find(lossResults, "dc-reliable"); rel != nil {
		out = append(out, goal{fmt.Sprintf("%.3g%% loss, %g ms: dc-reliable p99 in seconds", 100*lp.Loss, lp.DelayMS),
			fmtMicros(rel.P99), rel.P99 >= 1e6})
	}
	for i := range d.ccus {
		r := &d.ccus[i]
		if r.Params.Clients != d.goalClients {
			continue
		}
		why := ccuBroken(r)
		m := fmt.Sprintf("%d connected, p99 %s, %.2f%% delivered", r.ClientsConnected, fmtMicros(r.SnapshotP99US), 100*r.Delivered)
		if why != "" {
			m += " (" + why + ")"
		}
		out = append(out, goal{fmt.Sprintf("ccu: %d clients at %d Hz, snapshot p99 under one tick (%.1f ms)", r.Params.Clients, r.Params.Hz, 1000/float64(r.Params.Hz)),
			m, why == ""})
	}
	if d.flood != nil {
		worst, at := 0.0, 0
		for _, ph := range d.flood.Phases {
			if c := d.flood.control(ph.Rate); ph.Target == "game" && c != nil && c.P50 > 0 && ph.P50/c.P50 > worst {
				worst, at = ph.P50/c.P50, ph.Rate
			}
		}
		out = append(out, goal{"flood at the game port: players' median RTT within 2× of the same flood at a dead port",
			fmt.Sprintf("worst %.2f× (at %d/s)", worst, at), worst > 0 && worst <= 2})
	}
	out = append(out, issue16Goals(d.issue16)...)
	out = append(out, issue17Goals(d.issue17)...)
	if d.paths != nil {
		for _, r := range d.paths.Results {
			limit := 300.0
			if strings.Contains(r.Path, "TLS") {
				limit = 500
			}
			out = append(out, goal{fmt.Sprintf("paths: %s, match to open p50 under %g ms", r.Path, limit),
				fmtMS(r.P50MS), r.Error == "" && r.N > 0 && r.P50MS < limit})
		}
	}
	return out
}

// cpuPerSnapshotUS is the server's CPU time per snapshot sent, everything
// included (keepalives, pings and acknowledgements too).
func cpuPerSnapshotUS(r *ccuReport) float64 {
	if r.Params.Hz == 0 {
		return 0
	}
	return r.ServerCPUSecondsPerClientSecond / float64(r.Params.Hz) * 1e6
}

// loadAverage is /proc/loadavg's first three fields: how busy the machine
// was with anything, this tool included.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func find(results []result, transport string) *result {
	for i := range results {
		if results[i].Transport == transport {
			return &results[i]
		}
	}
	return nil
}

func firstN(results []result) int {
	if len(results) == 0 {
		return 0
	}
	return results[0].N
}

func paramsParallel(ccus []ccuReport) int {
	if len(ccus) == 0 {
		return 0
	}
	return ccus[0].Params.Parallel
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func markdownResults(w io.Writer, results []result, extraHead []string, extra func(i int) []string) {
	t := resultsTable(results, extraHead, extra)
	fmt.Fprintf(w, "| %s |\n|---|%s\n", strings.Join(t.Head, " | "), strings.Repeat("---:|", len(t.Head)-1))
	for _, row := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

func markdownLoss(w io.Writer, results []lossResult) {
	base := make([]result, len(results))
	for i, r := range results {
		base[i] = r.result
	}
	markdownResults(w, base, []string{"delivered", "packets/msg"}, func(i int) []string {
		return []string{fmt.Sprintf("%.2f%%", 100*results[i].Delivered), fmt.Sprintf("%.2f", results[i].WirePacketsPerMsg)}
	})
}

// cpuModel reads the first model name in /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + runtime.GOARCH + ")"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown (" + runtime.GOARCH + ")"
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
