package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickwire/tickwire/netcode"
)

// Issue 17 measures state replication (netcode.World to netcode.Replica)
// over the lab: what a client costs in bytes against sending the game's
// structs whole, how far the world a client draws is from the server's,
// what the server spends per client and tick, and Fiedler's cube scene
// ("Snapshot Compression", gafferongames.com) against his 256 kbit/s.

func init() {
	register(subcommand{"replication", "issue 17: replicated state's bytes, smoothness and server CPU over a lossy vnet; Fiedler's cubes", cmdReplication})
}

func cmdReplication(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("replication", e)
	loss := fs.Float64("loss", 0.05, "fraction of packets dropped, each direction independently")
	delay := fs.Duration("delay", 25*time.Millisecond, "one-way delay")
	jitter := fs.Duration("jitter", 10*time.Millisecond, "extra random delay, up to this much (pion vnet's own jitter, not seeded)")
	clients := fs.Int("clients", 4, "clients in the world, each on its own link of the lab")
	duration := fs.Duration("duration", 10*time.Second, "measured phase of each scene")
	warmup := fs.Duration("warmup", 2*time.Second, "ticks before the measured phase: the first full states, the playout settling")
	hz := fs.Int("hz", 30, "reference scene: ticks per second")
	cubeHz := fs.Int("cube-hz", 60, "cube scene: ticks per second")
	renderHz := fs.Int("render-hz", 60, "reference scene: each client's render loop, frames per second")
	inputHz := fs.Int("input-hz", 0, "each client sends its game's input this often (16 B), on which state acks ride; 0: none, and every ack goes alone")
	seed := fs.Int64("seed", 1, "seed of the random loss")
	scenes := fs.String("scenes", "reference,cubes", "comma-separated scenes to run: reference, cubes")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured phase of one scene (-scenes), the whole process (clients too), to `file`")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *loss < 0 || *loss >= 1:
		return usageErrorf(fs, "-loss must be in [0, 1)")
	case *delay < 0 || *jitter < 0 || *warmup < 0:
		return usageErrorf(fs, "durations must not be negative")
	case *clients < 1 || *clients > 64:
		return usageErrorf(fs, "-clients must be in [1, 64]")
	case *hz < 1 || *hz > 240 || *cubeHz < 1 || *cubeHz > 240 || *renderHz < 1 || *renderHz > 480:
		return usageErrorf(fs, "-hz and -cube-hz must be in [1, 240], -render-hz in [1, 480]")
	case *inputHz < 0 || *inputHz > 480:
		return usageErrorf(fs, "-input-hz must be in [0, 480]")
	case *duration < time.Second/time.Duration(min(*hz, *cubeHz)):
		return usageErrorf(fs, "-duration must cover at least one tick")
	}
	names, err := parseList(*scenes, func(s string) (string, error) {
		if s != "reference" && s != "cubes" {
			return "", fmt.Errorf("unknown scene %q", s)
		}
		return s, nil
	})
	if err != nil {
		return usageErrorf(fs, "-scenes: %v", err)
	}
	names = slices.Compact(names)
	r := &replReport{Scenario: "replication", Args: e.args, Params: replParams{
		Loss: *loss, DelayMS: ms(*delay), JitterMS: ms(*jitter), Clients: *clients, DurationS: duration.Seconds(),
		WarmupS: warmup.Seconds(), Hz: *hz, CubeHz: *cubeHz, RenderHz: *renderHz, Budget: replBudget, Seed: *seed, Scenes: names,
		InputHz: *inputHz,
	}}
	ticks := func(hz int) int { return int((*warmup + *duration) * time.Duration(hz) / time.Second) }
	total := 0
	for _, n := range names {
		total += map[string]int{"reference": ticks(*hz), "cubes": ticks(*cubeHz)}[n]
	}
	var prof *profiler
	if *cpuProfile != "" {
		if len(names) > 1 {
			return usageErrorf(fs, "-cpuprofile profiles one scene: choose it with -scenes")
		}
		if prof, err = newProfiler(*cpuProfile); err != nil {
			return err
		}
	}
	bar := e.newProgress("replication", total)
	defer bar.finish()
	for _, n := range names {
		cfg := replRun{loss: *loss, delay: *delay, jitter: *jitter, clients: *clients, duration: *duration,
			warmup: *warmup, renderHz: *renderHz, inputHz: *inputHz, seed: *seed, prof: prof}
		switch n {
		case "reference":
			s := newRefScene()
			cfg.scene, cfg.hz, cfg.render = s, *hz, s
		case "cubes":
			cfg.scene, cfg.hz = newCubeScene(*cubeHz), *cubeHz
		}
		bar.relabel("replication " + n)
		res, err := runReplScene(ctx, cfg, bar)
		if err != nil {
			return fmt.Errorf("%s scene: %w", n, err)
		}
		if n == "reference" {
			r.Reference = res
		} else {
			r.Cubes = res
		}
	}
	bar.finish()
	if err := prof.close(); err != nil {
		return err
	}
	return emit(r, out, e)
}

// replScene is a game: its types, and what it sets in the world each tick.
type replScene interface {
	name() string
	entities() int
	moving() int
	register(w *netcode.World) error
	// step sets the world as it is at tick (from 1) and returns how many
	// entities it set.
	step(w *netcode.World, tick uint64) (int, error)
	// full is the world's structs as of the last step, as a game would
	// send them whole.
	full() any
}

// replTruth is a scene whose movers' positions are known at any moment.
type replTruth interface {
	movers() []uint32
	// truth is mover i's position at a fractional tick.
	truth(i int, tick float64) (x, y float64)
	// tickOf is the tick, near near, at which mover i was at (x, y),
	// to the nearest tick.
	tickOf(i int, x, y, near float64) float64
	speedPerTick() float64
}

type replRun struct {
	scene         replScene
	render        replTruth // nil: no render loop
	hz, renderHz  int
	inputHz       int
	clients       int
	loss          float64
	delay, jitter time.Duration
	duration      time.Duration
	warmup        time.Duration
	seed          int64
	prof          *profiler // nil: none
}

// replClient is one client of the world and its server side.
type replClient struct {
	srv    *netcode.Server
	client *netcode.Client
	sess   *netcode.Session
	lab    *lab
	link   *labLink

	// Filled by its goroutines during the measured phase.
	nexts, fresh  int
	ages          []float64
	regressions   int
	errors        []float64
	carriedErrors []float64

	// carried is each mover's positions of their own tick, oldest first,
	// from the Next loop for the render loop.
	mu      sync.Mutex
	carried [][]replSample
	delays  []time.Duration
	targets []time.Duration
	jitters []time.Duration
}

func runReplScene(ctx context.Context, cfg replRun, bar *progress) (res *replResult, err error) {
	n := cfg.clients
	l, err := newLab(n, cfg.delay, cfg.jitter, cfg.seed)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := l.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	cs := make([]*replClient, 0, n)
	defer func() {
		l.stop()
		for _, c := range cs {
			_ = c.client.Close()
			_ = c.srv.Close()
		}
	}()
	for i := range n {
		link := l.links[i]
		srv, err := netcode.NewServer(ncOptions{Net: link.server, UDPAddr: link.serverIP + ":7000"}.server())
		if err != nil {
			return nil, fmt.Errorf("new server: %w", err)
		}
		setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
		client, sess, err := connectNetcode(setupCtx, srv, ncOptions{Net: link.client}.client())
		cancel()
		if err != nil {
			_ = srv.Close()
			return nil, err
		}
		cs = append(cs, &replClient{srv: srv, client: client, sess: sess, lab: l, link: link})
	}
	players := cs

	w, err := netcode.NewWorld(nil)
	if err != nil {
		return nil, err
	}
	if err := cfg.scene.register(w); err != nil {
		return nil, err
	}
	for _, c := range players {
		w.Join(c.sess)
	}

	var measuring atomic.Bool
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replNextLoop(runCtx, c, cfg.render, &measuring)
		}()
		if cfg.render != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replRenderLoop(runCtx, c, cfg.render, cfg.renderHz, &measuring)
			}()
		}
		if cfg.inputHz > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replInputLoop(runCtx, c, cfg.inputHz)
			}()
		}
	}
	defer func() {
		stop()
		wg.Wait()
	}()

	l.start(cfg.loss)
	tl, err := replTickLoop(ctx, cfg, w, players, &measuring, bar)
	stop()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	return replSummarise(cfg, tl, players), nil
}

// replInputLoop sends the game's inputs, as a player's client does, until
// ctx ends; a refused one (congested) is the game's loss, as in a game.
func replInputLoop(ctx context.Context, c *replClient, hz int) {
	t := time.NewTicker(time.Second / time.Duration(hz))
	defer t.Stop()
	input := make([]byte, 16)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = c.client.SendInput(input)
		}
	}
}

// replStats are the counters the tick loop reads at the start and the
// end of the measured phase.
type replStats struct {
	bytesOut, statesSent, statesKept, statesDropped, clientPackets []uint64
}

func readReplStats(players []*replClient) replStats {
	var s replStats
	for _, c := range players {
		ss, cl := c.sess.Stats(), c.client.Stats()
		s.clientPackets = append(s.clientPackets, c.lab.clientPackets(c.link))
		s.bytesOut = append(s.bytesOut, ss.BytesOut)
		s.statesSent = append(s.statesSent, ss.StatesSent)
		s.statesKept = append(s.statesKept, cl.StatesReceived)
		s.statesDropped = append(s.statesDropped, cl.StatesStale+cl.StatesUnknownBase)
	}
	return s
}

// replTicks is what the tick loop measured.
type replTicks struct {
	before, after     replStats
	elapsed           time.Duration
	ticks             int
	moved             int
	tickWall, tickCPU time.Duration
	cpuOK             bool
	msgpack, msgArray int
	clientEntities    int // summed over the clients
	errs              []string
}

// replTickLoop runs the game: warm-up ticks, then the measured ones, on
// one goroutine locked to its thread so that the thread's CPU time is the
// ticks' own.
func replTickLoop(ctx context.Context, cfg replRun, w *netcode.World, players []*replClient,
	measuring *atomic.Bool, bar *progress) (*replTicks, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	warm := int(cfg.warmup * time.Duration(cfg.hz) / time.Second)
	total := warm + int(cfg.duration*time.Duration(cfg.hz)/time.Second)
	var (
		tl             replTicks
		start          time.Time
		mapBuf, arrBuf bytes.Buffer
		mapEnc         = msgpack.NewEncoder(&mapBuf)
		arrEnc         = msgpack.NewEncoder(&arrBuf)
		cpuOK          = true
		tickErrs       = map[string]int{}
		ticker         = time.NewTicker(time.Second / time.Duration(cfg.hz))
	)
	arrEnc.UseArrayEncodedStructs(true)
	defer ticker.Stop()
	for tick := 1; tick <= total; tick++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ticker.C:
		}
		m := tick > warm
		if tick == warm+1 {
			tl.before, start = readReplStats(players), time.Now()
			measuring.Store(true)
			if err := cfg.prof.start(); err != nil {
				return nil, err
			}
		}
		moved, err := cfg.scene.step(w, uint64(tick))
		if err != nil {
			return nil, err
		}
		c0, ok0 := threadCPU()
		t0 := time.Now()
		err = w.Tick()
		wall := time.Since(t0)
		c1, ok1 := threadCPU()
		if err != nil {
			tickErrs[err.Error()]++
		}
		if m {
			tl.ticks++
			tl.moved += moved
			tl.tickWall += wall
			tl.tickCPU += c1 - c0
			cpuOK = cpuOK && ok0 && ok1
			mapBuf.Reset()
			arrBuf.Reset()
			if err := mapEnc.Encode(cfg.scene.full()); err != nil {
				return nil, fmt.Errorf("msgpack: %w", err)
			}
			if err := arrEnc.Encode(cfg.scene.full()); err != nil {
				return nil, fmt.Errorf("msgpack: %w", err)
			}
			tl.msgpack += mapBuf.Len()
			tl.msgArray += arrBuf.Len()
		}
		bar.add(1)
	}
	measuring.Store(false)
	tl.elapsed = time.Since(start)
	cfg.prof.stop()
	// States of the last ticks still travel; they count as sent, and the
	// clients' figures are of what arrived by now, as a game's would be.
	tl.after = readReplStats(players)
	for _, c := range players {
		tl.clientEntities += len(c.client.World().Entities())
	}
	tl.cpuOK = cpuOK
	for msg, n := range tickErrs {
		tl.errs = append(tl.errs, fmt.Sprintf("World.Tick failed %d times: %s", n, msg))
	}
	slices.Sort(tl.errs)
	return &tl, nil
}

// replNextLoop reads what each state brought a client: in a scene whose
// movers' paths are known, the tick each mover's position is of.
func replNextLoop(ctx context.Context, c *replClient, truth replTruth, measuring *atomic.Bool) {
	r := c.client.World()
	var prev []float64 // each mover's tick in the state reported before, NaN if none
	if truth != nil {
		prev = make([]float64, len(truth.movers()))
	}
	for {
		u, err := r.Next(ctx)
		if err != nil {
			return
		}
		if truth == nil || !measuring.Load() {
			for i := range prev {
				prev[i] = math.NaN()
			}
			continue
		}
		movers := truth.movers()
		cur := make([]float64, len(movers))
		for i, id := range movers {
			cur[i] = math.NaN()
			if e, ok := r.Entity(id); ok {
				x, _ := e.Float("x")
				y, _ := e.Float("y")
				cur[i] = truth.tickOf(i, x, y, float64(u.Tick))
			}
		}
		if r.Tick() != u.Tick {
			// A newer state arrived while this one was read: its
			// entities may be of either.
			for i := range prev {
				prev[i] = math.NaN()
			}
			continue
		}
		c.nexts++
		c.mu.Lock()
		if c.carried == nil {
			c.carried = make([][]replSample, len(movers))
		}
		for i, t := range cur {
			if math.IsNaN(t) {
				continue
			}
			if t == float64(u.Tick) {
				c.fresh++
				e, _ := r.Entity(movers[i])
				x, _ := e.Float("x")
				y, _ := e.Float("y")
				h := append(c.carried[i], replSample{t, x, y})
				if len(h) > 64 {
					h = append(h[:0], h[len(h)-32:]...)
				}
				c.carried[i] = h
			}
			c.ages = append(c.ages, float64(u.Tick)-t)
			if t < prev[i] {
				c.regressions++
			}
		}
		c.mu.Unlock()
		prev = cur
	}
}

// replSample is a mover's position of its own tick.
type replSample struct{ tick, x, y float64 }

// replCarriedAt is mover i's position at tick t interpolated between the
// samples around it, extrapolated from the last two for at most a tick
// past the newest, then held; false before any sample precedes t.
func replCarriedAt(h []replSample, t float64) (x, y float64, ok bool) {
	j, _ := slices.BinarySearchFunc(h, t, func(s replSample, t float64) int {
		if s.tick <= t {
			return -1
		}
		return 1
	})
	switch {
	case j == 0:
		return 0, 0, false
	case j == len(h) && j >= 2:
		a, b := h[j-2], h[j-1]
		t = min(t, b.tick+1)
		alpha := (t - a.tick) / (b.tick - a.tick)
		return a.x + (b.x-a.x)*alpha, a.y + (b.y-a.y)*alpha, true
	case j == len(h):
		return h[j-1].x, h[j-1].y, true
	}
	a, b := h[j-1], h[j]
	alpha := (t - a.tick) / (b.tick - a.tick)
	return a.x + (b.x-a.x)*alpha, a.y + (b.y-a.y)*alpha, true
}

// replRenderLoop draws a client's world renderHz times a second, as a
// game's render loop, and compares each mover it draws with the truth at
// the frame's tick.
func replRenderLoop(ctx context.Context, c *replClient, truth replTruth, renderHz int, measuring *atomic.Bool) {
	r := c.client.World()
	movers := truth.movers()
	speed := truth.speedPerTick()
	t := time.NewTicker(time.Second / time.Duration(renderHz))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !measuring.Load() {
			continue
		}
		f := r.At(time.Now())
		if f.Tick <= 0 {
			continue
		}
		pl := r.Playout()
		c.delays = append(c.delays, pl.Delay)
		c.targets = append(c.targets, pl.TargetDelay)
		c.jitters = append(c.jitters, pl.Jitter)
		for i, id := range movers {
			e, ok := f.Entity(id)
			if !ok {
				continue
			}
			x, okx := e.Float("x")
			y, oky := e.Float("y")
			if !okx || !oky {
				continue
			}
			tx, ty := truth.truth(i, f.Tick)
			c.errors = append(c.errors, math.Hypot(x-tx, y-ty)/speed)
			c.mu.Lock()
			if c.carried != nil {
				if cx, cy, ok := replCarriedAt(c.carried[i], f.Tick); ok {
					c.carriedErrors = append(c.carriedErrors, math.Hypot(cx-tx, cy-ty)/speed)
				}
			}
			c.mu.Unlock()
		}
	}
}

func replSummarise(cfg replRun, tl *replTicks, players []*replClient) *replResult {
	res := &replResult{
		Scene: cfg.scene.name(), Hz: cfg.hz, Entities: cfg.scene.entities(), Moving: cfg.scene.moving(),
		Ticks: tl.ticks, ElapsedS: tl.elapsed.Seconds(), Errors: tl.errs,
	}
	if tl.ticks == 0 || tl.elapsed <= 0 {
		res.Errors = append(res.Errors, "no measured ticks")
		return res
	}
	secs := tl.elapsed.Seconds()
	nc := float64(len(players))
	res.MovedPerTick = float64(tl.moved) / float64(tl.ticks)
	if res.Moving == 0 {
		res.Moving = int(math.Round(res.MovedPerTick))
	}
	var stateBytes, sent, kept, dropped, clientPackets float64
	var nexts, carried, regressions int
	var carriedErrs []float64
	var errs, ages []float64
	var delays, targets, jitters []time.Duration
	for i, c := range players {
		stateBytes += float64(tl.after.bytesOut[i] - tl.before.bytesOut[i])
		clientPackets += float64(tl.after.clientPackets[i] - tl.before.clientPackets[i])
		sent += float64(tl.after.statesSent[i] - tl.before.statesSent[i])
		kept += float64(tl.after.statesKept[i] - tl.before.statesKept[i])
		dropped += float64(tl.after.statesDropped[i] - tl.before.statesDropped[i])
		nexts += c.nexts
		carried += c.fresh
		regressions += c.regressions
		ages = append(ages, c.ages...)
		errs = append(errs, c.errors...)
		carriedErrs = append(carriedErrs, c.carriedErrors...)
		delays = append(delays, c.delays...)
		targets = append(targets, c.targets...)
		jitters = append(jitters, c.jitters...)
	}
	stateBytes, sent, kept, dropped = stateBytes/nc, sent/nc, kept/nc, dropped/nc
	res.StatesSent, res.StatesKept, res.StatesDropped = sent, kept, dropped
	res.ClientEntities = float64(tl.clientEntities) / nc
	res.StateBytesPerClientS = stateBytes / secs
	res.ClientPacketsPerS = clientPackets / nc / secs
	res.KbitPerClientS = 8 * stateBytes / secs / 1000
	if sent > 0 {
		res.StateBytesPerState = stateBytes / sent
		res.BitsPerEntityPerState = 8 * stateBytes / float64(res.Entities) / sent
	}
	if nexts > 0 && len(ages) > 0 {
		res.MoversPerState = float64(carried) / float64(nexts)
		res.MoverRegressions = float64(regressions) / float64(len(ages))
		res.MoverSamples = len(ages)
		sum := 0.0
		for _, a := range ages {
			sum += a
		}
		res.MoverAgeMean = sum / float64(len(ages))
		slices.Sort(ages)
		res.MoverAgeP99 = ages[max(0, int(math.Ceil(0.99*float64(len(ages))))-1)]
	}
	res.MsgpackBytesPerTick = float64(tl.msgpack) / float64(tl.ticks)
	res.MsgpackArrayBytesPerTick = float64(tl.msgArray) / float64(tl.ticks)
	res.MsgpackBytesPerS = res.MsgpackBytesPerTick * float64(cfg.hz)
	if perTick := stateBytes / float64(tl.ticks); perTick > 0 {
		res.Ratio = res.MsgpackBytesPerTick / perTick
		res.ArrayRatio = res.MsgpackArrayBytesPerTick / perTick
	}
	perClientTick := nc * float64(tl.ticks)
	res.TickWallUSPerClient = float64(tl.tickWall) / 1e3 / perClientTick
	if tl.cpuOK {
		res.TickCPUUSPerClient = float64(tl.tickCPU) / 1e3 / perClientTick
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		q := func(p float64) float64 { return errs[max(0, min(len(errs)-1, int(math.Ceil(p*float64(len(errs))))-1))] }
		res.ErrorSamples = len(errs)
		res.ErrorP50, res.ErrorP90, res.ErrorP99, res.ErrorMax = q(0.5), q(0.9), q(0.99), errs[len(errs)-1]
	}
	if len(carriedErrs) > 0 {
		slices.Sort(carriedErrs)
		q := func(p float64) float64 {
			return carriedErrs[max(0, min(len(carriedErrs)-1, int(math.Ceil(p*float64(len(carriedErrs))))-1))]
		}
		res.CarriedErrorP50, res.CarriedErrorP99, res.CarriedErrorMax = q(0.5), q(0.99), carriedErrs[len(carriedErrs)-1]
	}
	if len(delays) > 0 {
		res.PlayoutDelayMeanMS = ms(meanDuration(delays))
		slices.Sort(delays)
		res.PlayoutDelayP99MS = ms(percentile(delays, 0.99))
		res.TargetDelayMeanMS = ms(meanDuration(targets))
		res.JitterMeanMS = ms(meanDuration(jitters))
	}
	return res
}

func meanDuration(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// refDot is the reference scene's entity, as a game declares it; ID is
// the game's own (the world's key), and goes in msgpack's full state.
type refDot struct {
	ID      uint32  `tw:"-"`
	X, Y    float64 `tw:"float,min=-1000,max=1000,step=0.01"`
	Heading float64 `tw:"angle,bits=10"`
	HP      int     `tw:"int,min=0,max=100"`
	Alive   bool
}

type refScene struct {
	dots []refDot
	ids  []uint32 // the movers' ids
	// Each mover's circle.
	cx, cy, radius, phase []float64
}

func newRefScene() *refScene {
	s := &refScene{}
	for i := range refMoving + refResting {
		id := uint32(i + 1)
		d := refDot{ID: id, HP: 100 - i%50, Alive: i%9 != 0}
		if i%4 == 0 {
			k := len(s.ids)
			s.ids = append(s.ids, id)
			s.cx = append(s.cx, -750+float64(k%16)*100)
			s.cy = append(s.cy, -750+float64(k/16)*100)
			s.radius = append(s.radius, 20+float64(k%7)*5)
			s.phase = append(s.phase, float64(k)*0.7)
		} else {
			d.X, d.Y = -900+float64(i%40)*45, -900+float64(i/40)*70
			d.Heading = float64(i%628) / 100
		}
		s.dots = append(s.dots, d)
	}
	return s
}

func (s *refScene) name() string          { return "reference" }
func (s *refScene) entities() int         { return len(s.dots) }
func (s *refScene) moving() int           { return len(s.ids) }
func (s *refScene) movers() []uint32      { return s.ids }
func (s *refScene) speedPerTick() float64 { return refSpeed }
func (s *refScene) full() any             { return s.dots }

func (s *refScene) register(w *netcode.World) error { return w.Register("dot", refDot{}) }

func (s *refScene) angle(k int, tick float64) float64 {
	return s.phase[k] + tick*refSpeed/s.radius[k]
}

func (s *refScene) truth(k int, tick float64) (x, y float64) {
	a := s.angle(k, tick)
	return s.cx[k] + s.radius[k]*math.Cos(a), s.cy[k] + s.radius[k]*math.Sin(a)
}

func (s *refScene) tickOf(k int, x, y, near float64) float64 {
	a := math.Atan2(y-s.cy[k], x-s.cx[k])
	t := (a - s.phase[k]) * s.radius[k] / refSpeed
	period := 2 * math.Pi * s.radius[k] / refSpeed
	return math.Round(t + period*math.Round((near-t)/period))
}

func (s *refScene) step(w *netcode.World, tick uint64) (int, error) {
	set := 0
	for i := range s.dots {
		d := &s.dots[i]
		if i%4 == 0 {
			k := i / 4
			d.X, d.Y = s.truth(k, float64(tick))
			d.Heading = math.Mod(s.angle(k, float64(tick))+math.Pi/2, 2*math.Pi)
		} else if tick > 1 {
			continue
		}
		if err := w.Set(d.ID, *d); err != nil {
			return set, err
		}
		set++
	}
	return set, nil
}

// profiler writes a CPU profile of one measured phase.
type profiler struct {
	f  *os.File
	on bool
}

func newProfiler(path string) (*profiler, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return &profiler{f: f}, nil
}

func (p *profiler) start() error {
	if p == nil || p.on {
		return nil
	}
	if err := pprof.StartCPUProfile(p.f); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	p.on = true
	return nil
}

func (p *profiler) stop() {
	if p != nil && p.on {
		pprof.StopCPUProfile()
		p.on = false
	}
}

func (p *profiler) close() error {
	if p == nil {
		return nil
	}
	p.stop()
	return p.f.Close()
}
