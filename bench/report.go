package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"
)

// latency summarises one transport's latencies in microseconds, nearest-rank
// percentiles. The JSON names are the tool's interface (issue 6).
type latency struct {
	P50 float64 `json:"p50_us"`
	P90 float64 `json:"p90_us"`
	P99 float64 `json:"p99_us"`
	Max float64 `json:"max_us"`
}

// result is one transport's figures in rtt, loss and grid. N counts
// messages sent and Lost those that never came back (rtt) or never arrived
// (loss); the percentiles are over the rest.
type result struct {
	Transport string `json:"transport"`
	N         int    `json:"n"`
	Lost      int    `json:"lost"`
	latency
	// Error is set when the transport broke during the run; the figures
	// then cover the messages sent before it did.
	Error string `json:"error,omitempty"`

	// samples are the latencies, sorted, for the HTML report's CDF.
	samples []time.Duration
}

// newResult sorts samples and summarises them.
func newResult(transport string, n int, samples []time.Duration) result {
	slices.Sort(samples)
	return result{
		Transport: transport,
		N:         n,
		Lost:      n - len(samples),
		latency:   summarize(samples),
		samples:   samples,
	}
}

// summarize takes sorted samples. With none, every figure is zero and the
// result's Lost tells why.
func summarize(sorted []time.Duration) latency {
	if len(sorted) == 0 {
		return latency{}
	}
	return latency{
		P50: micros(percentile(sorted, 0.50)),
		P90: micros(percentile(sorted, 0.90)),
		P99: micros(percentile(sorted, 0.99)),
		Max: micros(sorted[len(sorted)-1]),
	}
}

// percentile uses the nearest-rank method on sorted, non-empty d.
func percentile(d []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

// micros rounds to a tenth of a microsecond: finer is noise on any machine.
func micros(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)*10) / 10
}

// fmtMicros prints a latency in the unit that keeps it readable.
func fmtMicros(us float64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us >= 10_000:
		return fmt.Sprintf("%.1f ms", us/1000)
	case us >= 1000:
		return fmt.Sprintf("%.2f ms", us/1000)
	default:
		return fmt.Sprintf("%.1f us", us)
	}
}

// fmtMS prints milliseconds to a tenth.
func fmtMS(ms float64) string { return strconv.FormatFloat(ms, 'f', 1, 64) + " ms" }

// outputFlags are the flags every measuring subcommand shares.
type outputFlags struct {
	json bool
	html string
}

func addOutputFlags(fs *flag.FlagSet) *outputFlags {
	o := &outputFlags{}
	fs.BoolVar(&o.json, "json", false, "print one JSON object on stdout instead of a table")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report with latency CDFs to `file`")
	return o
}

// report is what a subcommand produces: it marshals to the JSON the issue
// specifies, prints as a table and renders as HTML.
type report interface {
	writeTable(w io.Writer) error
	writeHTML(w io.Writer) error
}

// emit writes r as o asks: JSON or a table on stdout, and HTML to a file.
func emit(r report, o *outputFlags, e *env) error {
	if o.html != "" {
		f, err := os.Create(o.html)
		if err != nil {
			return fmt.Errorf("html report: %w", err)
		}
		err = r.writeHTML(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("html report %s: %w", o.html, err)
		}
	}
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeTable(e.stdout)
}

// writeResults prints results as an aligned table; extra adds columns.
func writeResults(w io.Writer, results []result, extraHead []string, extra func(i int) []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := append([]string{"transport", "n", "lost", "p50", "p90", "p99", "max"}, extraHead...)
	writeRow(tw, head)
	for i, r := range results {
		row := []string{r.Transport, fmt.Sprint(r.N), fmt.Sprint(r.Lost),
			fmtMicros(r.P50), fmtMicros(r.P90), fmtMicros(r.P99), fmtMicros(r.Max)}
		if extra != nil {
			row = append(row, extra(i)...)
		}
		writeRow(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Error != "" {
			if _, err := fmt.Fprintf(w, "%s broke: %s\n", r.Transport, r.Error); err != nil {
				return err
			}
		}
	}
	return nil
}

// tabwriterFor aligns a table's columns to the right, as every table here.
func tabwriterFor(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

func writeRow(tw *tabwriter.Writer, cells []string) {
	for _, c := range cells {
		fmt.Fprint(tw, c, "\t")
	}
	fmt.Fprintln(tw)
}

// progress is a bar on stderr for runs longer than a few seconds. It draws
// at most ten times a second and nothing at all when disabled, so callers
// update it freely from any goroutine.
type progress struct {
	w       io.Writer
	enabled bool

	mu    sync.Mutex
	label string
	total int
	done  int
	start time.Time
	drawn time.Time
}

func (e *env) newProgress(label string, total int) *progress {
	return &progress{w: e.stderr, enabled: e.progress, label: label, total: max(total, 1), start: time.Now()}
}

// add records n more units done.
func (p *progress) add(n int) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = min(p.done+n, p.total)
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond || p.done == p.total {
		p.drawn = now
		p.drawLocked()
	}
}

// relabel changes what the bar says it is doing.
func (p *progress) relabel(label string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = label
	p.drawLocked()
}

// finish clears the bar so that whatever prints next starts on a clean line.
func (p *progress) finish() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r\033[K")
}

func (p *progress) drawLocked() {
	const width = 30
	frac := float64(p.done) / float64(p.total)
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		switch {
		case i < filled:
			bar[i] = '='
		case i == filled:
			bar[i] = '>'
		default:
			bar[i] = ' '
		}
	}
	elapsed := time.Since(p.start).Truncate(time.Second)
	fmt.Fprintf(p.w, "\r\033[K%s [%s] %3.0f%% %v", p.label, bar, 100*frac, elapsed)
}
