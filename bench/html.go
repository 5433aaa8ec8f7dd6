package main

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// The HTML report is one file with no scripts and nothing fetched: the
// charts are inline SVG drawn here, so that a report opens anywhere and
// years later looks the same.

// htmlSection is one measured scenario: a table and its charts.
type htmlSection struct {
	Title   string
	Caption string
	Table   htmlTable
	Charts  []cdfChart
}

type htmlTable struct {
	Head []string
	Rows [][]string
}

// cdfChart is the cumulative distribution of one latency per series.
type cdfChart struct {
	Title  string
	XLabel string
	Series []cdfSeries
}

type cdfSeries struct {
	Name   string
	Sorted []time.Duration
	// Total is how many were sent: a series of lossy deliveries levels off
	// at the fraction delivered. At least len(Sorted).
	Total int
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
code{background:#f4f4f4;padding:.1em .3em}
svg text{font:12px system-ui,sans-serif}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Command: <code>go run ./bench{{range .Args}} {{.}}{{end}}</code></p>
{{range .Sections}}<h2>{{.Title}}</h2>
{{if .Caption}}<p>{{.Caption}}</p>{{end}}
<table><tr>{{range .Table.Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Table.Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{range .Charts}}{{.}}
{{end}}{{end}}</body></html>
`))

func writeHTMLPage(w io.Writer, title string, args []string, sections []htmlSection) error {
	type section struct {
		Title, Caption string
		Table          htmlTable
		Charts         []template.HTML
	}
	page := struct {
		Title    string
		Args     []string
		Sections []section
	}{Title: title, Args: args}
	for _, s := range sections {
		out := section{Title: s.Title, Caption: s.Caption, Table: s.Table}
		for _, c := range s.Charts {
			out.Charts = append(out.Charts, c.svg())
		}
		page.Sections = append(page.Sections, out)
	}
	return pageTemplate.Execute(w, page)
}

// resultsTable renders results as an HTML table; extra adds columns.
func resultsTable(results []result, extraHead []string, extra func(i int) []string) htmlTable {
	t := htmlTable{Head: append([]string{"transport", "n", "lost", "p50", "p90", "p99", "max"}, extraHead...)}
	for i, r := range results {
		row := []string{r.Transport, fmt.Sprint(r.N), fmt.Sprint(r.Lost),
			fmtMicros(r.P50), fmtMicros(r.P90), fmtMicros(r.P99), fmtMicros(r.Max)}
		if extra != nil {
			row = append(row, extra(i)...)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func resultsCDF(xlabel string, results []result) cdfChart {
	c := cdfChart{Title: "CDF of " + xlabel, XLabel: xlabel}
	for _, r := range results {
		c.Series = append(c.Series, cdfSeries{Name: r.Transport, Sorted: r.samples, Total: r.N})
	}
	return c
}

// seriesColor picks from a palette distinguishable in colour and, for most
// readers with a colour vision deficiency, in lightness.
func seriesColor(i int) string {
	palette := [...]string{"#1b6ca8", "#d1495b", "#2a9d8f", "#e9a03b", "#6a4c93", "#555555"}
	return palette[i%len(palette)]
}

const (
	chartW, chartH                     = 760, 360
	marginL, marginR, marginT, marginB = 56, 150, 28, 44
	plotW, plotH                       = chartW - marginL - marginR, chartH - marginT - marginB
	// A polyline of a few hundred points draws a CDF faithfully; tens of
	// thousands would only make the file heavy.
	maxPointsPerSeries  = 400
	tailPointsPerSeries = 60
	// minAxisMicros floors the log axis: nothing here is faster than 1 µs.
	minAxisMicros = 1.0
)

// svg draws the chart with a logarithmic latency axis: transports differ by
// orders of magnitude, and the tail is what a game feels.
func (c cdfChart) svg() template.HTML {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		if len(s.Sorted) == 0 {
			continue
		}
		lo = math.Min(lo, math.Max(micros(s.Sorted[0]), minAxisMicros))
		hi = math.Max(hi, math.Max(micros(s.Sorted[len(s.Sorted)-1]), minAxisMicros))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title>%s</title>`, template.HTMLEscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="16" font-weight="bold">%s</text>`, marginL, template.HTMLEscapeString(c.Title))
	if math.IsInf(lo, 1) {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no samples</text></svg>`, marginL, marginT+plotH/2)
		return template.HTML(b.String())
	}
	// Whole decades, at least one, so that the ticks are round numbers.
	loD, hiD := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if hiD-loD < 1 {
		hiD = loD + 1
	}
	x := func(us float64) float64 {
		us = math.Max(us, minAxisMicros)
		return marginL + (math.Log10(us)-loD)/(hiD-loD)*plotW
	}
	y := func(q float64) float64 { return marginT + (1-q)*plotH }

	// Grid and axes.
	fmt.Fprintf(&b, `<g stroke="#ddd" fill="none">`)
	for q := 0.0; q <= 1.0001; q += 0.25 {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, marginL, y(q), marginL+plotW, y(q))
	}
	for d := loD; d <= hiD; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if d == hiD && m > 1 {
				break
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x(v), marginT, x(v), marginT+plotH)
		}
	}
	fmt.Fprintf(&b, `</g><g fill="#444">`)
	for q := 0.0; q <= 1.0001; q += 0.25 {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.2f</text>`, marginL-6, y(q)+4, q)
	}
	for d := loD; d <= hiD; d++ {
		v := math.Pow(10, d)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(v), marginT+plotH+16, axisLabel(v))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s (log scale)</text>`, marginL+plotW/2, chartH-6, template.HTMLEscapeString(c.XLabel))
	fmt.Fprintf(&b, `</g>`)

	// One step line per series, then its legend entry.
	for i, s := range c.Series {
		color := seriesColor(i)
		ly := marginT + 14 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, marginL+plotW+12, ly-4, marginL+plotW+32, ly-4, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, marginL+plotW+38, ly, template.HTMLEscapeString(s.Name))
		if len(s.Sorted) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8" points="`, color)
		n, total := len(s.Sorted), max(s.Total, len(s.Sorted))
		for _, idx := range cdfIndices(n) {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(micros(s.Sorted[idx])), y(float64(idx+1)/float64(total)))
		}
		fmt.Fprintf(&b, `"/>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// cdfIndices picks which sorted samples to plot: evenly spaced ranks, plus
// every one of the last few, where the tail lives.
func cdfIndices(n int) []int {
	out := make([]int, 0, maxPointsPerSeries+tailPointsPerSeries)
	last := -1
	add := func(i int) {
		if i > last {
			out = append(out, i)
			last = i
		}
	}
	for k := range maxPointsPerSeries {
		add(k * (n - 1) / maxPointsPerSeries)
	}
	for i := max(0, n-tailPointsPerSeries); i < n; i++ {
		add(i)
	}
	return out
}

func axisLabel(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%gs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%gms", us/1e3)
	default:
		return fmt.Sprintf("%gµs", us)
	}
}
