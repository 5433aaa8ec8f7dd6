package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Issue 17's section of RESULTS.md: state replication, from one run of
// `go run ./bench replication`.

// issue17Doc is the section's input: the run, or why there is none.
type issue17Doc struct {
	skipped string
	args    []string // the subcommand's arguments, as the write-up shows them
	r       *replReport
	err     error
	took    time.Duration
}

func (d *issue17Doc) command() string {
	return "go run ./bench " + strings.Join(d.args, " ")
}

func issue17Goals(d *issue17Doc) []goal {
	if d == nil || d.skipped != "" {
		return nil
	}
	const bytesGoal = "issue 17: reference scene, deltas take ≥ 5× fewer bytes per client than msgpack full state"
	const cubesGoal = "issue 17: Fiedler's cubes, kbit/s per client ≤ 256"
	var out []goal
	failed := func(g string) {
		why := "not measured"
		if d.err != nil {
			why = "failed: " + firstLine(d.err.Error())
		}
		out = append(out, goal{g, why, false})
	}
	if ref := d.ref(); ref != nil && ref.Ratio > 0 {
		out = append(out, goal{bytesGoal, fmt.Sprintf("%.0f B/s vs %.0f B/s: %.1f× (%.1f× against msgpack by position)",
			ref.StateBytesPerClientS, ref.MsgpackBytesPerS, ref.Ratio, ref.ArrayRatio), ref.Ratio >= 5 && len(ref.Errors) == 0})
	} else {
		failed(bytesGoal)
	}
	if c := d.cubes(); c != nil && c.KbitPerClientS > 0 {
		out = append(out, goal{cubesGoal, fmt.Sprintf("%.1f kbit/s, %.2f bits per cube per snapshot", c.KbitPerClientS, c.BitsPerEntityPerState),
			c.KbitPerClientS <= 256 && len(c.Errors) == 0})
	} else {
		failed(cubesGoal)
	}
	return out
}

func (d *issue17Doc) ref() *replResult {
	if d.r == nil {
		return nil
	}
	return d.r.Reference
}

func (d *issue17Doc) cubes() *replResult {
	if d.r == nil {
		return nil
	}
	return d.r.Cubes
}

func writeIssue17Markdown(w io.Writer, d *issue17Doc) {
	if d == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Issue 17: state replication (`replication`)\n\n")
	if d.skipped != "" {
		p("Not measured: %s.\n", d.skipped)
		return
	}
	if d.err != nil || d.r == nil {
		p("**Failed** (`%s`): %v\n", d.command(), d.err)
		return
	}
	pr := d.r.Params
	p("`%s` (took %s): a netcode.World on a server, %d netcode clients reading it through `Client.World()`, each on its own link of pion's vnet with %.3g%% loss each way, %g ms one-way delay and up to %g ms of vnet's jitter; %g s measured after %g s of warm-up (the first full states, the playout settling). The world's budget is its default, one datagram (%d bytes) per client and tick. ",
		d.command(), d.took.Round(time.Second), pr.Clients, 100*pr.Loss, pr.DelayMS, pr.JitterMS, pr.DurationS, pr.WarmupS, pr.Budget)
	p("State bytes are each session's `Stats().BytesOut` over the measured phase: the state messages and the session's own pings and pongs (under 100 B/s), a mean over the clients. The comparison is the game's own structs, all of them, encoded with msgpack (github.com/vmihailenco/msgpack/v5) as a slice every tick: by field name (msgpack's default) and by position (`UseArrayEncodedStructs`); neither would fit a datagram. World.Tick's time is per client and tick, on the goroutine that ticks (its wall time, and the CPU time of its thread, locked to it); pion's goroutines that carry the datagrams are not in it. `go test -bench SenderEncode ./netcode/internal/repl/` measures the encoder alone.\n\n")
	if ref := d.r.Reference; ref != nil {
		p("### Reference scene: %d entities, %d moving, %d Hz\n\n", ref.Entities, ref.Moving, ref.Hz)
		p("Entities `{X, Y float (±1000, step 0.01); Heading angle (10 bits); HP int (0–100); Alive bool}`; every fourth moves on a circle at %g units a tick, so that where each is at any fractional tick is known. Each client draws its world %d times a second (`Replica.At(time.Now())`) and compares every mover in the frame with where it truly was at the frame's tick (`Frame.Tick`), in units of the movers' speed per tick. *Movers per state* are those whose position in the state is of the state's own tick (Replica.Next, each mover's circle inverted): what the budget let through; *age* is how many ticks older a mover's position is than its state.\n\n",
			refSpeed, pr.RenderHz)
		markdownReplRows(w, ref, pr)
	}
	if c := d.r.Cubes; c != nil {
		p("\n### Fiedler's cubes: %d cubes at %d Hz\n\n", c.Entities, c.Hz)
		p("After \"Snapshot Compression\" (gafferongames.com): 900 cubes on a 30 × 30 grid, 3 m apart, and a player cube driving a Lissajous path through them at up to about 11 m/s. A cube the player touches is knocked away with a hop and a roll, knocks the cubes it hits in turn, slows on the ground and comes to rest; the simulation is deterministic. Position x and y within [−256, 255] m, z within [0, 31] m, 512 values a metre (18, 18 and 14 bits), orientation in smallest three at 9 bits a component, as Fiedler's. The game sets only the cubes that moved, %.1f a tick on average. Fiedler's target is 256 kbit/s.\n\n", c.MovedPerTick)
		markdownReplRows(w, c, pr)
	}
}

func markdownReplRows(w io.Writer, res *replResult, pr replParams) {
	fmt.Fprintf(w, "| figure | value | detail |\n|---|---:|---|\n")
	for _, row := range replRows(res, pr) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", strings.TrimSpace(row[0]), row[1], row[2])
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "\n- error: %s\n", e)
	}
}
