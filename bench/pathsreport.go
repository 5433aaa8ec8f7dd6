package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

type pathsParams struct {
	N int `json:"n"`
}

// pathResult is match to both channels open on one path, in milliseconds.
type pathResult struct {
	Path     string    `json:"path"`
	N        int       `json:"n"`
	P50MS    float64   `json:"p50_ms"`
	P99MS    float64   `json:"p99_ms"`
	MaxMS    float64   `json:"max_ms"`
	Selected string    `json:"selected"` // the pair ICE picked, as the player saw it
	Error    string    `json:"error,omitempty"`
	samples  []float64 // sorted
}

type pathsReport struct {
	Scenario string       `json:"scenario"`
	Args     []string     `json:"args"`
	Params   pathsParams  `json:"params"`
	Results  []pathResult `json:"results"`
}

func (r *pathsReport) writeTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "match to both channels open, by path, in network namespaces with real NATs; %d connections each\n\n", r.Params.N); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeRow(tw, []string{"path", "n", "p50", "p99", "max", "selected pair (player's side)"})
	for _, p := range r.Results {
		sel := p.Selected
		if p.Error != "" {
			sel = "ERROR: " + p.Error
		}
		writeRow(tw, []string{p.Path, fmt.Sprint(p.N), fmtMS(p.P50MS), fmtMS(p.P99MS), fmtMS(p.MaxMS), sel})
	}
	return tw.Flush()
}

func (r *pathsReport) writeHTML(w io.Writer) error {
	var rows [][]string
	var series []cdfSeries
	for _, p := range r.Results {
		rows = append(rows, []string{p.Path, fmt.Sprint(p.N), fmtMS(p.P50MS), fmtMS(p.P99MS), fmtMS(p.MaxMS), p.Selected, p.Error})
		var d []time.Duration
		for _, ms := range p.samples {
			d = append(d, time.Duration(ms*float64(time.Millisecond)))
		}
		series = append(series, cdfSeries{Name: p.Path, Sorted: d, Total: len(d)})
	}
	return writeHTMLPage(w, "Tickwire bench: paths", r.Args, []htmlSection{{
		Title:   "Match to both channels open, by path",
		Caption: "Network namespaces with real NATs (internal/nattest); each player is a process in its namespace.",
		Table:   htmlTable{Head: []string{"path", "n", "p50", "p99", "max", "selected pair", "error"}, Rows: rows},
		Charts:  []cdfChart{{Title: "match to open", XLabel: "time", Series: series}},
	}})
}
