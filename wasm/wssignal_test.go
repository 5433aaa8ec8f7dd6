//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// TestBrowserWSSignaler: a Go program compiled to WebAssembly
// (testdata/wsgo) reaches a game server without a lobby, through
// netcode.DialSignaler on the browser's own WebSocket and a SignalHandler
// on the server; it plays, and when its WebSocket is cut it takes its
// session's signaling over on a new one by itself, which the server's
// ICE restart then travels on; it closes its client cleanly and the
// session sees the client's close.
func TestBrowserWSSignaler(t *testing.T) {
	chromium := btChromium(t)
	dir := btAssets(t)

	srv, err := netcode.NewServer(&netcode.ServerConfig{Config: netcode.Config{Logger: btTestLogger(t, slog.LevelError)}, UDPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	sessions := make(chan *netcode.Session, 4)
	names := make(chan string, 4)
	h, err := netcode.NewSignalHandler(srv, func(s *netcode.Session, r *http.Request) {
		names <- r.URL.Query().Get("name")
		sessions <- s
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir(dir))))
	mux.Handle("/play", h)
	hs := httptest.NewUnstartedServer(mux)
	var mu sync.Mutex
	var raw []net.Conn // the server's side of each WebSocket
	hs.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			mu.Lock()
			raw = append(raw, c)
			mu.Unlock()
		}
	}
	hs.Start()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		_ = srv.Close()
		_ = h.Close()
		hs.Close()
	})

	browser := btStartBrowser(t, chromium)
	page := btOpenPage(t, browser, "wsgo", hs.URL+"/static/wsgo.html")
	var sess *netcode.Session
	select {
	case sess = <-sessions:
	case <-time.After(30 * time.Second):
		report, _ := page.evalString(`window.__wsgo || "nothing"`)
		t.Fatalf("no session from the page; it reports %s", report)
	}
	if name := <-names; name != "wasm" {
		t.Errorf("accept got the name %q, want the page's", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ev, err := sess.ReadEvent(ctx); err != nil || string(ev) != "hello" {
		t.Fatalf("server ReadEvent = %q, %v", ev, err)
	}
	_ = sess.SendEvent([]byte("welcome"))
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = sess.SendSnapshot([]byte("state"))
			}
		}
	}()

	type report struct {
		Error, Event, Snapshot, State, Closed, CloseError string
		Connected, Done                                   bool
		Restarts                                          uint64
	}
	read := func(cond string) report {
		t.Helper()
		raw, err := page.poll(`window.__wsgo && (r => (`+cond+`) ? r : null)(JSON.parse(window.__wsgo))`, 30*time.Second)
		if err != nil {
			last, _ := page.evalString(`window.__wsgo || "nothing"`)
			t.Fatalf("waiting for %s: %v; the page reports %s", cond, err, last)
		}
		var r report
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("report %s: %v", raw, err)
		}
		if r.Error != "" {
			t.Fatalf("the Go program failed: %s", r.Error)
		}
		return r
	}
	r := read(`r.connected || r.error`)
	if r.Event != "welcome" || r.Snapshot != "state" {
		t.Errorf("the page got event %q and snapshot %q", r.Event, r.Snapshot)
	}

	// The WebSocket breaks (the browser sees 1006): the page opens a new
	// one and takes its session's signaling over.
	mu.Lock()
	cut := raw
	raw = nil
	mu.Unlock()
	for _, c := range cut {
		_ = c.Close()
	}
	btWaitFor(30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(raw) > 0
	})
	mu.Lock()
	back := len(raw)
	mu.Unlock()
	if back == 0 {
		t.Fatal("the page did not reconnect its WebSocket")
	}
	// Asked again until it arrives: a request made before the handler has
	// the new WebSocket finds the client away, and is dropped.
	for attempt := 1; ; attempt++ {
		if err := sess.RestartICE(); err != nil {
			t.Fatal(err)
		}
		if _, err := page.poll(`window.__wsgo && JSON.parse(window.__wsgo).restarts > 0`, 2*time.Second); err == nil {
			break
		}
		if attempt == 10 {
			last, _ := page.evalString(`window.__wsgo || "nothing"`)
			t.Fatalf("the page did not restart ICE when asked; it reports %s", last)
		}
	}
	r = read(`r.state == "connected" || r.closed || r.error`)
	if r.Closed != "" {
		t.Fatalf("the page's client closed: %s", r.Closed)
	}
	btWaitFor(30*time.Second, func() bool { return sess.State() == netcode.StateConnected })
	if sess.State() != netcode.StateConnected {
		t.Fatalf("the session is %v after the restart: %v", sess.State(), sess.Err())
	}
	select {
	case s := <-sessions:
		t.Errorf("the reconnect made a new session %s", s.ID())
	default:
	}

	if err := page.eval(`window.__wsgoClose = true`); err != nil {
		t.Fatal(err)
	}
	r = read(`r.done || r.error`)
	if r.CloseError != "" {
		t.Errorf("the page's client did not close cleanly: %s", r.CloseError)
	}
	select {
	case <-sess.Done():
	case <-ctx.Done():
		t.Fatal("the session did not see the page's client close")
	}
	// The client's close message, not a lost connection, ended it.
	var ce *netcode.CloseError
	if err := sess.Err(); !errors.As(err, &ce) || !ce.Remote || ce.Code != netcode.CloseNormal || ce.Reason != "client closed" {
		t.Errorf("the session ended with %v, want the client's normal close", err)
	}
	t.Logf("page: %+v; session: %v", r, sess.Err())
}
