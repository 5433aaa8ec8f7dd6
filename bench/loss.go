package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/tickwire/tickwire/netcode"
)

// streamFlags are the parameters loss and grid share.
type streamFlags struct {
	jitter   time.Duration
	hz       int
	duration time.Duration
	drain    time.Duration
	size     int
	seed     int64
	backHz   int
}

func addStreamFlags(fs *flag.FlagSet, duration, drain time.Duration) *streamFlags {
	f := &streamFlags{}
	fs.DurationVar(&f.jitter, "jitter", 0, "extra random delay, up to this much (pion vnet's own jitter, not seeded)")
	fs.IntVar(&f.hz, "hz", 60, "messages per second")
	fs.DurationVar(&f.duration, "duration", duration, "how long to stream")
	fs.DurationVar(&f.drain, "drain", drain, "how long after the last send to wait for stragglers; a message later than that is not delivered")
	fs.IntVar(&f.size, "size", 300, "payload bytes")
	fs.Int64Var(&f.seed, "seed", 1, "seed of the random loss")
	fs.IntVar(&f.backHz, "back-hz", 0, "messages per second the receiving end sends back, as a game's inputs (netcode: Client.SendInput; pion: the same channel), 32 bytes each; pkts/msg then counts them as messages too (0: none)")
	return f
}

func (f *streamFlags) check(fs *flag.FlagSet) error {
	switch {
	case f.hz < 1 || f.hz > 1000:
		return usageErrorf(fs, "-hz must be in [1, 1000]")
	case f.backHz < 0 || f.backHz > 1000:
		return usageErrorf(fs, "-back-hz must be in [0, 1000]")
	case f.size < 16 || f.size > maxPayload:
		return usageErrorf(fs, "-size must be in [16, %d]: the first 16 bytes carry a sequence number and a send time", maxPayload)
	case f.duration < time.Second/time.Duration(f.hz):
		return usageErrorf(fs, "-duration must cover at least one message")
	case f.jitter < 0, f.drain < 0:
		return usageErrorf(fs, "durations must not be negative")
	}
	return nil
}

// streamConfig is one run of the stream scenario.
type streamConfig struct {
	loss          float64
	delay, jitter time.Duration
	hz            int
	duration      time.Duration
	drain         time.Duration
	size          int
	seed          int64
	backHz        int
}

func (c streamConfig) messages() int { return int(c.duration * time.Duration(c.hz) / time.Second) }

// lossParams echoes the configuration in the JSON.
type lossParams struct {
	Loss      float64 `json:"loss"`
	DelayMS   float64 `json:"delay_ms"`
	JitterMS  float64 `json:"jitter_ms"`
	Hz        int     `json:"hz"`
	DurationS float64 `json:"duration_s"`
	DrainS    float64 `json:"drain_s"`
	Size      int     `json:"size"`
	Seed      int64   `json:"seed"`
	BackHz    int     `json:"back_hz,omitempty"`
}

func (c streamConfig) params() lossParams {
	return lossParams{
		Loss: c.loss, DelayMS: ms(c.delay), JitterMS: ms(c.jitter), Hz: c.hz,
		DurationS: c.duration.Seconds(), DrainS: c.drain.Seconds(), Size: c.size, Seed: c.seed, BackHz: c.backHz,
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// lossResult adds what matters under loss: how much arrived, and at what
// cost in packets (pion/sctp issue 505 makes unreliable channels chatty).
type lossResult struct {
	result
	// Delivered is the fraction of messages sent that arrived within the
	// drain time.
	Delivered float64 `json:"delivered"`
	// WirePacketsPerMsg counts UDP packets on the wire in both directions
	// (data, acknowledgements, retransmissions, keepalives, netcode's pings),
	// dropped ones included, per message sent.
	WirePacketsPerMsg float64 `json:"wire_packets_per_msg"`
	// BackSent is how many messages the receiving end sent back (-back-hz:
	// a game's inputs); WirePacketsPerMsg counts them as messages too.
	// Kinds is bench sctp's: packets per message by direction and chunks
	// carried.
	BackSent int                `json:"back_sent,omitempty"`
	Kinds    map[string]float64 `json:"kinds_per_msg,omitempty"`
}

type lossReport struct {
	Scenario string       `json:"scenario"`
	Args     []string     `json:"args"`
	Params   lossParams   `json:"params"`
	Results  []lossResult `json:"results"`
}

func init() {
	register(subcommand{"loss", "one-way latency of a steady stream over a lossy, delayed vnet", cmdLoss})
}

func cmdLoss(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("loss", e)
	loss := fs.Float64("loss", 0.05, "fraction of packets dropped, each direction independently")
	delay := fs.Duration("delay", 25*time.Millisecond, "one-way delay")
	sf := addStreamFlags(fs, 10*time.Second, 5*time.Second)
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := sf.check(fs); err != nil {
		return err
	}
	if *loss < 0 || *loss >= 1 || *delay < 0 {
		return usageErrorf(fs, "-loss must be in [0, 1) and -delay not negative")
	}
	cfg := streamConfig{loss: *loss, delay: *delay, jitter: sf.jitter, hz: sf.hz, duration: sf.duration,
		drain: sf.drain, size: sf.size, seed: sf.seed, backHz: sf.backHz}
	bar := e.newProgress("loss", cfg.messages())
	results, err := runStream(ctx, cfg, streamTransports(), bar)
	bar.finish()
	if err != nil {
		return err
	}
	return emit(&lossReport{Scenario: "loss", Args: e.args, Params: cfg.params(), Results: results}, out, e)
}

func (r *lossReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "one-way latency over vnet: %.3g%% loss, %gms delay, %gms jitter, %d Hz, %d-byte messages for %gs, back %d Hz\n\n",
		100*p.Loss, p.DelayMS, p.JitterMS, p.Hz, p.Size, p.DurationS, p.BackHz); err != nil {
		return err
	}
	return writeLossResults(w, r.Results)
}

func writeLossResults(w io.Writer, results []lossResult) error {
	base := make([]result, len(results))
	for i, r := range results {
		base[i] = r.result
	}
	return writeResults(w, base, []string{"delivered", "pkts/msg"}, func(i int) []string {
		return []string{fmt.Sprintf("%.2f%%", 100*results[i].Delivered), fmt.Sprintf("%.2f", results[i].WirePacketsPerMsg)}
	})
}

func (r *lossReport) writeHTML(w io.Writer) error {
	p := r.Params
	return writeHTMLPage(w, "Tickwire bench: loss", r.Args, []htmlSection{lossSection(
		fmt.Sprintf("One-way latency at %.3g%% loss, %g ms delay", 100*p.Loss, p.DelayMS), r.Results)})
}

func lossSection(title string, results []lossResult) htmlSection {
	base := make([]result, len(results))
	for i, r := range results {
		base[i] = r.result
	}
	return htmlSection{
		Title: title,
		Table: resultsTable(base, []string{"delivered", "packets/msg"}, func(i int) []string {
			return []string{fmt.Sprintf("%.2f%%", 100*results[i].Delivered), fmt.Sprintf("%.2f", results[i].WirePacketsPerMsg)}
		}),
		Charts:  []cdfChart{resultsCDF("one-way latency", base)},
		Caption: "Fraction of the messages sent that arrived within a given latency: a lossy transport's curve levels off at the fraction it delivered.",
	}
}

// streamTransport sends a steady stream from a server host to a client host
// of one lab link. Names are the tool's interface (issue 6).
type streamTransport struct {
	name string
	// reliable transports deliver everything eventually, so the drain
	// waits for them.
	reliable bool
	open     func(ctx context.Context, link *labLink, rec *recorder) (*streamer, error)
}

func streamTransports() []streamTransport {
	return []streamTransport{
		{"dc-reliable", true, func(ctx context.Context, l *labLink, rec *recorder) (*streamer, error) {
			return openPionStream(ctx, l, reliableInit(), rec)
		}},
		{"dc-unreliable", false, func(ctx context.Context, l *labLink, rec *recorder) (*streamer, error) {
			return openPionStream(ctx, l, unreliableInit(), rec)
		}},
		{"netcode", false, openNetcodeStream},
	}
}

// streamer is an open stream.
type streamer struct {
	// send sends one message from the server. false means the transport
	// refused it (netcode's ErrCongested): sent, but never delivered.
	send func(p []byte) (bool, error)
	// back sends one message from the client to the server, as a game's
	// input (-back-hz); false as for send.
	back  func(p []byte) (bool, error)
	close func()
	// finish, when set, adds to r what the transport measured itself, once
	// the lab has stopped counting.
	finish func(r *lossResult)
}

// recorder collects one stream's arrivals. Payloads carry a sequence number
// from 1 and the send time since epoch: one process, one monotonic clock.
type recorder struct {
	epoch time.Time

	mu      sync.Mutex
	seen    []bool
	samples []time.Duration
}

func newRecorder(epoch time.Time, messages int) *recorder {
	return &recorder{epoch: epoch, seen: make([]bool, messages+1), samples: make([]time.Duration, 0, messages)}
}

// stamp writes seq and the send time into p.
func (r *recorder) stamp(p []byte, seq int) {
	binary.LittleEndian.PutUint64(p, uint64(seq))
	binary.LittleEndian.PutUint64(p[8:], uint64(time.Since(r.epoch)))
}

// add records a message that arrived at at; duplicates and strangers are
// ignored.
func (r *recorder) add(p []byte, at time.Time) {
	if len(p) < 16 {
		return
	}
	seq := binary.LittleEndian.Uint64(p)
	sent := r.epoch.Add(time.Duration(binary.LittleEndian.Uint64(p[8:])))
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq == 0 || seq >= uint64(len(r.seen)) || r.seen[seq] {
		return
	}
	r.seen[seq] = true
	r.samples = append(r.samples, at.Sub(sent))
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

func (r *recorder) takeSamples() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.samples
	r.samples = nil
	return s
}

// runStream measures transports at once on one lab: the same delay, the
// same moments, each with its own loss draws.
func runStream(ctx context.Context, cfg streamConfig, transports []streamTransport, bar *progress) (results []lossResult, err error) {
	l, err := newLab(len(transports), cfg.delay, cfg.jitter, cfg.seed)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := l.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()

	total := cfg.messages()
	epoch := time.Now()
	streams := make([]*streamer, 0, len(transports))
	defer func() {
		l.stop()
		for _, s := range streams {
			s.close()
		}
	}()
	recs := make([]*recorder, len(transports))
	for i, t := range transports {
		recs[i] = newRecorder(epoch, total)
		setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
		s, err := t.open(setupCtx, l.links[i], recs[i])
		cancel()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", t.name, err)
		}
		streams = append(streams, s)
	}

	l.start(cfg.loss)
	// The clients' messages back flow while the lab counts packets, from
	// its start until just before it stops.
	backSent := make([]int, len(transports))
	stopBack := make(chan struct{})
	var backWG sync.WaitGroup
	if cfg.backHz > 0 {
		for i, s := range streams {
			if s.back == nil {
				continue
			}
			backWG.Add(1)
			go func() {
				defer backWG.Done()
				backSent[i] = sendBack(s.back, cfg.backHz, stopBack)
			}()
		}
	}
	var stopBackOnce sync.Once
	endBack := func() {
		stopBackOnce.Do(func() {
			close(stopBack)
			backWG.Wait()
		})
	}
	defer endBack()
	sent := make([]int, len(transports))
	errs := make([]error, len(transports))
	bufs := make([][]byte, len(transports))
	for i := range bufs {
		bufs[i] = make([]byte, cfg.size)
	}
	tick := time.NewTicker(time.Second / time.Duration(cfg.hz))
	for seq := 1; seq <= total; seq++ {
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
		for i, s := range streams {
			if errs[i] != nil {
				continue
			}
			recs[i].stamp(bufs[i], seq)
			if _, err := s.send(bufs[i]); err != nil {
				errs[i] = err
				continue
			}
			// A refused message still counts as sent: the game wanted it
			// delivered.
			sent[i]++
		}
		bar.add(1)
	}
	tick.Stop()

	// In-flight unreliable messages need one delay and the jitter; reliable
	// ones may need retransmission timeouts of seconds, up to cfg.drain.
	floor := time.Now().Add(2*(cfg.delay+cfg.jitter) + 250*time.Millisecond)
	deadline := time.Now().Add(max(cfg.drain, time.Until(floor)))
	for {
		now := time.Now()
		complete := true
		for i, t := range transports {
			if t.reliable && errs[i] == nil && recs[i].count() < sent[i] {
				complete = false
			}
		}
		if (complete && now.After(floor)) || now.After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	endBack()
	l.stop()

	for i, t := range transports {
		r := lossResult{result: newResult(t.name, sent[i], recs[i].takeSamples())}
		r.BackSent = backSent[i]
		if sent[i] > 0 {
			r.Delivered = float64(len(r.samples)) / float64(sent[i])
			r.WirePacketsPerMsg = float64(l.packets(l.links[i])) / float64(sent[i]+backSent[i])
		}
		if errs[i] != nil {
			r.Error = errs[i].Error()
		}
		if streams[i].finish != nil {
			streams[i].finish(&r)
		}
		results = append(results, r)
	}
	return results, nil
}

// sendBack sends a 32-byte message with send every 1/hz until stop closes,
// and returns how many the transport took. Nothing reads their figures:
// they are there for the acknowledgements they could carry, as a game's
// inputs carry them.
func sendBack(send func([]byte) (bool, error), hz int, stop <-chan struct{}) int {
	tick := time.NewTicker(time.Second / time.Duration(hz))
	defer tick.Stop()
	buf := make([]byte, 32)
	sent := 0
	for {
		select {
		case <-stop:
			return sent
		case <-tick.C:
		}
		binary.LittleEndian.PutUint64(buf, uint64(sent))
		ok, err := send(buf)
		if err != nil {
			return sent
		}
		if ok {
			sent++
		}
	}
}

// openPionStream streams over one bare data channel from the answerer
// (server) to the offerer (client).
func openPionStream(ctx context.Context, link *labLink, init *webrtc.DataChannelInit, rec *recorder) (*streamer, error) {
	p, err := openPionPair(ctx, bareAPI(link.client), bareAPI(link.server), init)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := p.near.Read(buf)
			if err != nil {
				return // closed
			}
			rec.add(buf[:n], time.Now())
		}
	}()
	// The sending end reads too, though nothing comes its way but DCEP:
	// see drain.
	go func() {
		defer wg.Done()
		drain(p.far)
	}()
	return &streamer{
		send: func(b []byte) (bool, error) {
			if _, err := p.far.Write(b); err != nil {
				return false, err
			}
			return true, nil
		},
		back: func(b []byte) (bool, error) {
			if _, err := p.near.Write(b); err != nil {
				return false, err
			}
			return true, nil
		},
		close: func() {
			p.close()
			wg.Wait()
		},
	}, nil
}

// openNetcodeStream streams snapshots from a netcode server Session to a
// Client, timing each at Snapshot.Received: when netcode read it off the
// network. A snapshot overtaken by a newer one before the client read it is
// not delivered: a game never sees it either.
func openNetcodeStream(ctx context.Context, link *labLink, rec *recorder) (*streamer, error) {
	srv, err := netcode.NewServer(ncOptions{Net: link.server, UDPAddr: link.serverIP + ":7000"}.server())
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	client, sess, err := connectNetcode(ctx, srv, ncOptions{Net: link.client}.client())
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	readCtx, stop := context.WithCancel(context.Background())
	read := make(chan struct{})
	go func() {
		defer close(read)
		for {
			s, err := client.ReadSnapshot(readCtx)
			if err != nil {
				return
			}
			rec.add(s.Payload, s.Received)
		}
	}()
	return &streamer{
		send: func(b []byte) (bool, error) {
			err := sess.SendSnapshot(b)
			if errors.Is(err, netcode.ErrCongested) {
				return false, nil
			}
			return err == nil, err
		},
		back: func(b []byte) (bool, error) {
			err := client.SendInput(b)
			if errors.Is(err, netcode.ErrCongested) {
				return false, nil
			}
			return err == nil, err
		},
		close: func() {
			stop()
			<-read
			_ = client.Close()
			_ = srv.Close()
		},
	}, nil
}
