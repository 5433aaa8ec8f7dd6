package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Issue 16 measures netcode's session core against a baseline revision in
// the same run: every figure of this section comes from `bench compare`,
// which runs this tree's bench against the baseline's library and against
// this tree's, alternately.

// issue16Run is one compare of the section.
type issue16Run struct {
	title string
	// args are compare's, the subcommand and its flags included.
	args []string
	r    *compareReport
	err  error
	took time.Duration
}

type issue16Doc struct {
	base                                 string
	runs                                 int
	skipped                              string
	ccu500, grid, idle, connect, ccu1000 *issue16Run
}

func (d *issue16Doc) all() []*issue16Run {
	return []*issue16Run{d.ccu500, d.grid, d.idle, d.connect, d.ccu1000}
}

// newIssue16Doc lists the section's compares; writeIssue16Markdown says
// what each measures.
func newIssue16Doc(base string, runs int, ccuDuration time.Duration, goTool string) *issue16Doc {
	cmp := func(title string, sub ...string) *issue16Run {
		args := []string{"compare", "-base", base, "-runs", strconv.Itoa(runs)}
		if goTool != "go" {
			args = append(args, "-go", goTool)
		}
		return &issue16Run{title: title, args: append(args, sub...)}
	}
	dur := ccuDuration.String()
	return &issue16Doc{
		base: base, runs: runs,
		// Server first: the clients, which cannot all keep up on two cores,
		// run at nice 19, so that the server's CPU is what it asked for.
		ccu500:  cmp("500 clients", "ccu", "-clients", "500", "-hz", "30", "-size", "200", "-duration", dur, "-worker-nice", "19"),
		grid:    cmp("packets per message", "grid", "-losses", "0,0.05", "-delays", "0,25ms,75ms", "-duration", "4s"),
		idle:    cmp("idle sessions", "idle", "-sessions", "100", "-duration", "10s", "-rounds", "2"),
		connect: cmp("offer to open", "connect", "-n", "50", "-delay", "25ms", "-delay-n", "10"),
		ccu1000: cmp("1000 clients", "ccu", "-clients", "1000", "-per-worker", "100", "-hz", "30", "-size", "200",
			"-duration", "10s", "-worker-nice", "19", "-project", "2,8"),
	}
}

// headReport decodes the head's report of run i into v.
func (run *issue16Run) headReport(i int, v any) bool {
	if run == nil || run.r == nil || i >= len(run.r.HeadReports) {
		return false
	}
	return json.Unmarshal(run.r.HeadReports[i], v) == nil
}

// metric returns a compare metric of run, or nil.
func (run *issue16Run) metric(name string) *compareMetric {
	if run == nil || run.r == nil {
		return nil
	}
	return run.r.metric(name)
}

func issue16Goals(d *issue16Doc) []goal {
	if d == nil || d.skipped != "" {
		return nil
	}
	var out []goal
	missing := func(g string, run *issue16Run) {
		why := "not measured"
		if run != nil && run.err != nil {
			why = "failed: " + firstLine(run.err.Error())
		}
		out = append(out, goal{g, why, false})
	}

	g := fmt.Sprintf("issue 16: server CPU per snapshot, 500 clients at 30 Hz, ≤ 1/3 of %s's", d.base)
	if m := d.ccu500.metric("server_cpu_per_snapshot_us"); m != nil && m.Ratio != nil {
		out = append(out, goal{g, fmt.Sprintf("%s vs %s: %.2f×", fmtMicros(m.Head), fmtMicros(m.Base), *m.Ratio), *m.Ratio <= 1.0/3})
	} else {
		missing(g, d.ccu500)
	}

	for _, c := range []struct {
		loss  string
		delay string
		limit float64
	}{{"0", "0", 1.2}, {"0", "25", 1.2}, {"0", "75", 1.2}, {"0.05", "0", 1.5}, {"0.05", "25", 1.5}, {"0.05", "75", 1.5}} {
		g := fmt.Sprintf("issue 16: netcode packets per message at %s%% loss, %s ms ≤ %.1f", pct(c.loss), c.delay, c.limit)
		m := d.grid.metric(fmt.Sprintf("cells[loss=%s,delay_ms=%s].results[transport=netcode].wire_packets_per_msg", c.loss, c.delay))
		if m == nil {
			missing(g, d.grid)
			continue
		}
		out = append(out, goal{g, fmt.Sprintf("%.2f (%s: %.2f)", m.Head, d.base, m.Base), m.Head <= c.limit})
	}

	cpu, gor, heap := d.idle.metric("cpu_ratio"), d.idle.metric("results[name=netcode].own_goroutines_per_session"),
		d.idle.metric("results[name=netcode].heap_bytes_per_session")
	if cpu != nil && gor != nil && heap != nil {
		out = append(out,
			goal{"issue 16: 100 idle sessions cost ≤ 1.3× the server CPU of 100 bare pion PeerConnections",
				fmt.Sprintf("%.2f× (%s: %.2f×)", cpu.Head, d.base, cpu.Base), cpu.Head > 0 && cpu.Head <= 1.3},
			goal{"issue 16: netcode's own goroutines per session ≤ 2",
				fmt.Sprintf("%.2f (%s: %.2f)", gor.Head, d.base, gor.Base), gor.Head <= 2},
			goal{"issue 16: server heap per idle session ≤ 100 KiB",
				fmt.Sprintf("%.0f KiB (%s: %.0f KiB)", heap.Head/1024, d.base, heap.Base/1024), heap.Head <= 100*1024})
	} else {
		missing("issue 16: idle sessions", d.idle)
	}

	g = "issue 16: 1000 clients at 30 Hz, the server under one core"
	var r ccuReport
	if d.ccu1000.headReport(0, &r) {
		m, met := ccu1000Verdict(&r)
		out = append(out, goal{g, m, met})
	} else {
		missing(g, d.ccu1000)
	}

	for _, name := range []string{"go-netcode", "chromium-netcode"} {
		g := fmt.Sprintf("issue 16: %s, offer to both channels open, p50 ≤ ½ of %s's", name, d.base)
		m := d.connect.metric("results[name=" + name + "].p50_ms")
		if m == nil || m.Ratio == nil {
			missing(g, d.connect)
			continue
		}
		out = append(out, goal{g, fmt.Sprintf("%s vs %s: %.2f×", fmtMS(m.Head), fmtMS(m.Base), *m.Ratio), *m.Ratio <= 0.5})
	}
	return out
}

func pct(fraction string) string {
	f, _ := strconv.ParseFloat(fraction, 64)
	return strconv.FormatFloat(100*f, 'g', 3, 64)
}

// ccu1000Verdict judges the server at 1000 clients: on the main phase where
// the clients kept up with it (and the server with its ticks), else on the
// projection from the rates they kept up with, saying which.
func ccu1000Verdict(r *ccuReport) (string, bool) {
	keptTicks := r.TicksExpected > 0 && float64(r.Ticks) >= 0.99*float64(r.TicksExpected)
	if r.ClientsConnected == r.Params.Clients && r.Delivered >= 0.99 && keptTicks {
		return fmt.Sprintf("measured: %.2f cores, %d/%d ticks, %.1f%% delivered", r.ServerCPUCores, r.Ticks, r.TicksExpected, 100*r.Delivered),
			r.ServerCPUCores < 1
	}
	m := fmt.Sprintf("measured %.2f cores with starved clients (%d/%d connected, %.1f%% delivered, %d/%d ticks, %.2f+%.2f packets per snapshot)",
		r.ServerCPUCores, r.ClientsConnected, r.Params.Clients, 100*r.Delivered, r.Ticks, r.TicksExpected,
		r.ServerPacketsInPerSnapshot, r.ServerPacketsOutPerSnapshot)
	p := r.Projection
	if p == nil {
		return m, false
	}
	m += fmt.Sprintf("; projected from %s: %.2f cores", projectionRates(p), p.ServerCPUCores)
	if !p.ClientsKeptUp {
		return m + " (clients did not keep up there either: a lower bound)", false
	}
	return m, keptTicks && p.ServerCPUCores < 1
}

func projectionRates(p *ccuProjection) string {
	var s []string
	for _, ph := range p.Phases {
		s = append(s, fmt.Sprintf("%d Hz", ph.Hz))
	}
	return strings.Join(s, " and ")
}

func writeIssue16Markdown(w io.Writer, d *issue16Doc) {
	if d == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Issue 16: netcode's session core against %s (`compare`)\n\n", d.base)
	if d.skipped != "" {
		p("Not measured: %s.\n", d.skipped)
		return
	}
	p("Every figure here is a ratio within one run: `go run ./bench compare -base %s -runs %d SUBCOMMAND ...` checks out %s in a temporary git worktree, builds this tree's bench against that revision's library (files that do not compile against it left out, with their subcommands only) and against this tree's, then runs the subcommand with each, alternately, %d time(s) each; medians. Tables show netcode's own rows; `compare` itself prints every metric.\n",
		d.base, d.runs, d.base, d.runs)

	for _, run := range d.all() {
		if run.err != nil {
			p("\n**%s failed** (`go run ./bench %s`): %s\n", run.title, strings.Join(run.args, " "), firstLine(run.err.Error()))
		}
	}

	if r := d.ccu500.r; r != nil {
		p("\n### Server CPU per snapshot, 500 clients at 30 Hz (`ccu`, took %s)\n\n", d.ccu500.took.Round(time.Second))
		p("The clients run at nice 19 (`-worker-nice 19`): on two cores they cannot all keep up, and at equal priority they would take the server's CPU; so the server gets what it asks for first and its CPU time (getrusage, per snapshot sent) is its own demand. The server's packets per snapshot (nftables counters on its port, root only) show what the clients sent back: fewer acknowledgements from starved clients mean less work for the server, so where the two sides' packets per snapshot differ, read the CPU per packet beside the CPU per snapshot.\n\n")
		compareMarkdown(w, r, []string{"server_cpu_per_snapshot_us", "server_cpu_cores", "server_pkts_in_per_snapshot",
			"server_pkts_out_per_snapshot", "server_cpu_per_packet_us", "ticks", "delivered", "congested", "clients_cpu_cores", "client_cpu_per_snapshot_us",
			"machine_cpu_busy", "server_heap_bytes_per_client", "server_goroutines_per_client", "connect_p50_ms"})
	}
	if r := d.grid.r; r != nil {
		p("\n### Wire packets per message (`grid`, took %s)\n\n", d.grid.took.Round(time.Second))
		p("UDP packets on the vnet in both directions per message sent (60 Hz, 300 B, 4 s a cell): netcode's snapshot stream, and the bare unreliable channel under it.\n\n")
		var names []string
		for _, m := range r.Metrics {
			if strings.HasSuffix(m.Name, ".wire_packets_per_msg") && !strings.Contains(m.Name, "dc-reliable") {
				names = append(names, m.Name)
			}
		}
		compareMarkdown(w, r, names)
	}
	if r := d.idle.r; r != nil {
		p("\n### Idle sessions against bare pion (`idle`, took %s)\n\n", d.idle.took.Round(time.Second))
		p("100 sessions that send nothing, and 100 bare pion PeerConnections with the same two channels (bench's bareAPI: pion's defaults, detached channels read continuously), one kind after the other in one process, clients in worker processes; each measured 10 s after 2 s to settle, in two rounds in alternating order. Server CPU: getrusage over the phase. Goroutines and heap: with every session connected minus before any, per session. netcode's own goroutines: those with a frame in netcode's packages, so that per-server ones (icemux's readers) cancel out. Ratios are netcode's over bare pion's.\n\n")
		compareMarkdown(w, r, []string{"cpu_ratio", "results[name=netcode].server_cpu_cores", "results[name=bare].server_cpu_cores",
			"results[name=netcode].own_goroutines_per_session", "results[name=netcode].goroutines_per_session",
			"results[name=bare].goroutines_per_session", "results[name=netcode].heap_bytes_per_session",
			"results[name=bare].heap_bytes_per_session", "results[name=netcode].clients_cpu_cores", "results[name=bare].clients_cpu_cores"})
		var ir idleReport
		if d.idle.headReport(0, &ir) && len(ir.OwnGoroutines) > 0 {
			p("\nnetcode's own goroutines per session on this tree, by the outermost netcode function on their stacks:\n\n| function | per session |\n|---|---:|\n")
			for _, g := range ir.OwnGoroutines {
				p("| `%s` | %.2f |\n", strings.TrimPrefix(g.Function, netcodePrefix), g.PerSession)
			}
		}
	}
	if r := d.connect.r; r != nil {
		p("\n### Offer to both channels open (`connect`, took %s)\n\n", d.connect.took.Round(time.Second))
		var cr connectReport
		d.connect.headReport(0, &cr)
		p("From the client's offer leaving it to both channels open on the client, on loopback, 50 connections of each kind in batches of 10, round-robin; the *vnet* rows are the Go ones again over pion's vnet with 25 ms one way (10 each, signaling in process), where a round trip costs 50 ms. Go: `netcode.Dial` to a netcode server (WebSocket signaling), and bare pion PeerConnections with the same channels against a bare pion answerer. Chromium (%s, headless): a plain page (bench/connectpage) with the same channels and signaling, against each server. *snap*: both pion ends with `SettingEngine.EnableSctpSnap`, the SCTP INIT carried in the SDP (`a=sctp-init`, draft-hancke-tsvwg-snap). *trial*: Chromium with `%s`, libwebrtc's field trial `WebRTC-Sctp-Snap`, which makes it offer `a=sctp-init`; the sctp-init columns say which offers and answers carried it.\n\n",
			cr.Params.Chromium, strings.Join(cr.Params.TrialFlags, " "))
		var names []string
		for _, m := range r.Metrics {
			// The sctp-init rows only where either side saw it.
			if strings.HasSuffix(m.Name, ".p50_ms") || strings.HasSuffix(m.Name, ".p99_ms") ||
				(strings.HasSuffix(m.Name, "sctp_init") && (m.Base != 0 || m.Head != 0)) {
				names = append(names, m.Name)
			}
		}
		compareMarkdown(w, r, names)
	}
	if r := d.ccu1000.r; r != nil {
		p("\n### 1000 clients at 30 Hz (`ccu -project`, took %s)\n\n", d.ccu1000.took.Round(time.Second))
		p("1000 netcode clients cannot all keep up at 30 Hz on this two-core machine beside the server (a client costs about as much CPU per snapshot as the server does, see `client_cpu_per_snapshot_us`), and clients that fall behind acknowledge less, which lightens the server's load: the main phase alone would flatter the server. So: the clients run at nice 19, 100 per worker process with GOMAXPROCS 1 (the least CPU per client without changing what they send); the same clients are first measured at 2 and 8 Hz, rates they can keep up with, and the server's CPU is projected to 30 Hz along the line through those two (its idle cost plus a cost per snapshot); the goal is judged on the main phase where its clients kept up, else on the projection, where they did. `projection.*` are those figures.\n\n")
		var names []string
		for _, m := range r.Metrics {
			if strings.HasPrefix(m.Name, "projection.") || strings.HasPrefix(m.Name, "server_cpu_") ||
				m.Name == "delivered" || m.Name == "ticks" || m.Name == "clients_connected" || strings.HasPrefix(m.Name, "server_pkts") {
				names = append(names, m.Name)
			}
		}
		compareMarkdown(w, r, names)
		var cr ccuReport
		if d.ccu1000.headReport(0, &cr) {
			v, _ := ccu1000Verdict(&cr)
			p("\nThis tree: %s.\n", v)
		}
	}
	p("\nWhat each took, builds included, is in its heading; `go run ./bench results -base ''` leaves this section out.\n")
}

// compareMarkdown writes the named metrics of r as a table.
func compareMarkdown(w io.Writer, r *compareReport, names []string) {
	fmt.Fprintf(w, "| metric | %s | this tree | ratio | spread (base, head) |\n|---|---:|---:|---:|---:|\n", shortHash(r.Base.Commit))
	for _, n := range names {
		m := r.metric(n)
		if m == nil {
			continue
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %.0f%%, %.0f%% |\n", n, fmtNumber(m.Base), fmtNumber(m.Head), fmtRatio(m.Ratio),
			100*spread(m.BaseRuns), 100*spread(m.HeadRuns))
	}
}
