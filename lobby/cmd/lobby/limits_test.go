package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunCapsConnectionsPerIP: the command serves through
// lobby.Server.Listener, so one address holds at most MaxTCPConnsPerIP
// (64) connections of any kind, idle ones included; one more is closed at
// once, and other addresses are served meanwhile.
func TestRunCapsConnectionsPerIP(t *testing.T) {
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:0", "-game=false", "-key", "0123456789abcdef"}, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, base, _, stop := startCommand(t, cfg)
	defer stop()
	host := strings.TrimPrefix(base, "http://")
	dial := func(ip string) net.Conn {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		return c
	}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			_ = c.Close()
		}
	}()
	for range 64 {
		idle = append(idle, dial("127.0.0.2"))
	}
	// The 64 are held: a request on the last one is answered.
	last := idle[len(idle)-1]
	if _, err := io.WriteString(last, "GET /healthz HTTP/1.1\r\nHost: lobby\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = last.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(last, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("the 64th connection: %q, %v", buf, err)
	}
	over := dial("127.0.0.2")
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the 65th connection: read %d, %v; want it closed at once (EOF)", n, err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another address: %s", resp.Status)
	}
}
