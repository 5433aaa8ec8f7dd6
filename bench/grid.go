package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

type gridParams struct {
	Losses    []float64 `json:"losses"`
	DelaysMS  []float64 `json:"delays_ms"`
	JitterMS  float64   `json:"jitter_ms"`
	Hz        int       `json:"hz"`
	DurationS float64   `json:"duration_s"`
	DrainS    float64   `json:"drain_s"`
	Size      int       `json:"size"`
	Seed      int64     `json:"seed"`
	BackHz    int       `json:"back_hz,omitempty"`
}

// gridCell is the loss scenario at one loss rate and one delay.
type gridCell struct {
	Loss    float64      `json:"loss"`
	DelayMS float64      `json:"delay_ms"`
	Results []lossResult `json:"results"`
}

type gridReport struct {
	Scenario string     `json:"scenario"`
	Args     []string   `json:"args"`
	Params   gridParams `json:"params"`
	Cells    []gridCell `json:"cells"`
}

func init() {
	register(subcommand{"grid", "loss over a grid of loss rates and delays", cmdGrid})
}

func cmdGrid(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("grid", e)
	lossList := fs.String("losses", "0,0.01,0.02,0.05,0.1", "comma-separated loss fractions")
	delayList := fs.String("delays", "0,25ms,75ms", "comma-separated one-way delays")
	// Short cells keep the whole grid near two minutes; tails of 240
	// messages are coarse but rank the transports clearly.
	sf := addStreamFlags(fs, 4*time.Second, 3*time.Second)
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := sf.check(fs); err != nil {
		return err
	}
	losses, err := parseList(*lossList, parseLoss)
	if err != nil {
		return usageErrorf(fs, "-losses: %v", err)
	}
	delays, err := parseList(*delayList, parseDelay)
	if err != nil {
		return usageErrorf(fs, "-delays: %v", err)
	}

	r := &gridReport{Scenario: "grid", Args: e.args, Params: gridParams{
		Losses: losses, JitterMS: ms(sf.jitter), Hz: sf.hz, DurationS: sf.duration.Seconds(),
		DrainS: sf.drain.Seconds(), Size: sf.size, Seed: sf.seed, BackHz: sf.backHz,
	}}
	for _, d := range delays {
		r.Params.DelaysMS = append(r.Params.DelaysMS, ms(d))
	}
	base := streamConfig{jitter: sf.jitter, hz: sf.hz, duration: sf.duration, drain: sf.drain, size: sf.size, seed: sf.seed, backHz: sf.backHz}
	bar := e.newProgress("grid", len(losses)*len(delays)*base.messages())
	for _, d := range delays {
		for _, l := range losses {
			cfg := base
			cfg.loss, cfg.delay = l, d
			bar.relabel(fmt.Sprintf("grid %.3g%% %v", 100*l, d))
			results, err := runStream(ctx, cfg, streamTransports(), bar)
			if err != nil {
				bar.finish()
				return fmt.Errorf("loss %v, delay %v: %w", l, d, err)
			}
			r.Cells = append(r.Cells, gridCell{Loss: l, DelayMS: ms(d), Results: results})
		}
	}
	bar.finish()
	return emit(r, out, e)
}

// parseDelay accepts a Go duration or a bare 0.
func parseDelay(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = fmt.Errorf("negative delay %v", d)
	}
	return d, err
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for f := range strings.SplitSeq(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func (r *gridReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "one-way latency over vnet, %d Hz, %d-byte messages, %gs per cell, back %d Hz\n\n", p.Hz, p.Size, p.DurationS, p.BackHz); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeRow(tw, []string{"loss", "delay", "transport", "n", "delivered", "p50", "p99", "max", "pkts/msg"})
	for _, c := range r.Cells {
		for _, res := range c.Results {
			writeRow(tw, []string{fmt.Sprintf("%.3g%%", 100*c.Loss), fmt.Sprintf("%gms", c.DelayMS), res.Transport,
				fmt.Sprint(res.N), fmt.Sprintf("%.2f%%", 100*res.Delivered),
				fmtMicros(res.P50), fmtMicros(res.P99), fmtMicros(res.Max), fmt.Sprintf("%.2f", res.WirePacketsPerMsg)})
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Cells {
		for _, res := range c.Results {
			if res.Error != "" {
				if _, err := fmt.Fprintf(w, "%s at %.3g%%/%gms broke: %s\n", res.Transport, 100*c.Loss, c.DelayMS, res.Error); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (r *gridReport) writeHTML(w io.Writer) error {
	var sections []htmlSection
	for _, c := range r.Cells {
		sections = append(sections, lossSection(fmt.Sprintf("%.3g%% loss, %g ms delay", 100*c.Loss, c.DelayMS), c.Results))
	}
	return writeHTMLPage(w, "Tickwire bench: grid", r.Args, sections)
}
