package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/tickwire/tickwire/internal/flood"
	"github.com/tickwire/tickwire/netcode"
)

// floodWorkerCommand is the hidden subcommand flood starts its flooder
// process with, so that the attacker's CPU is not the server's.
const floodWorkerCommand = "flood-worker"

type floodParams struct {
	Rates     []int   `json:"rates_pps"`
	DurationS float64 `json:"duration_s"`
	Players   int     `json:"players"`
	Kind      string  `json:"kind"`
}

// floodPhase is the players' round trip during one phase: no flood, or a
// flood of Rate packets a second at the game server's port ("game") or at
// a port nobody listens on ("dead", the control).
type floodPhase struct {
	Rate    int    `json:"rate_pps"`
	Target  string `json:"target"`
	Sent    uint64 `json:"flood_sent"`
	Dropped uint64 `json:"mux_dropped"` // read and dropped by the server as unknown
	result
}

type floodReport struct {
	Scenario string       `json:"scenario"`
	Args     []string     `json:"args"`
	Params   floodParams  `json:"params"`
	Phases   []floodPhase `json:"phases"`
}

var floodKinds = map[string]flood.Kind{"mixed": flood.Mixed, "random": flood.Random, "stun": flood.STUN, "clienthello": flood.ClientHello}

func init() {
	register(
		subcommand{"flood", "players' round trip while the server's UDP port is flooded, against a dead port", cmdFlood},
		subcommand{floodWorkerCommand, "", cmdFloodWorker},
	)
}

func cmdFlood(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("flood", e)
	rateList := fs.String("rates", "25000,50000,100000,200000", "comma-separated flood rates, packets a second")
	duration := fs.Duration("duration", 3*time.Second, "length of each phase")
	players := fs.Int("players", 2, "players measuring their round trip")
	kind := fs.String("kind", "mixed", "what the flood is made of: mixed, random, stun or clienthello")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rates, err := parseList(*rateList, strconv.Atoi)
	if err != nil {
		return usageErrorf(fs, "-rates: %v", err)
	}
	if _, ok := floodKinds[*kind]; !ok {
		return usageErrorf(fs, "-kind %q: want mixed, random, stun or clienthello", *kind)
	}
	if *duration < time.Second || *players < 1 {
		return usageErrorf(fs, "-duration must be at least 1s and -players at least 1")
	}

	srv, err := netcode.NewServer(ncOptions{UDPAddr: "127.0.0.1:0"}.server())
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	defer srv.Close()
	game := srv.UDPAddr().(*net.UDPAddr).AddrPort()
	dead, err := deadPort()
	if err != nil {
		return err
	}
	lab, err := startFloodPlayers(ctx, srv, *players)
	if err != nil {
		return err
	}
	defer lab.close()

	r := &floodReport{Scenario: "flood", Args: e.args, Params: floodParams{
		Rates: rates, DurationS: duration.Seconds(), Players: *players, Kind: *kind,
	}}
	type phase struct {
		rate   int
		target string
		addr   netip.AddrPort
	}
	phases := []phase{{0, "none", netip.AddrPort{}}}
	for _, rate := range rates {
		phases = append(phases, phase{rate, "dead", dead}, phase{rate, "game", game})
	}
	bar := e.newProgress("flood", len(phases))
	defer bar.finish()
	for _, ph := range phases {
		bar.relabel(fmt.Sprintf("flood %d/s at %s port", ph.rate, ph.target))
		before := srvUnknown(srv)
		var wait func() (uint64, error)
		if ph.rate > 0 {
			if wait, err = startFlooder(ctx, ph.addr, ph.rate, *duration+time.Second, *kind, e); err != nil {
				return err
			}
			// The flooder's start-up is not part of the phase.
			time.Sleep(500 * time.Millisecond)
		}
		samples, n := lab.measure(ctx, *duration)
		fp := floodPhase{Rate: ph.rate, Target: ph.target, result: newResult(ph.target, n, samples)}
		if wait != nil {
			if fp.Sent, err = wait(); err != nil {
				return err
			}
		}
		fp.Dropped = srvUnknown(srv) - before
		r.Phases = append(r.Phases, fp)
		bar.add(1)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return emit(r, out, e)
}

// srvUnknown is the server's count of datagrams dropped as unknown.
func srvUnknown(s *netcode.Server) uint64 { return s.Stats().UDPUnknown }

// deadPort is a loopback UDP port with nothing listening.
func deadPort() (netip.AddrPort, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, err
	}
	a := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return a, c.Close()
}

// floodLab is players echoing through one server, each measuring its round
// trip: an input carrying a sequence number, sent back as a snapshot.
type floodLab struct {
	clients []*netcode.Client
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func startFloodPlayers(ctx context.Context, srv *netcode.Server, n int) (*floodLab, error) {
	lab := &floodLab{}
	sctx, stop := context.WithCancel(context.Background())
	lab.stop = stop
	for range n {
		c, sess, err := connectNetcode(ctx, srv, ncOptions{UDP4Only: true}.client())
		if err != nil {
			lab.close()
			return nil, err
		}
		lab.clients = append(lab.clients, c)
		lab.wg.Add(1)
		go func() {
			defer lab.wg.Done()
			for {
				in, err := sess.ReadInput(sctx)
				if err != nil {
					return
				}
				if err := sess.SendSnapshot(in.Payload); err != nil && !errors.Is(err, netcode.ErrCongested) {
					return
				}
			}
		}()
	}
	return lab, nil
}

// measure runs every player's echo loop for d, a trip every 5 ms each, and
// returns the round trips and how many were tried.
func (lab *floodLab) measure(ctx context.Context, d time.Duration) ([]time.Duration, int) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var samples []time.Duration
	var tried atomic.Int64
	var wg sync.WaitGroup
	for _, c := range lab.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPayload(64)
			for ctx.Err() == nil {
				b := p.next()
				tried.Add(1)
				if rtt, ok := floodEcho(ctx, c, b); ok {
					mu.Lock()
					samples = append(samples, rtt)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return samples, int(tried.Load())
}

func floodEcho(ctx context.Context, c *netcode.Client, p []byte) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(ctx, echoTimeout)
	defer cancel()
	start := time.Now()
	if c.SendInput(p) != nil {
		return 0, false
	}
	for {
		s, err := c.ReadSnapshot(ctx)
		if err != nil {
			return 0, false
		}
		if bytes.Equal(s.Payload, p) {
			return time.Since(start), true
		}
	}
}

func (lab *floodLab) close() {
	lab.stop()
	for _, c := range lab.clients {
		_ = c.Close()
	}
	lab.wg.Wait()
}

// startFlooder runs this program as a flooder at target for d; wait
// returns how many packets it sent.
func startFlooder(ctx context.Context, target netip.AddrPort, rate int, d time.Duration, kind string, e *env) (func() (uint64, error), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, floodWorkerCommand,
		"-target", target.String(), "-rate", strconv.Itoa(rate), "-duration", d.String(), "-kind", kind)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start flooder: %w", err)
	}
	return func() (uint64, error) {
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("flooder: %w", err)
		}
		return strconv.ParseUint(strings.TrimSpace(out.String()), 10, 64)
	}, nil
}

// cmdFloodWorker floods and prints how many packets it sent.
func cmdFloodWorker(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet(floodWorkerCommand, e)
	target := fs.String("target", "", "loopback address to flood")
	rate := fs.Int("rate", 0, "packets a second")
	d := fs.Duration("duration", time.Second, "how long")
	kind := fs.String("kind", "mixed", "mixed, random, stun or clienthello")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(*target)
	if err != nil {
		return usageErrorf(fs, "-target: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *d)
	defer cancel()
	n, err := flood.Run(ctx, flood.Config{Target: ap, Rate: *rate, Kind: floodKinds[*kind], Sources: 256})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, n)
	return err
}

func (r *floodReport) control(rate int) *floodPhase {
	for i := range r.Phases {
		if r.Phases[i].Rate == rate && r.Phases[i].Target == "dead" {
			return &r.Phases[i]
		}
	}
	return nil
}

// ratio is a phase's median round trip over its control's.
func (r *floodReport) ratio(p floodPhase) string {
	c := r.control(p.Rate)
	if p.Target != "game" || c == nil || c.P50 == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", p.P50/c.P50)
}

func (r *floodReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "players' round trip under a %s UDP flood, %d players, %gs per phase\n"+
		"(dead: the flood at a port nobody listens on, the control; game: at the game server's port)\n\n",
		p.Kind, p.Players, p.DurationS); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeRow(tw, []string{"flood/s", "at", "sent", "dropped", "trips", "lost", "p50", "p99", "p50 vs dead"})
	for _, ph := range r.Phases {
		writeRow(tw, []string{fmt.Sprint(ph.Rate), ph.Target, fmt.Sprint(ph.Sent), fmt.Sprint(ph.Dropped),
			fmt.Sprint(ph.N), fmt.Sprint(ph.Lost), fmtMicros(ph.P50), fmtMicros(ph.P99), r.ratio(ph)})
	}
	return tw.Flush()
}

func (r *floodReport) writeHTML(w io.Writer) error {
	var rows [][]string
	var series []cdfSeries
	for _, ph := range r.Phases {
		rows = append(rows, []string{fmt.Sprint(ph.Rate), ph.Target, fmt.Sprint(ph.Sent), fmt.Sprint(ph.N),
			fmt.Sprint(ph.Lost), fmtMicros(ph.P50), fmtMicros(ph.P99), r.ratio(ph)})
		series = append(series, cdfSeries{Name: fmt.Sprintf("%d/s %s", ph.Rate, ph.Target), Sorted: ph.samples, Total: ph.N})
	}
	return writeHTMLPage(w, "Tickwire bench: flood", r.Args, []htmlSection{{
		Title: fmt.Sprintf("Players' round trip under a %s UDP flood", r.Params.Kind),
		Caption: "Each rate floods a dead port (the control) and then the game server's port, from another process; " +
			"the players echo an input as a snapshot every 5 ms.",
		Table:  htmlTable{Head: []string{"flood/s", "at", "sent", "trips", "lost", "p50", "p99", "p50 vs dead"}, Rows: rows},
		Charts: []cdfChart{{Title: "round-trip time", XLabel: "round trip", Series: series}},
	}})
}
