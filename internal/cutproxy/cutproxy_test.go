package cutproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes lines until its client hangs up.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return "http://" + ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) net.Conn {
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// echoes reports whether a line sent on c comes back.
func echoes(c net.Conn) bool {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

// TestProxy: the proxy forwards, Cut drops what goes through it, refused
// connections are closed unforwarded, and forwarding comes back.
func TestProxy(t *testing.T) {
	p := New(t, echoServer(t))
	a := dial(t, p)
	if !echoes(a) {
		t.Fatal("no echo through the proxy")
	}
	p.Cut()
	if echoes(a) {
		t.Fatal("an echo after Cut")
	}
	p.SetRefuse(true)
	if echoes(dial(t, p)) {
		t.Fatal("an echo through a refusing proxy")
	}
	p.SetRefuse(false)
	if !echoes(dial(t, p)) {
		t.Fatal("no echo once the proxy forwards again")
	}
	if n := p.Forwarded(); n != 2 {
		t.Fatalf("Forwarded %d, want 2", n)
	}
}
