package main

import (
	"fmt"
	"io"
	"math"
)

// The replication bench's report (replication.go runs it), apart from the
// code that measures, which needs netcode's World: so that compare's
// build of this tool against an older library, which leaves out the files
// that do not compile against it, leaves out only those and keeps
// results.go, which writes this report up.

// replBudget is the world's default budget per client and tick: one
// datagram (netcode's default MaxUnreliableSize).
const replBudget = 1200

type replParams struct {
	Loss      float64  `json:"loss"`
	DelayMS   float64  `json:"delay_ms"`
	JitterMS  float64  `json:"jitter_ms"`
	Clients   int      `json:"clients"`
	DurationS float64  `json:"duration_s"`
	WarmupS   float64  `json:"warmup_s"`
	Hz        int      `json:"hz"`
	CubeHz    int      `json:"cube_hz"`
	RenderHz  int      `json:"render_hz"`
	Budget    int      `json:"budget"`
	Seed      int64    `json:"seed"`
	Scenes    []string `json:"scenes"`
	InputHz   int      `json:"input_hz"`
}

// replResult is one scene's figures. Per-client figures are means over
// the clients; bytes are counted over the measured phase only.
type replResult struct {
	Scene    string `json:"scene"`
	Hz       int    `json:"hz"`
	Entities int    `json:"entities"`
	// Moving is how many entities the scene moves: the reference scene's
	// movers; for the cubes, the mean number the game set per tick.
	Moving       int     `json:"moving"`
	MovedPerTick float64 `json:"moved_per_tick"`
	Ticks        int     `json:"ticks"`
	ElapsedS     float64 `json:"elapsed_s"`
	// StatesSent, StatesKept and StatesDropped are per client: sent by
	// the server, kept (decoded and acknowledged) and dropped by the
	// client (stale, or its base gone).
	StatesSent    float64 `json:"states_sent"`
	StatesKept    float64 `json:"states_kept"`
	StatesDropped float64 `json:"states_dropped"`
	// ClientEntities is how many entities a client's newest state held
	// at the end, of Entities.
	ClientEntities float64 `json:"client_entities"`
	// StateBytesPerClientS counts the state messages' bytes as the
	// session's Stats().BytesOut over the phase: the states, and the
	// session's own pings and pongs (two of each a second at the default
	// PingInterval, under 100 B/s), which a game pays for anyway; counted
	// as state bytes they only lower the ratio.
	StateBytesPerClientS float64 `json:"state_bytes_per_client_s"`
	// ClientPacketsPerS is the UDP packets a client sent a second, as the
	// server receives them: inputs (-input-hz), state acks, SCTP's
	// acknowledgements and pings, dropped ones included.
	ClientPacketsPerS  float64 `json:"client_packets_per_s"`
	StateBytesPerState float64 `json:"state_bytes_per_state"`
	// MsgpackBytesPerTick is the world's structs, all of them, encoded
	// with msgpack as a []struct (fields by name, msgpack's default), per
	// tick; Array with UseArrayEncodedStructs (fields by position).
	MsgpackBytesPerTick      float64 `json:"msgpack_bytes_per_tick"`
	MsgpackArrayBytesPerTick float64 `json:"msgpack_array_bytes_per_tick"`
	MsgpackBytesPerS         float64 `json:"msgpack_bytes_per_s"`
	// Ratio is msgpack's bytes per tick over the state bytes per tick a
	// client got: how many times fewer bytes the deltas take.
	Ratio      float64 `json:"ratio"`
	ArrayRatio float64 `json:"array_ratio"`
	// BitsPerEntityPerState is state bytes × 8 / entities / states sent.
	BitsPerEntityPerState float64 `json:"bits_per_entity_per_state"`
	KbitPerClientS        float64 `json:"kbit_per_client_s"`
	// The reference scene's movers in the newest state, each time
	// Replica.Next reports one: the tick each one's position is of (its
	// circle inverted, to the nearest tick). MoversPerState is how many
	// are of the state's own tick: those its payload carried, the ones
	// the budget let through. MoverAge is the state's tick minus theirs;
	// MoverRegressions the fraction of movers whose position is of an
	// older tick than in the state Next reported before.
	MoversPerState   float64 `json:"movers_per_state,omitempty"`
	MoverAgeMean     float64 `json:"mover_age_mean,omitempty"`
	MoverAgeP99      float64 `json:"mover_age_p99,omitempty"`
	MoverRegressions float64 `json:"mover_regressions,omitempty"`
	MoverSamples     int     `json:"mover_samples,omitempty"`
	// Error* are the render loop's interpolated position errors against
	// the truth at Frame.Tick, in units of the movers' speed per tick
	// (reference scene only).
	ErrorSamples int     `json:"error_samples,omitempty"`
	ErrorP50     float64 `json:"error_p50,omitempty"`
	ErrorP90     float64 `json:"error_p90,omitempty"`
	ErrorP99     float64 `json:"error_p99,omitempty"`
	ErrorMax     float64 `json:"error_max,omitempty"`
	// CarriedError* are the same frames' errors had each mover been
	// interpolated between the states that carried it (the positions of
	// their own tick, as Replica.Next found them) rather than between the
	// two states around the frame: a model of a per-entity playout
	// computed here, not netcode's.
	CarriedErrorP50 float64 `json:"carried_error_p50,omitempty"`
	CarriedErrorP99 float64 `json:"carried_error_p99,omitempty"`
	CarriedErrorMax float64 `json:"carried_error_max,omitempty"`
	// PlayoutDelay is Replica.Playout().Delay, sampled every frame;
	// TargetDelay its target, Jitter the jitter it measured.
	PlayoutDelayMeanMS float64 `json:"playout_delay_mean_ms,omitempty"`
	PlayoutDelayP99MS  float64 `json:"playout_delay_p99_ms,omitempty"`
	TargetDelayMeanMS  float64 `json:"target_delay_mean_ms,omitempty"`
	JitterMeanMS       float64 `json:"jitter_mean_ms,omitempty"`
	// TickWallUSPerClient is the wall time of World.Tick per client and
	// tick; TickCPUUSPerClient the CPU time of the thread that ran it
	// (Linux), which the other goroutines of this process do not inflate.
	// Neither counts pion's own goroutines that carry the datagrams.
	TickWallUSPerClient float64  `json:"tick_wall_us_per_client"`
	TickCPUUSPerClient  float64  `json:"tick_cpu_us_per_client,omitempty"`
	Errors              []string `json:"errors,omitempty"`
}

type replReport struct {
	Scenario  string      `json:"scenario"`
	Args      []string    `json:"args"`
	Params    replParams  `json:"params"`
	Reference *replResult `json:"reference,omitempty"`
	Cubes     *replResult `json:"cubes,omitempty"`
}

func (r *replReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "state replication over vnet: %.3g%% loss each way, %gms delay, %gms jitter, %d clients, budget %d bytes a state, %gs measured after %gs\n",
		100*p.Loss, p.DelayMS, p.JitterMS, p.Clients, p.Budget, p.DurationS, p.WarmupS); err != nil {
		return err
	}
	for _, res := range []*replResult{r.Reference, r.Cubes} {
		if res == nil {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", replSceneTitle(res))
		tw := tabwriterFor(w)
		for _, row := range replRows(res, p) {
			writeRow(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, e := range res.Errors {
			fmt.Fprintf(w, "error: %s\n", e)
		}
	}
	return nil
}

func replSceneTitle(res *replResult) string {
	if res.Scene == "cubes" {
		return fmt.Sprintf("Fiedler's cubes: %d cubes at %d Hz, %.1f set a tick on average", res.Entities, res.Hz, res.MovedPerTick)
	}
	return fmt.Sprintf("reference scene: %d entities, %d moving (%g units a tick), %d Hz", res.Entities, res.Moving, refSpeed, res.Hz)
}

// replRows are a scene's figures as label/value rows, for the table and
// the HTML page.
func replRows(res *replResult, p replParams) [][]string {
	f := func(format string, a ...any) string { return fmt.Sprintf(format, a...) }
	rows := [][]string{
		{"state bytes per client", f("%.0f B/s", res.StateBytesPerClientS), f("%.0f B a state (Session.Stats().BytesOut: the states, and pings and pongs)", res.StateBytesPerState)},
		{"msgpack full state", f("%.0f B/s", res.MsgpackBytesPerS), f("%.0f B a tick × %d Hz (fields by name; %.0f B by position): %.0f datagrams of %d B a tick", res.MsgpackBytesPerTick, res.Hz, res.MsgpackArrayBytesPerTick, math.Ceil(res.MsgpackBytesPerTick/float64(p.Budget)), p.Budget)},
		{"fewer bytes than msgpack", f("%.1f×", res.Ratio), f("%.1f× against msgpack by position", res.ArrayRatio)},
	}
	if res.Scene == "reference" {
		rows[2][2] += "; goal ≥ 5×"
	}
	if res.Scene == "cubes" {
		rows = append(rows,
			[]string{"bits per cube per snapshot", f("%.2f", res.BitsPerEntityPerState), f("state bytes × 8 / %d / snapshots sent", res.Entities)},
			[]string{"kbit/s per client", f("%.1f", res.KbitPerClientS), f("Fiedler's target 256 kbit/s")})
	}
	rows = append(rows,
		[]string{"packets from a client", f("%.1f a second", res.ClientPacketsPerS), f("inputs at %d Hz, state acks (alone or riding on inputs), SCTP acknowledgements and pings", p.InputHz)},
		[]string{"states per client", f("%.0f sent", res.StatesSent), f("%.0f kept, %.0f dropped, over %d ticks; %.0f of the %d entities at the client at the end", res.StatesKept, res.StatesDropped, res.Ticks, res.ClientEntities, res.Entities)},
	)
	if res.MoverSamples > 0 {
		rows = append(rows,
			[]string{"movers per state", f("%.1f of %d", res.MoversPerState, res.Moving), "positions of the state's own tick: what the budget let through"},
			[]string{"mover position age", f("%.2f ticks", res.MoverAgeMean), f("mean, in the newest state (p99 %.0f); %.1f%% older than in the state before", res.MoverAgeP99, 100*res.MoverRegressions)})
	}
	if res.ErrorSamples > 0 {
		rows = append(rows,
			[]string{"position error p99", f("%.2f", res.ErrorP99), f("speed per tick (p50 %.2f, p90 %.2f, max %.2f; %d samples at %d fps)", res.ErrorP50, res.ErrorP90, res.ErrorMax, res.ErrorSamples, p.RenderHz)},
			[]string{"  interpolated per mover", f("%.2f", res.CarriedErrorP99), f("p99 had each mover been interpolated between the states that carried it (p50 %.2f, max %.2f): a model, not netcode's", res.CarriedErrorP50, res.CarriedErrorMax)},
			[]string{"playout delay", f("%.1f ms", res.PlayoutDelayMeanMS), f("mean (p99 %.1f ms; target %.1f ms, jitter %.1f ms, means)", res.PlayoutDelayP99MS, res.TargetDelayMeanMS, res.JitterMeanMS)})
	}
	cpu := "CPU time: not measured (Linux only)"
	if res.TickCPUUSPerClient > 0 {
		cpu = f("CPU time of its thread %.1f us", res.TickCPUUSPerClient)
	}
	rows = append(rows, []string{"World.Tick per client per tick", f("%.1f us", res.TickWallUSPerClient), "wall; " + cpu})
	return rows
}

func (r *replReport) writeHTML(w io.Writer) error {
	var sections []htmlSection
	for _, res := range []*replResult{r.Reference, r.Cubes} {
		if res == nil {
			continue
		}
		sections = append(sections, htmlSection{Title: replSceneTitle(res),
			Table: htmlTable{Head: []string{"figure", "value", "detail"}, Rows: replRows(res, r.Params)}})
	}
	return writeHTMLPage(w, "Tickwire bench: replication", r.Args, sections)
}

// The reference scene: 256 entities moving in circles at refSpeed units a
// tick, 768 at rest, ids interleaved (every fourth moves).
const (
	refMoving  = 256
	refResting = 768
	refSpeed   = 0.5
)
