package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// ccuConfig is one ccu run.
type ccuConfig struct {
	workerSpec
	// project are the tick rates of the projection's phases, if any.
	project      []int
	hz           int
	size         int
	duration     time.Duration
	warmup       time.Duration
	cpuProfile   string
	serverRcvbuf int
}

// workerSpec says how many client processes to start and how.
type workerSpec struct {
	clients        int
	kind           string // kindNetcode or kindBare
	perWorker      int
	parallel       int
	connectTimeout time.Duration
	// lifetime bounds a worker after it connected: it must outlive every
	// phase, and never the parent by long.
	lifetime time.Duration
	// procs is each worker's GOMAXPROCS; 0 leaves the Go default.
	procs int
	// nice makes the workers this much nicer than the server (Unix).
	nice int
	// profile, when set, has worker i write its CPU profile to profile.i.
	profile string
}

// addWorkerFlags registers the flags of a subcommand's client workers.
func addWorkerFlags(fs *flag.FlagSet, w *workerSpec, perWorker int) {
	fs.IntVar(&w.perWorker, "per-worker", perWorker, "clients per worker process")
	fs.IntVar(&w.parallel, "parallel", 4, "connections each worker opens at once")
	fs.DurationVar(&w.connectTimeout, "connect-timeout", 2*time.Minute, "how long every client may take to connect")
	fs.IntVar(&w.procs, "worker-procs", 1, "GOMAXPROCS of each worker process (0: the Go default, one per CPU); one keeps a worker's goroutines off each other's threads, which costs less CPU per client")
	fs.IntVar(&w.nice, "worker-nice", 0, "run the workers this much nicer than the server (Unix nice, up to 19), so that the server gets the CPU it asks for first and the clients the rest")
	fs.StringVar(&w.profile, "worker-cpuprofile", "", "write worker i's CPU profile, from connected to the end, to `prefix`.i")
}

func (w *workerSpec) check(fs *flag.FlagSet) error {
	switch {
	case w.clients < 1, w.perWorker < 1, w.parallel < 1:
		return usageErrorf(fs, "client counts, -per-worker and -parallel must be positive")
	case w.connectTimeout <= 0:
		return usageErrorf(fs, "-connect-timeout must be positive")
	case w.procs < 0, w.nice < 0 || w.nice > 19:
		return usageErrorf(fs, "-worker-procs must not be negative and -worker-nice must be in [0, 19]")
	}
	return nil
}

func (w *workerSpec) workers() int { return (w.clients + w.perWorker - 1) / w.perWorker }

type ccuParams struct {
	Clients   int     `json:"clients"`
	Hz        int     `json:"hz"`
	Size      int     `json:"size"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Workers   int     `json:"workers"`
	PerWorker int     `json:"per_worker"`
	Parallel  int     `json:"parallel"`
	CPUs      int     `json:"cpus"`
	// ServerRcvbuf is -server-rcvbuf: the server's ServerConfig.UDPBuffer, 0 for
	// netcode's default.
	ServerRcvbuf int `json:"server_rcvbuf"`
	// WorkerProcs and WorkerNice are -worker-procs and -worker-nice.
	WorkerProcs int `json:"worker_procs"`
	WorkerNice  int `json:"worker_nice"`
}

// ccuReport is the ccu subcommand's output. Snapshot latency runs from the
// server's tick (the send time stamped in the snapshot, wall clock) to the
// moment netcode read the snapshot off the network in the client's process,
// so it includes the server's loop over every session and the client
// machine's scheduling: on one machine, clients and server share the cores.
type ccuReport struct {
	Scenario         string    `json:"scenario"`
	Args             []string  `json:"args"`
	Params           ccuParams `json:"params"`
	ClientsConnected int       `json:"clients_connected"`
	ConnectFailed    int       `json:"connect_failed"`

	SnapshotP50US float64 `json:"snapshot_p50_us"`
	SnapshotP90US float64 `json:"snapshot_p90_us"`
	SnapshotP99US float64 `json:"snapshot_p99_us"`
	SnapshotMaxUS float64 `json:"snapshot_max_us"`
	// Delivered is the fraction of snapshots the server meant to send in
	// the measured phase (one per tick per connected client) that a client
	// read; congested sends count as not delivered.
	Delivered         float64 `json:"delivered"`
	SnapshotsSent     int     `json:"snapshots_sent"`
	SnapshotsReceived int     `json:"snapshots_received"`
	Congested         int     `json:"congested"`
	// Ticks is how many ticks the server ran in the measured phase, out of
	// TicksExpected: an overloaded server runs late and skips ticks.
	Ticks         int `json:"ticks"`
	TicksExpected int `json:"ticks_expected"`
	// TickSend is how long one tick's loop of SendSnapshot over every
	// session took.
	TickSendP50US float64 `json:"tick_send_p50_us"`
	TickSendP99US float64 `json:"tick_send_p99_us"`

	// Server figures, from this process alone: the clients run elsewhere.
	ServerCPUSecondsPerClientSecond float64 `json:"server_cpu_s_per_client_s"`
	ServerCPUCores                  float64 `json:"server_cpu_cores"`
	// ServerCPUPerSnapshotUS is the server's CPU time over the measured
	// phase per snapshot it sent (congested sends, which cost next to
	// nothing, not counted): everything included, keepalives, pings and
	// acknowledgements too.
	ServerCPUPerSnapshotUS float64 `json:"server_cpu_per_snapshot_us"`
	// ServerPacketsInPerSnapshot and ServerPacketsOutPerSnapshot are the
	// UDP packets the server's port received and sent in the measured
	// phase per snapshot sent: its wire cost, acknowledgements, pings and
	// keepalives included (root on Linux: nftables counters; -1 elsewhere).
	ServerPacketsInPerSnapshot  float64 `json:"server_pkts_in_per_snapshot"`
	ServerPacketsOutPerSnapshot float64 `json:"server_pkts_out_per_snapshot"`
	// ServerCPUPerPacketUS is the server's CPU time per packet on its
	// port, both ways (-1 where packets are not counted): a figure the
	// clients' acknowledging less when they fall behind does not move the
	// way it moves the CPU per snapshot.
	ServerCPUPerPacketUS float64 `json:"server_cpu_per_packet_us"`
	// ClientsCPUCores is the worker processes' CPU over the measured phase
	// (Linux; -1 elsewhere), and ClientCPUPerSnapshotUS per snapshot sent:
	// what the clients need to keep up.
	ClientsCPUCores        float64 `json:"clients_cpu_cores"`
	ClientCPUPerSnapshotUS float64 `json:"client_cpu_per_snapshot_us"`
	// MachineCPUBusy is the fraction of all the machine's CPU time spent
	// busy during the measured phase (Linux; -1 elsewhere): near 1, the
	// clients are starved and their latency is the machine's, not the
	// server's.
	MachineCPUBusy            float64 `json:"machine_cpu_busy"`
	ServerHeapBytesPerClient  float64 `json:"server_heap_bytes_per_client"`
	ServerGoroutinesPerClient float64 `json:"server_goroutines_per_client"`

	ConnectP50MS float64 `json:"connect_p50_ms"`
	ConnectP99MS float64 `json:"connect_p99_ms"`
	ConnectMaxMS float64 `json:"connect_max_ms"`

	// Where undelivered snapshots went, both phases, summed over clients:
	// see workerReport.
	ClientArrived uint64 `json:"client_arrived"`
	ClientRead    uint64 `json:"client_read"`
	ClientNetLost uint64 `json:"client_net_lost"`
	ClientStale   uint64 `json:"client_stale"`
	// UDPRcvbufErrors is the kernel's count of UDP datagrams dropped for a
	// full socket receive buffer during the tick phase, machine-wide
	// (Linux; -1 elsewhere).
	UDPRcvbufErrors int64 `json:"udp_rcvbuf_errors"`

	// Projection is there with -project.
	Projection *ccuProjection `json:"projection,omitempty"`

	CPUProfile string   `json:"cpu_profile,omitempty"`
	Errors     []string `json:"errors,omitempty"`

	samples  []time.Duration
	connects []time.Duration
}

// ccuProjection is the server's CPU at -hz projected from phases at lower
// tick rates, with the same clients: where the clients cannot keep up at
// -hz on one machine, they send the server fewer acknowledgements than
// clients that keep up would (see server_pkts_in_per_snapshot), so the
// main phase measures less than a real server's work. At rates the
// clients keep up with, the server's CPU is its idle cost (keepalives,
// pings, timers of every session) plus a cost per snapshot sent, and the
// line through the phases gives both.
type ccuProjection struct {
	Phases []ccuProjectionPhase `json:"phases"`
	// ServerCPUCores is the line's value at -hz.
	ServerCPUCores float64 `json:"server_cpu_cores"`
	// IdleCores is its value at 0 Hz, and MarginalCPUPerSnapshotUS its
	// slope per snapshot.
	IdleCores                float64 `json:"idle_cores"`
	MarginalCPUPerSnapshotUS float64 `json:"marginal_cpu_per_snapshot_us"`
	// ClientsKeptUp is whether every phase's clients read at least 99% of
	// the snapshots sent to them: if not, the projection has the main
	// phase's flaw too.
	ClientsKeptUp bool `json:"clients_kept_up"`
}

type ccuProjectionPhase struct {
	Hz                          int     `json:"hz"`
	Ticks                       int     `json:"ticks"`
	TicksExpected               int     `json:"ticks_expected"`
	ServerCPUCores              float64 `json:"server_cpu_cores"`
	ServerCPUPerSnapshotUS      float64 `json:"server_cpu_per_snapshot_us"`
	ServerPacketsInPerSnapshot  float64 `json:"server_pkts_in_per_snapshot"`
	ServerPacketsOutPerSnapshot float64 `json:"server_pkts_out_per_snapshot"`
	ServerCPUPerPacketUS        float64 `json:"server_cpu_per_packet_us"`
	ClientsCPUCores             float64 `json:"clients_cpu_cores"`
	// Delivered is the fraction of the snapshots sent that clients read.
	Delivered      float64 `json:"delivered"`
	MachineCPUBusy float64 `json:"machine_cpu_busy"`
}

// project fits the line through phases' server CPU and reads it at hz;
// read[i] is how many of phase i's snapshots the clients read.
func project(phases []ccuPhase, read []uint64, hz, clients int) *ccuProjection {
	p := &ccuProjection{ClientsKeptUp: true}
	var xs, ys []float64
	for i, ph := range phases {
		pp := ccuProjectionPhase{
			Hz: ph.hz, Ticks: ph.ticks, TicksExpected: ph.ticksExpected,
			ServerCPUCores: ph.serverCores(), ServerCPUPerSnapshotUS: ph.perSnapshotUS(ph.serverCPU),
			ServerPacketsInPerSnapshot: ph.pktsPerSnapshot(ph.pktsIn), ServerPacketsOutPerSnapshot: ph.pktsPerSnapshot(ph.pktsOut),
			ServerCPUPerPacketUS: ph.perPacketUS(), ClientsCPUCores: -1, MachineCPUBusy: ph.busy,
		}
		if ph.clientsCPU >= 0 {
			pp.ClientsCPUCores = ph.clientsCPU.Seconds() / ph.wall.Seconds()
		}
		if ph.sent > 0 && i < len(read) {
			pp.Delivered = float64(read[i]) / float64(ph.sent)
		}
		if pp.Delivered < 0.99 {
			p.ClientsKeptUp = false
		}
		p.Phases = append(p.Phases, pp)
		// The rate the server really kept, in case it missed ticks.
		xs = append(xs, float64(ph.ticks)/ph.wall.Seconds())
		ys = append(ys, pp.ServerCPUCores)
	}
	slope, intercept := fitLine(xs, ys)
	p.ServerCPUCores = intercept + slope*float64(hz)
	p.IdleCores = intercept
	p.MarginalCPUPerSnapshotUS = slope / float64(clients) * 1e6
	return p
}

// fitLine is the least-squares line through (xs[i], ys[i]).
func fitLine(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

// maxReportedErrors keeps a failing run's report readable.
const maxReportedErrors = 10

func init() {
	register(subcommand{"ccu", "one netcode server, many clients in other processes", cmdCCU})
}

func cmdCCU(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("ccu", e)
	cfg := ccuConfig{}
	cfg.kind = kindNetcode
	fs.IntVar(&cfg.clients, "clients", 500, "clients to connect")
	fs.IntVar(&cfg.hz, "hz", 30, "server ticks per second; one snapshot per client per tick")
	fs.IntVar(&cfg.size, "size", 200, "snapshot payload bytes")
	fs.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured phase")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "ticks before the measured phase, not counted")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the server's measured phase to `file`")
	addWorkerFlags(fs, &cfg.workerSpec, 50)
	project := fs.String("project", "", "also measure the same clients at these tick `rates` (comma-separated, at least two, each -warmup and -duration long, before the main phase) and project the server's CPU at -hz along the line through them: for client counts whose clients cannot keep up at -hz on this machine")
	fs.IntVar(&cfg.serverRcvbuf, "server-rcvbuf", 0, "the server's UDP socket buffers in `bytes` (netcode.ServerConfig.UDPBuffer); 0 for netcode's default")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.workerSpec.check(fs); err != nil {
		return err
	}
	if *project != "" {
		rates, err := parseList(*project, strconv.Atoi)
		if err != nil || len(rates) < 2 || slices.Min(rates) < 1 || slices.Max(rates) > 1000 || len(slices.Compact(slices.Sorted(slices.Values(rates)))) < 2 {
			return usageErrorf(fs, "-project takes at least two different tick rates in [1, 1000]")
		}
		cfg.project = rates
	}
	cfg.lifetime = time.Duration(1+len(cfg.project))*(cfg.warmup+cfg.duration) + time.Minute
	switch {
	case cfg.hz < 1 || cfg.hz > 1000:
		return usageErrorf(fs, "-hz must be in [1, 1000]")
	case cfg.size < snapshotHeader || cfg.size > maxPayload:
		return usageErrorf(fs, "-size must be in [%d, %d]", snapshotHeader, maxPayload)
	case cfg.duration <= 0, cfg.warmup < 0:
		return usageErrorf(fs, "-duration must be positive and -warmup not negative")
	}
	r, err := runCCU(ctx, cfg, e)
	if err != nil {
		return err
	}
	return emit(r, out, e)
}

// Snapshot payloads start with the tick number, the send time in Unix
// nanoseconds (one machine, one wall clock across processes) and the phase.
const (
	snapshotHeader = 17
	phaseWarmup    = 0
	phaseMeasured  = 1
	// phaseProjected is the first of the projection's phases, one each.
	phaseProjected = 2
	// maxPhases bounds the phases a worker counts reads of.
	maxPhases = 16
)

// A worker speaks JSON on stdout, twice: once connected, and when its
// stdin closes.
type workerHello struct {
	Connected int      `json:"connected"`
	Failed    int      `json:"failed"`
	ConnectUS []int64  `json:"connect_us"`
	Errors    []string `json:"errors,omitempty"`
}

type workerReport struct {
	// LatencyUS are the measured phase's snapshot latencies.
	LatencyUS []int64 `json:"latency_us"`
	// Where the undelivered went, over both phases: Arrived snapshots
	// netcode took off the network, of which the game Read some (a newer
	// one replaces an unread one); NetLost never arrived (sequence gaps);
	// Stale arrived after a newer one.
	Arrived uint64 `json:"arrived"`
	Read    uint64 `json:"read"`
	NetLost uint64 `json:"net_lost"`
	Stale   uint64 `json:"stale"`
	// PhaseRead counts the snapshots read, by the phase stamped in them.
	PhaseRead []uint64 `json:"phase_read,omitempty"`
	Errors    []string `json:"errors,omitempty"`
}

// worker is the parent's view of a worker process.
type worker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// hello and done each deliver one message, or are closed without one
	// if the worker failed first.
	hello   chan workerHello
	done    chan workerReport
	drained chan struct{} // stdout read to the end
}

// read decodes the worker's two messages, then reads stdout to the end, as
// exec requires before Wait.
func (w *worker) read(stdout io.Reader) {
	defer close(w.drained)
	dec := json.NewDecoder(stdout)
	var h workerHello
	if err := dec.Decode(&h); err == nil {
		w.hello <- h
	}
	close(w.hello)
	var rep workerReport
	if err := dec.Decode(&rep); err == nil {
		w.done <- rep
	}
	close(w.done)
	_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), stdout))
}

func runCCU(ctx context.Context, cfg ccuConfig, e *env) (*ccuReport, error) {
	nWorkers := cfg.workers()
	r := &ccuReport{Scenario: "ccu", Args: e.args, Params: ccuParams{
		Clients: cfg.clients, Hz: cfg.hz, Size: cfg.size, DurationS: cfg.duration.Seconds(),
		WarmupS: cfg.warmup.Seconds(), Workers: nWorkers, PerWorker: cfg.perWorker,
		Parallel: cfg.parallel, CPUs: runtime.NumCPU(), ServerRcvbuf: cfg.serverRcvbuf,
		WorkerProcs: cfg.procs, WorkerNice: cfg.nice,
	}}
	addErr := func(err error) {
		if len(r.Errors) < maxReportedErrors {
			r.Errors = append(r.Errors, err.Error())
		}
	}

	srvCfg := ncOptions{UDPAddr: "127.0.0.1:0", UDPBuffer: cfg.serverRcvbuf}.server()
	srv, err := netcode.NewServer(srvCfg)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	defer func() { _ = srv.Close() }()
	var pkts *udpPortCounter
	if ua, ok := srv.UDPAddr().(*net.UDPAddr); ok {
		if pkts, err = countUDPPort(ctx, ua.Port); err == nil {
			defer pkts.stop()
		} else {
			pkts = nil
		}
	}

	// The signaling endpoint: one WebSocket per client, handed to Accept.
	// Handlers return once Accept does; netcode keeps the WebSocket.
	connectCtx, cancelConnect := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancelConnect()
	type accepted struct {
		sess *netcode.Session
		err  error
	}
	acceptedCh := make(chan accepted, cfg.clients)
	signalURL, stopSignaling, err := serveSignaling(func(sig *wsSignaler) {
		sess, err := srv.Accept(connectCtx, sig)
		select {
		case acceptedCh <- accepted{sess, err}:
		default: // more clients than asked for
			if sess != nil {
				_ = sess.Close("unexpected client")
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		cancelConnect() // ends the handlers still in Accept
		stopSignaling()
	}()

	// What the server holds before any client, to subtract.
	heap0, goroutines0 := liveHeap(), runtime.NumGoroutine()

	workers, err := startWorkers(ctx, cfg.workerSpec, signalURL, e)
	defer stopWorkers(workers)
	if err != nil {
		return nil, err
	}

	// Connect phase: every worker says how it went; then the server must
	// have accepted as many.
	bar := e.newProgress(fmt.Sprintf("ccu: connecting %d clients", cfg.clients), cfg.clients)
	connected := 0
	for _, w := range workers {
		select {
		case h, ok := <-w.hello:
			if !ok {
				addErr(errors.New("a worker exited before connecting"))
				continue
			}
			connected += h.Connected
			r.ConnectFailed += h.Failed
			for _, us := range h.ConnectUS {
				r.connects = append(r.connects, time.Duration(us)*time.Microsecond)
			}
			for _, msg := range h.Errors {
				addErr(errors.New(msg))
			}
			bar.add(h.Connected + h.Failed)
		case <-connectCtx.Done():
			addErr(fmt.Errorf("worker did not finish connecting: %w", connectCtx.Err()))
		}
	}
	var sessions []*netcode.Session
	for len(sessions) < connected {
		select {
		case a := <-acceptedCh:
			if a.err != nil {
				addErr(fmt.Errorf("accept: %w", a.err))
				continue
			}
			sessions = append(sessions, a.sess)
		case <-connectCtx.Done():
			addErr(fmt.Errorf("server accepted %d of %d clients: %w", len(sessions), connected, connectCtx.Err()))
			connected = len(sessions)
		}
	}
	r.ClientsConnected = len(sessions)
	if r.ClientsConnected == 0 {
		return nil, fmt.Errorf("no client connected: %v", r.Errors)
	}
	r.ServerHeapBytesPerClient = float64(liveHeap()-heap0) / float64(len(sessions))
	r.ServerGoroutinesPerClient = float64(runtime.NumGoroutine()-goroutines0) / float64(len(sessions))

	bar.finish()

	// Tick phase.
	ticks := (cfg.warmup + cfg.duration) * time.Duration(cfg.hz) / time.Second
	for _, hz := range cfg.project {
		ticks += (cfg.warmup + cfg.duration) * time.Duration(hz) / time.Second
	}
	bar = e.newProgress(fmt.Sprintf("ccu: %d clients", len(sessions)), int(ticks))
	rcvbuf0 := udpRcvbufErrors()
	probe := &ccuProbe{workers: workers, pkts: pkts}
	var projected []ccuPhase
	for i, hz := range cfg.project {
		bar.relabel(fmt.Sprintf("ccu: %d clients at %d Hz (projection)", len(sessions), hz))
		ph, err := runPhase(ctx, cfg, hz, byte(phaseProjected+i), sessions, probe, "", bar)
		if err != nil {
			bar.finish()
			return nil, err
		}
		projected = append(projected, ph)
	}
	bar.relabel(fmt.Sprintf("ccu: %d clients at %d Hz", len(sessions), cfg.hz))
	main, err := runPhase(ctx, cfg, cfg.hz, phaseMeasured, sessions, probe, cfg.cpuProfile, bar)
	bar.finish()
	if err != nil {
		return nil, err
	}
	r.fill(&main, len(sessions))
	// Let the last snapshots land before the workers stop reading.
	time.Sleep(250 * time.Millisecond)
	if rcvbuf0 >= 0 {
		r.UDPRcvbufErrors = udpRcvbufErrors() - rcvbuf0
	} else {
		r.UDPRcvbufErrors = -1
	}

	for _, w := range workers {
		_ = w.stdin.Close()
	}
	reportCtx, cancelReport := context.WithTimeout(ctx, 30*time.Second)
	defer cancelReport()
	projectedRead := make([]uint64, len(projected))
	for _, w := range workers {
		select {
		case rep, ok := <-w.done:
			if !ok {
				addErr(errors.New("a worker exited without reporting"))
				continue
			}
			for _, us := range rep.LatencyUS {
				r.samples = append(r.samples, time.Duration(us)*time.Microsecond)
			}
			for i, n := range rep.PhaseRead {
				if i >= phaseProjected && i-phaseProjected < len(projectedRead) {
					projectedRead[i-phaseProjected] += n
				}
			}
			r.ClientArrived += rep.Arrived
			r.ClientRead += rep.Read
			r.ClientNetLost += rep.NetLost
			r.ClientStale += rep.Stale
			for _, msg := range rep.Errors {
				addErr(errors.New(msg))
			}
		case <-reportCtx.Done():
			addErr(fmt.Errorf("worker did not report: %w", reportCtx.Err()))
		}
	}

	slices.Sort(r.samples)
	lat := summarize(r.samples)
	r.SnapshotP50US, r.SnapshotP90US, r.SnapshotP99US, r.SnapshotMaxUS = lat.P50, lat.P90, lat.P99, lat.Max
	r.SnapshotsReceived = len(r.samples)
	if r.SnapshotsSent > 0 {
		r.Delivered = float64(r.SnapshotsReceived) / float64(r.SnapshotsSent)
	}
	slices.Sort(r.connects)
	if len(r.connects) > 0 {
		r.ConnectP50MS = ms(percentile(r.connects, 0.50))
		r.ConnectP99MS = ms(percentile(r.connects, 0.99))
		r.ConnectMaxMS = ms(r.connects[len(r.connects)-1])
	}
	if len(projected) > 0 {
		r.Projection = project(projected, projectedRead, cfg.hz, len(sessions))
	}
	r.CPUProfile = cfg.cpuProfile
	return r, nil
}

// ccuProbe reads what a phase costs beyond this process's CPU time.
type ccuProbe struct {
	workers []*worker
	pkts    *udpPortCounter // nil where packets are not counted
}

// clientsCPU is the workers' CPU time so far, or -1.
func (p *ccuProbe) clientsCPU() time.Duration {
	var sum time.Duration
	for _, w := range p.workers {
		d, err := processCPUOf(w.cmd.Process.Pid)
		if err != nil {
			return -1
		}
		sum += d
	}
	return sum
}

// ccuPhase is one measured phase: what the server did and what it cost.
type ccuPhase struct {
	hz                    int
	ticks, ticksExpected  int
	sent, congested       int
	sendTimes             []time.Duration
	wall                  time.Duration
	serverCPU, clientsCPU time.Duration // clientsCPU -1 when unknown
	pktsIn, pktsOut       int64         // -1 when not counted
	busy                  float64       // -1 when unknown
}

// delivered counts the snapshots the server sent, not refused as
// congested.
func (ph *ccuPhase) delivered() int { return ph.sent - ph.congested }

func (ph *ccuPhase) serverCores() float64 { return ph.serverCPU.Seconds() / ph.wall.Seconds() }

func (ph *ccuPhase) perSnapshotUS(d time.Duration) float64 {
	if d < 0 || ph.delivered() == 0 {
		return -1
	}
	return d.Seconds() / float64(ph.delivered()) * 1e6
}

func (ph *ccuPhase) perPacketUS() float64 {
	if ph.pktsIn < 0 || ph.pktsIn+ph.pktsOut == 0 {
		return -1
	}
	return ph.serverCPU.Seconds() / float64(ph.pktsIn+ph.pktsOut) * 1e6
}

func (ph *ccuPhase) pktsPerSnapshot(n int64) float64 {
	if n < 0 || ph.delivered() == 0 {
		return -1
	}
	return float64(n) / float64(ph.delivered())
}

// runPhase runs the server's game loop at hz: warm-up ticks, then the
// measured ones, sending every session one snapshot per tick, stamped
// with phase, and measuring this process's CPU time (and the probe's
// figures) over the measured ticks only. With profile set, the measured
// ticks are CPU-profiled into it.
func runPhase(ctx context.Context, cfg ccuConfig, hz int, phase byte, sessions []*netcode.Session, probe *ccuProbe, profile string, bar *progress) (ph ccuPhase, err error) {
	ph.hz = hz
	payload := make([]byte, cfg.size)
	t := time.NewTicker(time.Second / time.Duration(hz))
	defer t.Stop()
	var seq uint64
	send := func(phase byte) (sent, congested int) {
		seq++
		binary.LittleEndian.PutUint64(payload, seq)
		binary.LittleEndian.PutUint64(payload[8:], uint64(time.Now().UnixNano()))
		payload[16] = phase
		for _, s := range sessions {
			switch err := s.SendSnapshot(payload); {
			case err == nil:
				sent++
			case errors.Is(err, netcode.ErrCongested):
				congested++
			}
		}
		return sent, congested
	}

	for end := time.Now().Add(cfg.warmup); time.Now().Before(end); {
		select {
		case <-ctx.Done():
			return ph, ctx.Err()
		case <-t.C:
			send(phaseWarmup)
			bar.add(1)
		}
	}

	var prof *os.File
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return ph, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return ph, fmt.Errorf("cpu profile: %w", err)
		}
		prof = f
	}
	stopProfile := func() error {
		if prof == nil {
			return nil
		}
		pprof.StopCPUProfile()
		err := prof.Close()
		prof = nil
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}
	defer func() { _ = stopProfile() }()

	cpu0, err := processCPU()
	if err != nil {
		return ph, err
	}
	busy0, total0 := machineCPU()
	clients0 := probe.clientsCPU()
	ph.pktsIn, ph.pktsOut = -1, -1
	var in0, out0 int64
	if probe.pkts != nil {
		if in0, out0, err = probe.pkts.read(ctx); err != nil {
			return ph, err
		}
	}
	start := time.Now()
	end := start.Add(cfg.duration)
	ph.ticksExpected = int(cfg.duration * time.Duration(hz) / time.Second)
	ph.sendTimes = make([]time.Duration, 0, ph.ticksExpected)
	for ph.ticks < ph.ticksExpected && time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ph, ctx.Err()
		case <-t.C:
		}
		t0 := time.Now()
		_, congested := send(phase)
		ph.sendTimes = append(ph.sendTimes, time.Since(t0))
		ph.ticks++
		ph.sent += len(sessions)
		ph.congested += congested
		bar.add(1)
	}
	ph.wall = time.Since(start)
	clients1 := probe.clientsCPU()
	cpu1, err := processCPU()
	if err != nil {
		return ph, err
	}
	if probe.pkts != nil {
		in1, out1, err := probe.pkts.read(ctx)
		if err != nil {
			return ph, err
		}
		ph.pktsIn, ph.pktsOut = in1-in0, out1-out0
	}
	ph.busy = -1
	if busy1, total1 := machineCPU(); total1 > total0 && total0 >= 0 {
		ph.busy = float64(busy1-busy0) / float64(total1-total0)
	}
	if err := stopProfile(); err != nil {
		return ph, err
	}
	ph.serverCPU = cpu1 - cpu0
	ph.clientsCPU = -1
	if clients0 >= 0 && clients1 >= 0 {
		ph.clientsCPU = clients1 - clients0
	}
	slices.Sort(ph.sendTimes)
	return ph, nil
}

// fill sets the report's figures of its main phase.
func (r *ccuReport) fill(ph *ccuPhase, sessions int) {
	r.Ticks, r.TicksExpected = ph.ticks, ph.ticksExpected
	r.SnapshotsSent, r.Congested = ph.sent, ph.congested
	r.ServerCPUCores = ph.serverCores()
	r.ServerCPUSecondsPerClientSecond = r.ServerCPUCores / float64(sessions)
	r.ServerCPUPerSnapshotUS = ph.perSnapshotUS(ph.serverCPU)
	r.ServerPacketsInPerSnapshot, r.ServerPacketsOutPerSnapshot = ph.pktsPerSnapshot(ph.pktsIn), ph.pktsPerSnapshot(ph.pktsOut)
	r.ServerCPUPerPacketUS = ph.perPacketUS()
	r.ClientsCPUCores, r.ClientCPUPerSnapshotUS = -1, -1
	if ph.clientsCPU >= 0 {
		r.ClientsCPUCores = ph.clientsCPU.Seconds() / ph.wall.Seconds()
		r.ClientCPUPerSnapshotUS = ph.perSnapshotUS(ph.clientsCPU)
	}
	r.MachineCPUBusy = ph.busy
	st := summarize(ph.sendTimes)
	r.TickSendP50US, r.TickSendP99US = st.P50, st.P99
}

// udpRcvbufErrors reads Linux's machine-wide count of UDP datagrams dropped
// because a socket's receive buffer was full, or -1.
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var head []string
	for line := range strings.SplitSeq(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if head == nil {
			head = fields
			continue
		}
		for i, name := range head {
			if name == "RcvbufErrors" && i < len(fields) {
				if v, err := strconv.ParseInt(fields[i], 10, 64); err == nil {
					return v
				}
			}
		}
		return -1
	}
	return -1
}

// machineCPU reads the machine's busy and total CPU time, in clock ticks,
// from /proc/stat; total is -1 where there is none.
func machineCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, -1
	}
	// user nice system idle iowait irq softirq steal; guest time that may
	// follow is already counted in user and nice.
	for i, f := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, -1
		}
		total += v
		if i != 3 && i != 4 { // not idle, not iowait
			busy += v
		}
	}
	return busy, total
}

// liveHeap is the heap still reachable after a full collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// startWorkers re-executes this program as client workers, each with up
// to spec.perWorker clients, so that the clients' CPU is not the server's.
func startWorkers(ctx context.Context, spec workerSpec, signalURL string, e *env) ([]*worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	var workers []*worker
	for i := range spec.workers() {
		k := min(spec.perWorker, spec.clients-i*spec.perWorker)
		cmd := exec.CommandContext(ctx, exe, workerCommand,
			"-signal", signalURL, "-clients", strconv.Itoa(k), "-parallel", strconv.Itoa(spec.parallel),
			"-connect-timeout", spec.connectTimeout.String(), "-timeout", (spec.connectTimeout + spec.lifetime).String(),
			"-kind", spec.kind, "-nice", strconv.Itoa(spec.nice))
		if spec.profile != "" {
			cmd.Args = append(cmd.Args, "-cpuprofile", fmt.Sprintf("%s.%d", spec.profile, i))
		}
		cmd.Env = append(os.Environ(), workerEnv+"=1")
		if spec.procs > 0 {
			cmd.Env = append(cmd.Env, fmt.Sprintf("GOMAXPROCS=%d", spec.procs))
		}
		cmd.Stderr = e.stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return workers, fmt.Errorf("worker stdin: %w", err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return workers, fmt.Errorf("worker stdout: %w", err)
		}
		if err := cmd.Start(); err != nil {
			return workers, fmt.Errorf("start worker: %w", err)
		}
		w := &worker{cmd: cmd, stdin: stdin, hello: make(chan workerHello, 1),
			done: make(chan workerReport, 1), drained: make(chan struct{})}
		go w.read(stdout)
		workers = append(workers, w)
	}
	return workers, nil
}

// stopWorkers closes every worker's stdin, which tells it to report and
// exit, and reaps it; one that does not finish in time is killed.
func stopWorkers(workers []*worker) {
	for _, w := range workers {
		_ = w.stdin.Close()
	}
	deadline := time.After(30 * time.Second)
	for _, w := range workers {
		select {
		case <-w.drained:
		case <-deadline:
			_ = w.cmd.Process.Kill()
			<-w.drained
		}
		_ = w.cmd.Wait()
	}
}

func (r *ccuReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "one netcode server, %d clients in %d worker processes, %d Hz, %d-byte snapshots, %gs measured, %d CPUs\n\n",
		p.Clients, p.Workers, p.Hz, p.Size, p.DurationS, p.CPUs); err != nil {
		return err
	}
	for _, row := range r.rows() {
		if _, err := fmt.Fprintf(w, "%-40s %s\n", row[0], row[1]); err != nil {
			return err
		}
	}
	for _, msg := range r.Errors {
		if _, err := fmt.Fprintln(w, "error:", msg); err != nil {
			return err
		}
	}
	return nil
}

func (r *ccuReport) rows() [][]string {
	rows := [][]string{
		{"clients connected", fmt.Sprintf("%d of %d (%d failed)", r.ClientsConnected, r.Params.Clients, r.ConnectFailed)},
		{"snapshot latency p50", fmtMicros(r.SnapshotP50US)},
		{"snapshot latency p90", fmtMicros(r.SnapshotP90US)},
		{"snapshot latency p99", fmtMicros(r.SnapshotP99US)},
		{"snapshot latency max", fmtMicros(r.SnapshotMaxUS)},
		{"delivered", fmt.Sprintf("%.2f%% (%d of %d, %d congested)", 100*r.Delivered, r.SnapshotsReceived, r.SnapshotsSent, r.Congested)},
		{"clients: arrived / read / lost / stale", fmt.Sprintf("%d / %d / %d / %d (both phases)", r.ClientArrived, r.ClientRead, r.ClientNetLost, r.ClientStale)},
		{"kernel UDP receive-buffer drops", fmt.Sprint(r.UDPRcvbufErrors)},
		{"ticks", fmt.Sprintf("%d of %d", r.Ticks, r.TicksExpected)},
		{"tick send p50 / p99", fmtMicros(r.TickSendP50US) + " / " + fmtMicros(r.TickSendP99US)},
		{"server CPU", fmt.Sprintf("%.3f cores, %.2e s per client-second", r.ServerCPUCores, r.ServerCPUSecondsPerClientSecond)},
		{"server CPU per snapshot sent", fmtMicros(r.ServerCPUPerSnapshotUS)},
		{"server packets in / out per snapshot", fmt.Sprintf("%.2f / %.2f (%s of CPU per packet)", r.ServerPacketsInPerSnapshot, r.ServerPacketsOutPerSnapshot, fmtMicros(r.ServerCPUPerPacketUS))},
		{"clients' CPU (worker processes)", fmt.Sprintf("%.3f cores, %s per snapshot", r.ClientsCPUCores, fmtMicros(r.ClientCPUPerSnapshotUS))},
		{"machine CPU busy (server and clients)", fmt.Sprintf("%.0f%%", 100*r.MachineCPUBusy)},
		{"server heap per client", fmt.Sprintf("%.0f KiB", r.ServerHeapBytesPerClient/1024)},
		{"server goroutines per client", fmt.Sprintf("%.1f", r.ServerGoroutinesPerClient)},
		{"connect p50 / p99 / max", fmt.Sprintf("%.1f / %.1f / %.1f ms", r.ConnectP50MS, r.ConnectP99MS, r.ConnectMaxMS)},
	}
	if p := r.Projection; p != nil {
		for _, ph := range p.Phases {
			rows = append(rows, []string{fmt.Sprintf("projection phase at %d Hz", ph.Hz), fmt.Sprintf(
				"server %.3f cores, %s per snapshot, packets in/out %.2f/%.2f, %d/%d ticks, %.2f%% read by clients (%.3f cores)",
				ph.ServerCPUCores, fmtMicros(ph.ServerCPUPerSnapshotUS), ph.ServerPacketsInPerSnapshot, ph.ServerPacketsOutPerSnapshot,
				ph.Ticks, ph.TicksExpected, 100*ph.Delivered, ph.ClientsCPUCores)})
		}
		kept := "clients kept up"
		if !p.ClientsKeptUp {
			kept = "clients did NOT keep up"
		}
		rows = append(rows, []string{fmt.Sprintf("projected server CPU at %d Hz", r.Params.Hz), fmt.Sprintf(
			"%.3f cores (idle %.3f, %s per snapshot; %s)", p.ServerCPUCores, p.IdleCores, fmtMicros(p.MarginalCPUPerSnapshotUS), kept)})
	}
	return rows
}

func (r *ccuReport) writeHTML(w io.Writer) error {
	p := r.Params
	return writeHTMLPage(w, "Tickwire bench: ccu", r.Args, []htmlSection{{
		Title:   fmt.Sprintf("%d clients at %d Hz, %d-byte snapshots", p.Clients, p.Hz, p.Size),
		Caption: "Snapshot latency: from the server's tick to netcode reading the snapshot in the client's process.",
		Table:   htmlTable{Head: []string{"figure", "value"}, Rows: r.rows()},
		Charts: []cdfChart{
			{Title: "CDF of snapshot latency", XLabel: "snapshot latency", Series: []cdfSeries{{Name: "netcode", Sorted: r.samples, Total: r.SnapshotsSent}}},
			{Title: "CDF of connect time", XLabel: "connect time", Series: []cdfSeries{{Name: "netcode", Sorted: r.connects}}},
		},
	}})
}
