package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/tickwire/tickwire/netcode"
)

func init() {
	register(subcommand{"connect", "time from the client's offer to both channels open: Go and headless Chromium, netcode and bare pion, with and without SNAP", cmdConnect})
}

//go:embed connectpage
var connectPage embed.FS

// snapFieldTrial is the libwebrtc field trial that makes Chromium put its
// SCTP INIT in the SDP (a=sctp-init, SNAP: draft-hancke-tsvwg-snap), set
// with --force-fieldtrials. libwebrtc's pc/peer_connection.cc reads it;
// Chromium also gates it behind the Blink feature WebRtcSctpSnap (an
// origin trial in Chrome 151).
const snapFieldTrial = "WebRTC-Sctp-Snap/Enabled/"

// connectTimeout bounds one connection; on loopback they take milliseconds.
const connectTimeout = 10 * time.Second

type connectParams struct {
	N     int `json:"n"`
	Batch int `json:"batch"`
	// DelayMS is -delay, the vnet rows' one-way delay (0: none), and
	// DelayN their connections each.
	DelayMS float64 `json:"delay_ms,omitempty"`
	DelayN  int     `json:"delay_n,omitempty"`
	// Chromium is the browser's version, or why it was not run.
	Chromium string `json:"chromium"`
	// TrialFlags are the extra Chromium flags of the chromium-trial rows.
	TrialFlags []string `json:"trial_flags,omitempty"`
}

// connectResult is one client against one server.
type connectResult struct {
	Name   string  `json:"name"`
	N      int     `json:"n"`
	Failed int     `json:"failed"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
	// OfferSctpInit and AnswerSctpInit are the fractions of the
	// connections whose offer, and answer, carried a=sctp-init: SNAP ran
	// where both did.
	OfferSctpInit  float64  `json:"offer_sctp_init"`
	AnswerSctpInit float64  `json:"answer_sctp_init"`
	Errors         []string `json:"errors,omitempty"`

	samples            []time.Duration
	offerInit, ansInit int
}

type connectReport struct {
	Scenario string          `json:"scenario"`
	Args     []string        `json:"args"`
	Params   connectParams   `json:"params"`
	Results  []connectResult `json:"results"`
}

// connectRow is a client and the server endpoint it connects to.
type connectRow struct {
	name   string
	client string // "go", "go-bare", "go-bare-snap", "chromium", "chromium-trial"
	path   string // the server's signaling endpoint
}

func cmdConnect(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("connect", e)
	n := fs.Int("n", 50, "connections of each kind")
	batch := fs.Int("batch", 10, "connections one kind makes before the next takes its turn, so that drift hits every kind alike")
	chromium := fs.String("chromium", "/usr/bin/chromium", "Chromium `binary` for the browser rows; empty to skip them")
	delay := fs.Duration("delay", 0, "also connect the Go clients over pion's vnet with this one-way `delay` (0: not), where round trips cost what they do on a network: SNAP saves up to two")
	delayN := fs.Int("delay-n", 10, "connections of each kind over the vnet")
	trial := fs.String("trial-flags", "--force-fieldtrials="+snapFieldTrial, "extra Chromium flags of the chromium-trial rows, space-separated (SNAP's field trial by default)")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 || *delayN < 1 || *delay < 0 {
		return usageErrorf(fs, "-n, -batch and -delay-n must be positive, -delay not negative")
	}
	r, err := runConnect(ctx, *n, *batch, *chromium, strings.Fields(*trial), e)
	if err == nil && *delay > 0 {
		err = runConnectVnet(ctx, r, *delay, *delayN, *batch, e)
	}
	if err != nil {
		return err
	}
	r.Args = e.args
	return emit(r, out, e)
}

func runConnect(ctx context.Context, n, batch int, chromium string, trialFlags []string, e *env) (*connectReport, error) {
	r := &connectReport{Scenario: "connect", Params: connectParams{N: n, Batch: batch}}
	srv, err := newConnectServer()
	if err != nil {
		return nil, err
	}
	defer srv.close()

	rows := []connectRow{
		{"go-netcode", "go", "/signal/netcode"},
		{"go-bare", "go-bare", "/signal/bare"},
		{"go-bare-snap", "go-bare-snap", "/signal/bare-snap"},
	}
	pages := map[string]*connectBrowser{}
	switch version, err := chromiumVersion(ctx, chromium); {
	case chromium == "":
		r.Params.Chromium = "not run (-chromium empty)"
	case err != nil:
		r.Params.Chromium = "not run: " + err.Error()
	default:
		r.Params.Chromium = version
		r.Params.TrialFlags = trialFlags
		for _, variant := range []struct {
			client string
			flags  []string
		}{{"chromium", nil}, {"chromium-trial", trialFlags}} {
			b, err := startConnectBrowser(ctx, chromium, variant.flags, srv.url+"/connect.html")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", variant.client, err)
			}
			defer b.close()
			pages[variant.client] = b
		}
		for _, client := range []string{"chromium", "chromium-trial"} {
			for _, server := range []string{"netcode", "bare", "bare-snap"} {
				rows = append(rows, connectRow{client + "-" + server, client, "/signal/" + server})
			}
		}
	}

	results := make([]connectResult, len(rows))
	for i, row := range rows {
		results[i].Name = row.name
	}
	bar := e.newProgress("connect", n*len(rows))
	defer bar.finish()
	for done := 0; done < n; done += batch {
		k := min(batch, n-done)
		for i, row := range rows {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res := &results[i]
			var err error
			switch row.client {
			case "go":
				err = goNetcodeConnects(ctx, srv.wsURL+row.path, k, res)
			case "go-bare", "go-bare-snap":
				err = goBareConnects(ctx, srv.wsURL+row.path, row.client == "go-bare-snap", k, res)
			default:
				err = pages[row.client].connects(ctx, row.path, k, res)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", row.name, err)
			}
			bar.add(k)
		}
	}
	r.Results = results
	r.summarize()
	return r, nil
}

// summarize computes every row's figures from its samples.
func (r *connectReport) summarize() {
	for i := range r.Results {
		res := &r.Results[i]
		slices.Sort(res.samples)
		res.N = len(res.samples) + res.Failed
		if len(res.samples) > 0 {
			res.P50MS = ms(percentile(res.samples, 0.5))
			res.P90MS = ms(percentile(res.samples, 0.9))
			res.P99MS = ms(percentile(res.samples, 0.99))
			res.MaxMS = ms(res.samples[len(res.samples)-1])
			res.OfferSctpInit = float64(res.offerInit) / float64(len(res.samples))
			res.AnswerSctpInit = float64(res.ansInit) / float64(len(res.samples))
		}
	}
}

// runConnectVnet adds the Go rows over a vnet with a one-way delay:
// signaling in process (not delayed), everything else through the vnet's
// router.
func runConnectVnet(ctx context.Context, r *connectReport, delay time.Duration, n, batch int, e *env) (err error) {
	l, err := newLab(1, delay, 0, 1)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := l.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	link := l.links[0]
	srv, err := netcode.NewServer(ncOptions{Net: link.server, UDPAddr: link.serverIP + ":7000"}.server())
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	defer func() { _ = srv.Close() }()
	r.Params.DelayMS, r.Params.DelayN = ms(delay), n
	suffix := fmt.Sprintf("-vnet-%gms", ms(delay))
	rows := []struct {
		name    string
		connect func(ctx context.Context, res *connectResult) error
	}{
		{"go-netcode" + suffix, func(ctx context.Context, res *connectResult) error {
			return vnetNetcodeConnect(ctx, srv, link, res)
		}},
		{"go-bare" + suffix, func(ctx context.Context, res *connectResult) error {
			return vnetBareConnect(ctx, bareAPIOn(link.client, false), bareAPIOn(link.server, false), res)
		}},
		{"go-bare-snap" + suffix, func(ctx context.Context, res *connectResult) error {
			return vnetBareConnect(ctx, bareAPIOn(link.client, true), bareAPIOn(link.server, true), res)
		}},
	}
	first := len(r.Results)
	for _, row := range rows {
		r.Results = append(r.Results, connectResult{Name: row.name})
	}
	bar := e.newProgress("connect over vnet", n*len(rows))
	defer bar.finish()
	for done := 0; done < n; done += batch {
		k := min(batch, n-done)
		for i, row := range rows {
			for range k {
				if err := ctx.Err(); err != nil {
					return err
				}
				cctx, cancel := context.WithTimeout(ctx, connectTimeout)
				err := row.connect(cctx, &r.Results[first+i])
				cancel()
				if err != nil {
					return fmt.Errorf("%s: %w", row.name, err)
				}
			}
			bar.add(k)
		}
	}
	r.summarize()
	return nil
}

// vnetNetcodeConnect connects one netcode client to srv through an
// in-process signal pipe, and closes both ends.
func vnetNetcodeConnect(ctx context.Context, srv *netcode.Server, link *labLink, res *connectResult) error {
	var ts *timedSignaler
	client, sess, dialed, err := connectNetcodeVia(ctx, srv, ncOptions{Net: link.client}.client(), func(s netcode.Signaler) netcode.Signaler {
		ts = &timedSignaler{Signaler: s}
		return ts
	})
	if err != nil {
		res.fail(err)
		return nil
	}
	_ = client.Close()
	_ = sess.Close("")
	ts.mu.Lock()
	defer ts.mu.Unlock()
	res.add(dialed.Sub(ts.offered), ts.offerInit, ts.answerInit)
	return nil
}

// vnetBareConnect connects one bare pair through an in-process signal
// pipe, and closes both ends.
func vnetBareConnect(ctx context.Context, clientAPI, serverAPI *webrtc.API, res *connectResult) error {
	csig, ssig := netcode.SignalPipe()
	type accepted struct {
		p   *barePeer
		err error
	}
	done := make(chan accepted, 1)
	go func() {
		p, err := acceptBare(ctx, serverAPI, ssig)
		done <- accepted{p, err}
	}()
	var offered time.Time
	p, err := dialBare(ctx, clientAPI, csig, func() { offered = time.Now() })
	end := time.Now()
	a := <-done
	if a.p != nil {
		defer a.p.close()
	}
	if err != nil {
		res.fail(err)
		return nil
	}
	defer p.close()
	res.add(end.Sub(offered), p.localInit, p.remoteInit)
	return nil
}

func (res *connectResult) fail(err error) {
	res.Failed++
	if len(res.Errors) < maxReportedErrors {
		res.Errors = append(res.Errors, err.Error())
	}
}

func (res *connectResult) add(d time.Duration, offerInit, answerInit bool) {
	res.samples = append(res.samples, d)
	if offerInit {
		res.offerInit++
	}
	if answerInit {
		res.ansInit++
	}
}

// timedSignaler notes when the offer leaves and what the descriptions
// carry.
type timedSignaler struct {
	netcode.Signaler
	mu                    sync.Mutex
	offered               time.Time
	offerInit, answerInit bool
}

func (t *timedSignaler) WriteSignal(ctx context.Context, s netcode.Signal) error {
	if s.Type == netcode.SignalOffer {
		t.mu.Lock()
		if t.offered.IsZero() {
			t.offered = time.Now()
			t.offerInit = strings.Contains(s.SDP, "a=sctp-init:")
		}
		t.mu.Unlock()
	}
	return t.Signaler.WriteSignal(ctx, s)
}

func (t *timedSignaler) ReadSignal(ctx context.Context) (netcode.Signal, error) {
	s, err := t.Signaler.ReadSignal(ctx)
	if err == nil && s.Type == netcode.SignalAnswer {
		t.mu.Lock()
		t.answerInit = t.answerInit || strings.Contains(s.SDP, "a=sctp-init:")
		t.mu.Unlock()
	}
	return s, err
}

// goNetcodeConnects dials k netcode clients one after the other, timing
// each from its offer to Dial returning with both channels open.
func goNetcodeConnects(ctx context.Context, url string, k int, res *connectResult) error {
	for range k {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		sig, err := dialSignaling(cctx, url)
		if err != nil {
			cancel()
			return err
		}
		ts := &timedSignaler{Signaler: sig}
		client, err := netcode.Dial(cctx, ts, ncOptions{UDP4Only: true}.client())
		end := time.Now()
		cancel()
		if err != nil {
			res.fail(err)
			continue
		}
		ts.mu.Lock()
		res.add(end.Sub(ts.offered), ts.offerInit, ts.answerInit)
		ts.mu.Unlock()
		_ = client.Close()
	}
	return nil
}

// goBareConnects connects k bare pion peers one after the other.
func goBareConnects(ctx context.Context, url string, snap bool, k int, res *connectResult) error {
	api := bareLoopbackAPI(snap)
	for range k {
		cctx, cancel := context.WithTimeout(ctx, connectTimeout)
		sig, err := dialSignaling(cctx, url)
		if err != nil {
			cancel()
			return err
		}
		var offered time.Time
		p, err := dialBare(cctx, api, sig, func() { offered = time.Now() })
		end := time.Now()
		cancel()
		if err != nil {
			res.fail(err)
			continue
		}
		res.add(end.Sub(offered), p.localInit, p.remoteInit)
		p.close()
	}
	return nil
}

// connectServer is every server connect measures, on loopback: a netcode
// Server, bare pion answerers with and without SNAP, each behind its own
// WebSocket signaling path, and the browser page.
type connectServer struct {
	url, wsURL string
	nc         *netcode.Server
	hs         *http.Server
	served     chan struct{}
	handlers   tracker
	stop       context.CancelFunc
	stopCtx    context.Context
}

// keepAccepted is how long the server holds a session its client has
// left: the client closes first, and a browser's close takes the server
// seconds to notice.
const keepAccepted = 2 * time.Second

func newConnectServer() (_ *connectServer, err error) {
	s := &connectServer{served: make(chan struct{})}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	if s.nc, err = netcode.NewServer(ncOptions{UDPAddr: "127.0.0.1:0"}.server()); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	page, err := fs.Sub(connectPage, "connectpage")
	if err != nil {
		_ = s.nc.Close()
		return nil, err
	}
	bare, bareSnap := bareLoopbackAPI(false), bareLoopbackAPI(true)
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.FS(page)))
	signal := func(accept func(ctx context.Context, sig *wsSignaler) (func(), error)) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			if !s.handlers.enter() {
				return
			}
			defer s.handlers.exit()
			c, err := websocket.Accept(w, req, nil)
			if err != nil {
				return
			}
			ctx, cancel := context.WithTimeout(s.stopCtx, connectTimeout)
			defer cancel()
			closer, err := accept(ctx, newWSSignaler(c))
			if err != nil {
				return // the client counts the failure
			}
			select {
			case <-time.After(keepAccepted):
			case <-s.stopCtx.Done():
			}
			closer()
		}
	}
	mux.Handle("/signal/netcode", signal(func(ctx context.Context, sig *wsSignaler) (func(), error) {
		sess, err := s.nc.Accept(ctx, sig)
		if err != nil {
			return nil, err
		}
		return func() { _ = sess.Close("") }, nil
	}))
	for path, api := range map[string]*webrtc.API{"/signal/bare": bare, "/signal/bare-snap": bareSnap} {
		mux.Handle(path, signal(func(ctx context.Context, sig *wsSignaler) (func(), error) {
			p, err := acceptBare(ctx, api, sig)
			if err != nil {
				return nil, err
			}
			return p.close, nil
		}))
	}
	s.hs = &http.Server{Handler: mux}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		_ = s.nc.Close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.url, s.wsURL = "http://"+ln.Addr().String(), "ws://"+ln.Addr().String()
	go func() {
		defer close(s.served)
		_ = s.hs.Serve(ln)
	}()
	return s, nil
}

func (s *connectServer) close() {
	s.stop()
	_ = s.hs.Close()
	<-s.served
	s.handlers.closeAndWait()
	_ = s.nc.Close()
}

// chromiumVersion runs path --version, which also says whether it is there.
func chromiumVersion(ctx context.Context, path string) (string, error) {
	if path == "" {
		return "", errors.New("no Chromium")
	}
	if _, err := exec.LookPath(path); err != nil {
		return "", fmt.Errorf("%s not found (apt-get install -y chromium)", path)
	}
	vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(vctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// connectBrowser is one headless Chromium with the connect page open.
type connectBrowser struct {
	ctx    context.Context
	cancel func()
	out    *lockedWriter
}

// startConnectBrowser starts Chromium as the repository's browser tests
// do (wasm/browser_test.go), plus extra flags, and opens url.
func startConnectBrowser(ctx context.Context, path string, extra []string, url string) (_ *connectBrowser, err error) {
	dir, err := os.MkdirTemp("", "tickwire-connect-chromium-")
	if err != nil {
		return nil, err
	}
	out := &lockedWriter{w: &strings.Builder{}}
	opts := append(chromiumOptions(path),
		chromedp.UserDataDir(dir),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.CombinedOutput(out),
	)
	for _, f := range extra {
		name, value, hasValue := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if hasValue {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &connectBrowser{ctx: bctx, out: out, cancel: func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(dir)
	}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	// The first Run starts the browser and must not have a timeout: the
	// browser would live only as long as it.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			return nil, fmt.Errorf("start %s: %w\n%s", path, err, tail(out.String(), 10))
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s did not start in 30 s\n%s", path, tail(out.String(), 10))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	nctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(url)); err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	if _, err := chromedp.Run(nctx, chromedp.Poll[bool](`window.__ready === true`)); err != nil {
		return nil, fmt.Errorf("open %s: %w", url, err)
	}
	return b, nil
}

func (b *connectBrowser) close() { b.cancel() }

// connects runs k connections in the page against path and adds them to
// res.
func (b *connectBrowser) connects(ctx context.Context, path string, k int, res *connectResult) error {
	ectx, cancel := context.WithTimeout(b.ctx, time.Duration(k)*2*connectTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	out, err := chromedp.Run(ectx, chromedp.Evaluate[string](fmt.Sprintf("runConnects(%q, %d)", path, k), chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("page: %w\n%s", err, tail(b.out.String(), 10))
	}
	var page []struct {
		MS         float64 `json:"ms"`
		OfferInit  bool    `json:"offer_init"`
		AnswerInit bool    `json:"answer_init"`
		Error      string  `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		return fmt.Errorf("page result %q: %w", out, err)
	}
	for _, c := range page {
		if c.Error != "" {
			res.fail(errors.New(c.Error))
			continue
		}
		res.add(time.Duration(c.MS*float64(time.Millisecond)), c.OfferInit, c.AnswerInit)
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var connectHead = []string{"client-server", "n", "failed", "p50", "p90", "p99", "max", "offer sctp-init", "answer sctp-init"}

func (r *connectReport) rows() [][]string {
	var rows [][]string
	for _, res := range r.Results {
		rows = append(rows, []string{res.Name, fmt.Sprint(res.N), fmt.Sprint(res.Failed), fmtMS(res.P50MS), fmtMS(res.P90MS),
			fmtMS(res.P99MS), fmtMS(res.MaxMS), fmt.Sprintf("%.0f%%", 100*res.OfferSctpInit), fmt.Sprintf("%.0f%%", 100*res.AnswerSctpInit)})
	}
	return rows
}

func (r *connectReport) describe() string {
	p := r.Params
	s := fmt.Sprintf("time from the client's offer leaving it to both channels open on the client, loopback, %d connections each in batches of %d; Chromium: %s",
		p.N, p.Batch, p.Chromium)
	if len(p.TrialFlags) > 0 {
		s += "; trial rows: " + strings.Join(p.TrialFlags, " ")
	}
	if p.DelayMS > 0 {
		s += fmt.Sprintf("; vnet rows: pion's vnet with %g ms one way, signaling in process, %d connections each", p.DelayMS, p.DelayN)
	}
	return s
}

func (r *connectReport) writeTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%s\n\n", r.describe()); err != nil {
		return err
	}
	tw := tabwriterFor(w)
	writeRow(tw, connectHead)
	for _, row := range r.rows() {
		writeRow(tw, row)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		for _, msg := range res.Errors {
			if _, err := fmt.Fprintf(w, "%s failed: %s\n", res.Name, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *connectReport) writeHTML(w io.Writer) error {
	var series []cdfSeries
	for _, res := range r.Results {
		series = append(series, cdfSeries{Name: res.Name, Sorted: res.samples, Total: res.N})
	}
	return writeHTMLPage(w, "Tickwire bench: connect", r.Args, []htmlSection{{
		Title: "Offer to both channels open", Caption: r.describe(),
		Table:  htmlTable{Head: connectHead, Rows: r.rows()},
		Charts: []cdfChart{{Title: "CDF of offer to open", XLabel: "offer to open", Series: series}},
	}})
}
