package main

// bench browser: the browser clients side by side in headless Chromium, on
// loopback, against one Go lobby and game server: a bare RTCDataChannel
// page speaking PROTOCOL.md and WIRE.md by hand (the baseline), the
// TypeScript client @tickwire/client (js/, built by `make js`), and the Go
// client compiled to WebAssembly (wasm/, built here). Each page measures
// the time from page load to both channels open, and event round trips
// through the game server, which echoes each event (and sends 30 snapshots
// a second, as a game would). Rounds interleave the clients, each in a
// fresh tab, so that a slow moment of the machine falls on all of them.
//
// Run it from the repository's root: it reads js/dist and builds ./wasm.

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

//go:embed browserpages
var browserPages embed.FS

// browserClients are the pages, in the order each round opens them.
var browserClients = []string{"bare", "ts", "wasm"}

type browserParams struct {
	N        int     `json:"n"`
	Rounds   int     `json:"rounds"`
	GapMs    float64 `json:"gap_ms"`
	Browser  string  `json:"browser"`
	Chromium string  `json:"chromium_version"`
}

// browserClient is one client's figures: its round trips (as a result, in
// microseconds), and the page load to both channels open of each tab.
type browserClient struct {
	result
	OpenMs    []float64 `json:"open_ms"`
	OpenP50Ms float64   `json:"open_p50_ms"`
	// PlayP50Ms is the part of it from the match to both channels open.
	PlayP50Ms float64 `json:"play_p50_ms"`
}

type browserSizes struct {
	TSMinified   int `json:"ts_minified"`
	TSGzipped    int `json:"ts_gzipped"`
	WASM         int `json:"wasm"`
	WASMGzipped  int `json:"wasm_gzipped"`
	TSBudgetGzip int `json:"ts_budget_gzipped"`
}

// browserGoals are the goals, judged within this run: the TS
// client's round trip within 10% of the bare page's, and its page load to
// open at most 300 ms.
type browserGoals struct {
	P50Ratio  float64 `json:"ts_vs_bare_p50"`
	P99Ratio  float64 `json:"ts_vs_bare_p99"`
	RTTMet    bool    `json:"rtt_within_10pct"`
	OpenP50Ms float64 `json:"ts_open_p50_ms"`
	OpenMet   bool    `json:"open_within_300ms"`
}

type browserReport struct {
	Scenario string          `json:"scenario"`
	Args     []string        `json:"args"`
	Params   browserParams   `json:"params"`
	Clients  []browserClient `json:"clients"`
	Sizes    browserSizes    `json:"sizes"`
	Goals    browserGoals    `json:"goals"`
}

func init() {
	register(subcommand{"browser", "the browser clients in Chromium: a bare RTCDataChannel page, @tickwire/client and the wasm client", cmdBrowser})
}

func cmdBrowser(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("browser", e)
	n := fs.Int("n", 1500, "event round trips per client, spread over the rounds")
	rounds := fs.Int("rounds", 3, "rounds; each opens every client in a fresh tab")
	gap := fs.Duration("gap", 2*time.Millisecond, "pause between round trips")
	chromium := fs.String("chromium", "", "the browser (default: chromium on PATH, or /usr/bin/chromium)")
	root := fs.String("root", ".", "the repository's root, with js/dist (make js) and wasm/")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < *rounds || *rounds < 1 {
		return usageErrorf(fs, "-rounds must be at least 1 and -n at least -rounds")
	}
	path, err := findChromium(*chromium)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tickwire-bench-browser-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sizes, err := browserAssets(ctx, *root, dir)
	if err != nil {
		return err
	}
	base, stop, err := startBrowserServers(dir)
	if err != nil {
		return err
	}
	defer stop()

	browser, version, closeBrowser, err := startChromium(ctx, path)
	if err != nil {
		return err
	}
	defer closeBrowser()

	type acc struct {
		rtts       []time.Duration
		open, play []float64
	}
	got := map[string]*acc{}
	for _, c := range browserClients {
		got[c] = &acc{}
	}
	per := *n / *rounds
	bar := e.newProgress("browser", *rounds*len(browserClients))
	defer bar.finish()
	for round := range *rounds {
		for _, client := range browserClients {
			bar.relabel(fmt.Sprintf("browser round %d/%d: %s", round+1, *rounds, client))
			url := fmt.Sprintf("%s/static/%s.html?n=%d&gap=%g", base, client, per, float64(*gap)/float64(time.Millisecond))
			r, err := runBenchPage(browser, url)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", client, round+1, err)
			}
			a := got[client]
			for _, ms := range r.RTTs {
				a.rtts = append(a.rtts, time.Duration(ms*float64(time.Millisecond)))
			}
			a.open = append(a.open, r.Open)
			a.play = append(a.play, r.Play)
			bar.add(1)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	rep := &browserReport{Scenario: "browser", Args: e.args, Sizes: sizes,
		Params: browserParams{N: per * *rounds, Rounds: *rounds, GapMs: float64(*gap) / float64(time.Millisecond), Browser: "chromium", Chromium: version}}
	for _, c := range browserClients {
		a := got[c]
		rep.Clients = append(rep.Clients, browserClient{
			result: newResult(c, per**rounds, a.rtts), OpenMs: a.open,
			OpenP50Ms: medianFloat(a.open), PlayP50Ms: medianFloat(a.play),
		})
	}
	bare, ts := rep.Clients[0], rep.Clients[1]
	if bare.P50 > 0 && bare.P99 > 0 {
		rep.Goals.P50Ratio = round2(ts.P50 / bare.P50)
		rep.Goals.P99Ratio = round2(ts.P99 / bare.P99)
	}
	rep.Goals.RTTMet = rep.Goals.P50Ratio > 0 && rep.Goals.P50Ratio <= 1.10 && rep.Goals.P99Ratio <= 1.10
	rep.Goals.OpenP50Ms = ts.OpenP50Ms
	rep.Goals.OpenMet = ts.OpenP50Ms > 0 && ts.OpenP50Ms <= 300
	return emit(rep, out, e)
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func medianFloat(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return round2(s[(len(s)-1)/2])
}

// findChromium is the browser the bench drives.
func findChromium(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", errors.New("no chromium: apt-get install -y chromium (or -chromium PATH)")
}

// browserAssets fills dir with the pages, the TypeScript client and the
// wasm client, and measures the two clients' sizes.
func browserAssets(ctx context.Context, root, dir string) (browserSizes, error) {
	var sz browserSizes
	pages, err := fs.Sub(browserPages, "browserpages")
	if err != nil {
		return sz, err
	}
	if err := os.CopyFS(dir, pages); err != nil {
		return sz, err
	}
	ts, err := os.ReadFile(filepath.Join(root, "js", "dist", "tickwire.js"))
	if err != nil {
		return sz, fmt.Errorf("the TypeScript client: %w (run make js from the repository's root first)", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "ts"), 0o755); err != nil {
		return sz, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ts", "tickwire.js"), ts, 0o644); err != nil {
		return sz, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "tickwire.wasm"), "./wasm")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return sz, fmt.Errorf("GOOS=js GOARCH=wasm go build ./wasm: %w\n%s", err, out)
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return sz, fmt.Errorf("go env GOROOT: %w", err)
	}
	for from, to := range map[string]string{
		filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"): "wasm_exec.js",
		filepath.Join(root, "wasm", "tickwire.js"):                                      "tickwire.js",
	} {
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, to), b, 0o644)
		}
		if err != nil {
			return sz, err
		}
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "tickwire.wasm"))
	if err != nil {
		return sz, err
	}
	sz = browserSizes{TSMinified: len(ts), TSGzipped: gzipLen(ts), WASM: len(wasm), WASMGzipped: gzipLen(wasm), TSBudgetGzip: 30 << 10}
	return sz, nil
}

func gzipLen(b []byte) int {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Len()
}

// startBrowserServers serves the lobby on / and the pages on /static/ from
// one loopback origin, with a game server attached that echoes every event
// and sends 30 snapshots a second.
func startBrowserServers(dir string) (string, func(), error) {
	quiet := slog.New(slog.DiscardHandler)
	lb, err := lobby.NewServer(&lobby.Config{
		Modes:  map[string]lobby.Mode{"solo": {MinPlayers: 1, MaxPlayers: 1}},
		Logger: quiet,
	})
	if err != nil {
		return "", nil, err
	}
	ns, err := netcode.NewServer(ncOptions{UDPAddr: "127.0.0.1:0", Logger: quiet}.server())
	if err != nil {
		_ = lb.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	gs, err := lb.AttachGameServer(ctx, ns, &lobby.GameServerConfig{Name: "bench-browser", Logger: quiet})
	if err != nil {
		cancel()
		_ = ns.Close()
		_ = lb.Close()
		return "", nil, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			p, err := gs.Accept(ctx)
			if err != nil {
				return
			}
			wg.Go(func() {
				for {
					ev, err := p.Session.ReadEvent(ctx)
					if err != nil || p.Session.SendEvent(ev) != nil {
						return
					}
				}
			})
		}
	})
	wg.Go(func() {
		t := time.NewTicker(time.Second / 30)
		defer t.Stop()
		snap := []byte{0x81, 0xa4, 't', 'i', 'c', 'k', 0x00} // {tick: 0}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = ns.Broadcast(snap)
			}
		}
	})
	mux := http.NewServeMux()
	// Cross-origin isolation: with it, performance.now() ticks in 5 us
	// rather than 100 us in Chromium, fine enough for sub-millisecond
	// round trips.
	files := http.StripPrefix("/static/", http.FileServer(http.Dir(dir)))
	mux.Handle("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
		files.ServeHTTP(w, r)
	}))
	mux.Handle("/", lb)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return "", nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	stop := func() {
		cancel()
		_ = hs.Close()
		_ = gs.Close()
		wg.Wait()
		_ = ns.Close()
		_ = lb.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// chromiumOptions are the flags of every headless Chromium the bench
// starts: quiet, unthrottled, and able to use WebRTC on loopback
// (docs/webrtc-facts.md, "Chromium on loopback").
func chromiumOptions(path string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	}
}

// startChromium starts headless Chromium with the flags WebRTC on loopback
// needs (docs/webrtc-facts.md) and returns its context and version.
func startChromium(ctx context.Context, path string) (context.Context, string, func(), error) {
	opts := append(chromiumOptions(path), chromedp.CombinedOutput(io.Discard))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() {
		cancel()
		cancelAlloc()
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			stop()
			return nil, "", nil, fmt.Errorf("starting %s: %w", path, err)
		}
	case <-sctx.Done():
		stop()
		return nil, "", nil, fmt.Errorf("starting %s: %w", path, sctx.Err())
	}
	version := ""
	if out, err := exec.CommandContext(ctx, path, "--version").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	return bctx, version, stop, nil
}

type benchPage struct {
	Client string    `json:"client"`
	Open   float64   `json:"open_ms"`
	Play   float64   `json:"play_ms"`
	RTTs   []float64 `json:"rtts_ms"`
	Error  string    `json:"error"`
	// Isolated is the page's crossOriginIsolated: its clock's resolution.
	Isolated bool `json:"isolated"`
}

// runBenchPage opens url in a fresh tab and waits for its window.__bench.
func runBenchPage(browser context.Context, url string) (*benchPage, error) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	ctx, tcancel := context.WithTimeout(tab, 3*time.Minute)
	defer tcancel()
	// First a blank page of the same origin, also cross-origin isolated:
	// the tab's renderer process is then the origin's already, and the
	// page load measured is the page's, not the start of a process (a
	// navigation into isolation from about:blank starts a new one).
	blank := url[:strings.Index(url, "/static/")] + "/static/blank.html"
	if err := chromedp.Do(ctx, chromedp.Navigate(blank)); err != nil {
		return nil, err
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return nil, err
	}
	r, err := chromedp.Run(ctx, chromedp.Poll[benchPage](`window.__bench || null`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(3*time.Minute)))
	if err != nil {
		return nil, err
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if !r.Isolated {
		return nil, errors.New("the page is not cross-origin isolated: performance.now() would tick in 100 us")
	}
	return &r, nil
}

func (r *browserReport) writeTable(w io.Writer) error {
	p := r.Params
	if _, err := fmt.Fprintf(w, "browser clients in %s on loopback: event round trips through the Go game server (%d per client in %d rounds), page load to both channels open\n\n", p.Chromium, p.N, p.Rounds); err != nil {
		return err
	}
	if err := writeResults(w, r.resultsOf(), []string{"open p50", "play p50"}, func(i int) []string {
		c := r.Clients[i]
		return []string{fmt.Sprintf("%.0f ms", c.OpenP50Ms), fmt.Sprintf("%.0f ms", c.PlayP50Ms)}
	}); err != nil {
		return err
	}
	g, s := r.Goals, r.Sizes
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nts vs bare round trip\tp50 %.2fx, p99 %.2fx\twithin 10%%: %v\n", g.P50Ratio, g.P99Ratio, g.RTTMet)
	fmt.Fprintf(tw, "ts page load to open\t%.0f ms\tat most 300 ms: %v\n", g.OpenP50Ms, g.OpenMet)
	fmt.Fprintf(tw, "sizes\tts %d bytes, %d gzipped (budget %d)\twasm %d bytes, %d gzipped\n", s.TSMinified, s.TSGzipped, s.TSBudgetGzip, s.WASM, s.WASMGzipped)
	return tw.Flush()
}

func (r *browserReport) resultsOf() []result {
	out := make([]result, len(r.Clients))
	for i, c := range r.Clients {
		out[i] = c.result
	}
	return out
}

func (r *browserReport) writeHTML(w io.Writer) error {
	res := r.resultsOf()
	g, s := r.Goals, r.Sizes
	return writeHTMLPage(w, "Tickwire bench: browser", r.Args, []htmlSection{{
		Title: "Browser clients: event round trip and page load to open",
		Caption: fmt.Sprintf("%s, headless, loopback. bare: an RTCDataChannel page speaking the protocols by hand; ts: @tickwire/client (%d bytes gzipped); "+
			"wasm: the Go client compiled to WebAssembly (%d bytes gzipped). ts vs bare: p50 %.2fx, p99 %.2fx; ts page load to open %.0f ms.",
			r.Params.Chromium, s.TSGzipped, s.WASMGzipped, g.P50Ratio, g.P99Ratio, g.OpenP50Ms),
		Table: resultsTable(res, []string{"open p50", "play p50"}, func(i int) []string {
			c := r.Clients[i]
			return []string{fmt.Sprintf("%.0f ms", c.OpenP50Ms), fmt.Sprintf("%.0f ms", c.PlayP50Ms)}
		}),
		Charts: []cdfChart{resultsCDF("event round trip", res)},
	}})
}
