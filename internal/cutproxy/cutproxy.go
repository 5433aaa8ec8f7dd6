// Package cutproxy is a TCP proxy for tests that stands for a network path
// to a server: Cut drops every connection through it, as a network that
// drops does, and SetRefuse turns new ones away, as a server that died
// does. The lobby's reconnect tests and the browser tests' lobby failover
// use it.
package cutproxy

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy forwards TCP from a loopback port to a server.
type Proxy struct {
	ln        net.Listener
	target    string
	mu        sync.Mutex
	conns     []net.Conn
	refuse    bool
	forwarded int
	wg        sync.WaitGroup
}

// New starts a proxy to the server at serverURL (its host and port); the
// test's cleanup stops it and waits for its goroutines.
func New(t testing.TB, serverURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: u.Host}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// URL is the proxy's base URL, http://127.0.0.1:port.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns, p.forwarded = append(p.conns, in, out), p.forwarded+1
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(out, in); _ = out.Close() })
		p.wg.Go(func() { _, _ = io.Copy(in, out); _ = in.Close() })
	}
}

// Cut closes every connection through the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// SetRefuse makes the proxy close new connections at once (true), or
// forward them again (false).
func (p *Proxy) SetRefuse(r bool) {
	p.mu.Lock()
	p.refuse = r
	p.mu.Unlock()
}

// Forwarded counts the connections the proxy has forwarded.
func (p *Proxy) Forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}
