//go:build !js

package main

// Firefox for the browser tests, driven headless over WebDriver BiDi (the
// W3C protocol Firefox speaks natively since CDP went) with a small client
// of our own on github.com/coder/websocket: a session, a window per page,
// navigation and script.evaluate, and the pages' console in the test log.
// Debian's firefox-esr, no browser download.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// btFirefoxPath finds firefox-esr, or skips (fails under CI=true).
func btFirefoxPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	btMissing(t, "firefox-esr", "apt-get install -y firefox-esr")
	return ""
}

// btFirefoxPrefs are the preferences of the test profile. The first two
// are what WebRTC on loopback needs (docs/webrtc-facts.md, each checked by
// removing it); the rest keep a headless test browser quiet and its
// background windows at full speed.
var btFirefoxPrefs = map[string]any{
	"media.peerconnection.ice.loopback":                 true,  // else "Peer address is bogus": ICE stays checking
	"media.peerconnection.ice.obfuscate_host_addresses": false, // else .local candidates, which the server does not resolve
	"dom.min_background_timeout_value":                  4,
	"dom.timeout.enable_budget_throttling":              false,
	"browser.shell.checkDefaultBrowser":                 false,
	"browser.startup.homepage_override.mstone":          "ignore",
	"datareporting.policy.dataSubmissionEnabled":        false,
	"toolkit.telemetry.reportingpolicy.firstRun":        false,
	"app.update.disabledForTesting":                     true,
	"network.captive-portal-service.enabled":            false,
	"network.connectivity-service.enabled":              false,
	"browser.safebrowsing.update.enabled":               false,
	"extensions.update.enabled":                         false,
	"browser.newtabpage.enabled":                        false,
	"browser.aboutwelcome.enabled":                      false,
}

// btFirefox is one headless Firefox with a BiDi session.
type btFirefox struct {
	t    *testing.T
	conn *websocket.Conn
	ctx  context.Context

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan btBiDiReply
	logs    map[string]*btGate // browsing context -> its page's log
	names   map[string]string
}

type btBiDiReply struct {
	Type    string          `json:"type"`
	ID      int             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// btStartFirefox starts Firefox for the test and opens its BiDi session;
// it ends with the test.
func btStartFirefox(t *testing.T) *btFirefox {
	t.Helper()
	path := btFirefoxPath(t)
	profile := t.TempDir()
	var prefs strings.Builder
	for k, v := range btFirefoxPrefs {
		b, _ := json.Marshal(v)
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", k, b)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_DISABLE_CONTENT_SANDBOX=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &btSyncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	// The BiDi endpoint's address comes on stderr.
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			out.Write([]byte(line + "\n"))
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	var addr string
	select {
	case addr = <-found:
	case <-exited:
		t.Fatalf("%s exited before listening for WebDriver BiDi:\n%s", path, btTail(out.String(), 30))
	case <-time.After(60 * time.Second):
		stop()
		t.Fatalf("%s did not listen for WebDriver BiDi in 60 s:\n%s", path, btTail(out.String(), 30))
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, _, err := websocket.Dial(ctx, addr+"/session", nil)
	if err != nil {
		cancel()
		stop()
		t.Fatalf("connecting to Firefox's BiDi at %s: %v", addr, err)
	}
	conn.SetReadLimit(64 << 20)
	f := &btFirefox{t: t, conn: conn, ctx: ctx, waiting: map[int]chan btBiDiReply{}, logs: map[string]*btGate{}, names: map[string]string{}}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		f.read()
	}()
	t.Cleanup(func() {
		cancel()
		_ = conn.CloseNow()
		<-readerDone
		stop()
		if t.Failed() {
			t.Logf("firefox output (tail):\n%s", btTail(out.String(), 30))
		}
	})
	if _, err := f.call("session.new", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}}); err != nil {
		t.Fatalf("BiDi session.new: %v", err)
	}
	if _, err := f.call("session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}); err != nil {
		t.Fatalf("BiDi session.subscribe: %v", err)
	}
	return f
}

// read dispatches replies to their callers and log entries to their pages.
func (f *btFirefox) read() {
	for {
		_, b, err := f.conn.Read(f.ctx)
		if err != nil {
			f.mu.Lock()
			for id, c := range f.waiting {
				c <- btBiDiReply{Type: "error", Error: "connection", Message: err.Error()}
				delete(f.waiting, id)
			}
			f.mu.Unlock()
			return
		}
		var r btBiDiReply
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		if r.Type == "event" {
			f.event(r)
			continue
		}
		f.mu.Lock()
		c := f.waiting[r.ID]
		delete(f.waiting, r.ID)
		f.mu.Unlock()
		if c != nil {
			c <- r
		}
	}
}

func (f *btFirefox) event(r btBiDiReply) {
	if r.Method != "log.entryAdded" {
		return
	}
	var e struct {
		Level  string `json:"level"`
		Text   string `json:"text"`
		Type   string `json:"type"`
		Method string `json:"method"`
		Source struct {
			Context string `json:"context"`
		} `json:"source"`
	}
	if json.Unmarshal(r.Params, &e) != nil {
		return
	}
	f.mu.Lock()
	g, name := f.logs[e.Source.Context], f.names[e.Source.Context]
	f.mu.Unlock()
	if g != nil {
		g.logf("page %s: %s.%s: %s", name, e.Type, e.Level, e.Text)
	}
}

// call sends one command and waits for its result.
func (f *btFirefox) call(method string, params any) (json.RawMessage, error) {
	return f.callCtx(f.ctx, method, params)
}

func (f *btFirefox) callCtx(ctx context.Context, method string, params any) (json.RawMessage, error) {
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	c := make(chan btBiDiReply, 1)
	f.waiting[id] = c
	f.mu.Unlock()
	b, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err == nil {
		err = f.conn.Write(ctx, websocket.MessageText, b)
	}
	if err != nil {
		f.mu.Lock()
		delete(f.waiting, id)
		f.mu.Unlock()
		return nil, err
	}
	select {
	case r := <-c:
		if r.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, r.Error, r.Message)
		}
		return r.Result, nil
	case <-ctx.Done():
		f.mu.Lock()
		delete(f.waiting, id)
		f.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// open opens url in a new window (a window of its own: never a throttled
// background tab) and returns the page.
func (f *btFirefox) open(t *testing.T, name, url string) *btPage {
	t.Helper()
	res, err := f.call("browsingContext.create", map[string]any{"type": "window"})
	if err != nil {
		t.Fatalf("%s: opening a window: %v", name, err)
	}
	var created struct {
		Context string `json:"context"`
	}
	if err := json.Unmarshal(res, &created); err != nil || created.Context == "" {
		t.Fatalf("%s: browsingContext.create answered %s (%v)", name, res, err)
	}
	logs := &btGate{t: t}
	f.mu.Lock()
	f.logs[created.Context], f.names[created.Context] = logs, name
	f.mu.Unlock()
	t.Cleanup(func() {
		logs.close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = f.callCtx(ctx, "browsingContext.close", map[string]any{"context": created.Context})
	})
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	if _, err := f.callCtx(ctx, "browsingContext.navigate", map[string]any{"context": created.Context, "url": url, "wait": "complete"}); err != nil {
		t.Fatalf("%s: navigate to %s: %v", name, url, err)
	}
	p := &btPage{t: t, name: name, browser: "firefox"}
	p.evalJSON = func(ctx context.Context, expr string) (json.RawMessage, error) {
		res, err := f.callCtx(ctx, "script.evaluate", map[string]any{
			"expression":      btJSONExpr(expr),
			"target":          map[string]any{"context": created.Context},
			"awaitPromise":    true,
			"resultOwnership": "none",
		})
		if err != nil {
			return nil, err
		}
		var r struct {
			Type   string `json:"type"`
			Result struct {
				Type  string `json:"type"`
				Value any    `json:"value"`
			} `json:"result"`
			ExceptionDetails struct {
				Text string `json:"text"`
			} `json:"exceptionDetails"`
		}
		if err := json.Unmarshal(res, &r); err != nil {
			return nil, err
		}
		if r.Type == "exception" {
			return nil, errors.New("exception: " + r.ExceptionDetails.Text)
		}
		if s, ok := r.Result.Value.(string); ok && r.Result.Type == "string" {
			return json.RawMessage(s), nil
		}
		return json.RawMessage("null"), nil
	}
	return p
}
