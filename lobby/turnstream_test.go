//go:build !js

package lobby

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/testcert"
)

// TestStreamListenerLimits: a TURN stream listener closes a connection
// that does not shake hands (TLS) in time, one past its limit, one that
// stays quiet, and one whose client reads nothing; Accept ends with Close.
func TestStreamListenerLimits(t *testing.T) {
	cert := testcert.New(t, "127.0.0.1")
	dial := func(a net.Addr) net.Conn {
		c, err := net.Dial("tcp4", a.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	listen := func(conf *tls.Config, limits streamLimits) *streamListener {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sl := newStreamListener(ln, conf, slog.New(slog.DiscardHandler), limits)
		t.Cleanup(func() { _ = sl.Close() })
		return sl
	}
	conf, err := turnTLSConfig(cert.CertFile, cert.KeyFile, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sl := listen(conf, streamLimits{max: 2, idle: time.Minute, write: time.Minute, handshake: 300 * time.Millisecond})
	closedByPeer(t, dial(sl.Addr()), "no TLS handshake")
	waitFor(t, 5*time.Second, "the silent connection to be forgotten", func() bool {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		return len(sl.open) == 0
	})
	tlsDial := func() (*tls.Conn, error) {
		c := tls.Client(dial(sl.Addr()), &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1"})
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, c.Handshake()
	}
	for range 2 {
		if _, err := tlsDial(); err != nil {
			t.Fatal(err)
		}
		c, err := sl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if _, err := tlsDial(); err == nil {
		t.Fatal("a third connection past the limit of two shook hands")
	}
	if err := sl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}

	// Quiet for longer than idle: the server's read fails. (Should it
	// wait on, the watchdog ends it with another error.)
	quiet := listen(nil, streamLimits{max: 2, idle: 300 * time.Millisecond, write: 300 * time.Millisecond, handshake: time.Minute})
	dial(quiet.Addr())
	served, err := quiet.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	watchdog := time.AfterFunc(10*time.Second, func() { _ = served.Close() })
	_, err = served.Read(make([]byte, 1))
	watchdog.Stop()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read on a quiet connection: %v, want a timeout", err)
	}

	// A client that reads nothing: once the socket buffers are full, a
	// write fails after the write limit, and the connection is closed.
	deaf := dial(quiet.Addr())
	writer, err := quiet.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	watchdog = time.AfterFunc(10*time.Second, func() { _ = writer.Close() })
	defer watchdog.Stop()
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		_, err := writer.Write(chunk)
		if err == nil && i < 10000 {
			continue
		}
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("write %d to a client that reads nothing: %v, want a timeout", i, err)
		}
		break
	}
	watchdog.Stop()
	_ = deaf.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, deaf); err != nil {
		t.Fatalf("the deaf client's connection was not closed: %v", err)
	}
}
