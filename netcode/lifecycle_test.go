//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// TestNoGoroutineLeak: connect/close cycles, closed from either end, leave
// no goroutine behind (TestMain checks the whole package as well).
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv, err := NewServer(loopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		c, s := connect(t, srv, nil)
		ctx := ctxTimeout(t, 10*time.Second)
		if err := c.SendEvent([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadEvent(ctx); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_ = c.Close()
		} else {
			_ = s.Close("bye")
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("client not closed")
		}
		select {
		case <-s.Done():
		case <-ctx.Done():
			t.Fatal("session not closed")
		}
		_ = c.Close()
		_ = s.Close("")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions still registered", n)
	}
}

func TestShutdownTellsClients(t *testing.T) {
	srv := newTestServer(t, nil)
	c1, _ := connect(t, srv, nil)
	c2, _ := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)

	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{c1, c2} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("client not closed by Shutdown")
		}
		var ce *CloseError
		if err := c.Err(); !errors.As(err, &ce) || ce.Code != CloseShutdown || !ce.Remote {
			t.Fatalf("client Err = %v, want a remote shutdown", err)
		}
		if _, err := c.ReadSnapshot(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("ReadSnapshot after shutdown = %v", err)
		}
	}
	csig, ssig := SignalPipe()
	defer csig.Close()
	if _, err := srv.Accept(ctx, ssig); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Accept after Shutdown = %v", err)
	}
	if err := srv.Broadcast([]byte("x")); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Broadcast after Shutdown = %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseUnblocksReaders: every waiting call returns when the client closes.
func TestCloseUnblocksReaders(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	errs := make(chan error, 3)
	go func() { _, err := c.ReadSnapshot(ctx); errs <- err }()
	go func() { _, err := c.ReadEvent(ctx); errs <- err }()
	go func() { _, err := s.ReadInput(ctx); errs <- err }()
	time.Sleep(50 * time.Millisecond) // let them block; correctness does not depend on it
	_ = c.Close()
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked call returned %v, want ErrClosed", err)
		}
	}
}

// TestAcceptAbortedByClose: a handshake in progress ends when the server closes.
func TestAcceptAbortedByClose(t *testing.T) {
	srv, err := NewServer(loopbackConfig())
	if err != nil {
		t.Fatal(err)
	}
	csig, ssig := SignalPipe()
	defer csig.Close()
	errc := make(chan error, 1)
	go func() { _, err := srv.Accept(context.Background(), ssig); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = srv.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Accept = %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}

// TestSlowEventReader: a game that never reads events gets a clear error
// instead of a stalled connection or lost events.
func TestSlowEventReader(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, &ClientConfig{Config: Config{EventQueue: 10}})
	ctx := ctxTimeout(t, 10*time.Second)
	for i := 0; i < 11; i++ {
		if err := s.SendEvent([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client not closed")
	}
	if err := c.Err(); !errors.Is(err, ErrSlowReader) {
		t.Fatalf("Err = %v, want ErrSlowReader", err)
	}
	// What was queued is still readable, then the close error.
	got := c.ReadEvents(nil)
	if len(got) != 10 {
		t.Fatalf("read %d queued events, want 10", len(got))
	}
	var ce *CloseError
	waitFor(t, ctx, func() bool { return errors.As(s.Err(), &ce) }, "the server to be told")
	if ce.Code != CloseSlowReader || !ce.Remote {
		t.Fatalf("server Err = %v", s.Err())
	}
}

// TestInputsNewestKept: a tick loop that falls behind keeps the newest
// ServerConfig.InputQueue inputs and the rest are counted.
func TestInputsNewestKept(t *testing.T) {
	srv := newTestServer(t, &ServerConfig{UDPAddr: "127.0.0.1:0", InputQueue: 4})
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := 0; i < 10; i++ {
		if err := c.SendInput([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, func() bool { st := s.Stats(); return st.InputsReceived+st.Lost >= 10 }, "inputs")
	in := s.ReadInputs(nil)
	if len(in) != 4 || in[3].Seq != s.Stats().InputsReceived+s.Stats().Lost {
		t.Fatalf("ReadInputs = %d inputs ending at %v", len(in), in)
	}
	for i := 1; i < len(in); i++ {
		if in[i].Seq <= in[i-1].Seq {
			t.Fatalf("inputs out of order: %v", in)
		}
	}
	if st := s.Stats(); st.InputsOverflow != st.InputsReceived-4 {
		t.Fatalf("InputsOverflow = %d, received %d", st.InputsOverflow, st.InputsReceived)
	}
}

func TestStatsRTT(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, &ClientConfig{Config: Config{PingInterval: 20 * time.Millisecond}})
	ctx := ctxTimeout(t, 10*time.Second)
	waitFor(t, ctx, func() bool { return c.Stats().RTT > 0 && s.Stats().RTT > 0 }, "RTT samples on both sides")
	if st := c.Stats(); st.RTT > time.Second || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Fatalf("client stats %+v", st)
	}
}

func TestICETCP(t *testing.T) {
	srv := newTestServer(t, &ServerConfig{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	c, s := connect(t, srv, &ClientConfig{Config: Config{Native: NativeConfig{NetworkTypes: []NetworkType{NetworkTCP4}}}})
	ctx := ctxTimeout(t, 10*time.Second)
	if err := s.SendEvent([]byte("over tcp")); err != nil {
		t.Fatal(err)
	}
	if ev, err := c.ReadEvent(ctx); err != nil || string(ev) != "over tcp" {
		t.Fatalf("ReadEvent = %q, %v", ev, err)
	}
	pair, err := c.p.link.Load().rc.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v", err)
	}
	if pair.Remote.Protocol != webrtc.ICEProtocolTCP {
		t.Fatalf("selected pair is %v, want TCP", pair.Remote.Protocol)
	}
}

// TestCloseWithError: the game's own close code and reason reach the other
// end as sent, from either end; codes outside the applications' range are
// refused and close nothing.
func TestCloseWithError(t *testing.T) {
	srv := newTestServer(t, nil)
	tests := []struct {
		name       string
		fromClient bool
		code       CloseCode
		wantErr    error
	}{
		{"server, lowest code", false, CloseApplicationMin, nil},
		{"client, highest code", true, CloseApplicationMax, nil},
		{"server, a library code", false, CloseShutdown, ErrCloseCode},
		{"client, past the range", true, CloseApplicationMax + 1, ErrCloseCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := connect(t, srv, nil)
			ctx := ctxTimeout(t, 10*time.Second)
			var err error
			var closer, other interface {
				Done() <-chan struct{}
				Err() error
			}
			if tt.fromClient {
				err = c.CloseWithError(tt.code, "kicked for cheating")
				closer, other = c, s
			} else {
				err = s.CloseWithError(tt.code, "kicked for cheating")
				closer, other = s, c
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CloseWithError(%d) = %v, want %v", tt.code, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if closer.Err() != nil {
					t.Fatalf("closed by a refused code: %v", closer.Err())
				}
				return
			}
			select {
			case <-other.Done():
			case <-ctx.Done():
				t.Fatal("the other end did not close")
			}
			var ce *CloseError
			if !errors.As(other.Err(), &ce) || ce.Code != tt.code || ce.Reason != "kicked for cheating" || !ce.Remote {
				t.Fatalf("other end's error = %#v", other.Err())
			}
			if got := ce.Error(); got != fmt.Sprintf("netcode: closed by peer: application code %d: kicked for cheating", tt.code) {
				t.Fatalf("Error() = %q", got)
			}
		})
	}
}

// TestQuietSession: a session in which the game sends nothing stops
// pinging on both sides (it costs what a bare PeerConnection does); the
// game's first message ends that, pings resume, and nothing is lost; a
// path that dies while quiet is still noticed, by ICE, and recovered.
func TestQuietSession(t *testing.T) {
	ln := newLossyNet(t, 2*time.Millisecond, 50)
	for _, cfg := range []*Config{&ln.server.Config, &ln.client.Config} {
		cfg.PingInterval = 100 * time.Millisecond
		cfg.SilenceTimeout = 500 * time.Millisecond
		cfg.Native.ICEKeepaliveInterval = 300 * time.Millisecond
		cfg.Native.ICEDisconnectedTimeout = time.Second
	}
	srv := newTestServer(t, ln.server)
	c, s := connect(t, srv, ln.client)
	ctx := ctxTimeout(t, 30*time.Second)

	quiet := func() bool { return c.p.quiet.Load() && s.p.quiet.Load() }
	waitFor(t, ctx, quiet, "both sides to go quiet")
	// A ping sent just before its sender went quiet is still answered:
	// let it cross the 2 ms path before counting.
	time.Sleep(100 * time.Millisecond)
	out := c.Stats().BytesOut + s.Stats().BytesOut
	time.Sleep(600 * time.Millisecond) // longer than several ping intervals
	if !quiet() {
		t.Fatal("a quiet session woke up by itself")
	}
	if now := c.Stats().BytesOut + s.Stats().BytesOut; now != out {
		t.Fatalf("a quiet session sent %d bytes", now-out)
	}
	if st := c.State(); st != StateConnected {
		t.Fatalf("quiet client is %v", st)
	}

	// The game speaks: both wake, the snapshot arrives, pings resume.
	if err := s.SendSnapshot([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if snap, err := c.ReadSnapshot(ctx); err != nil || string(snap.Payload) != "hello" {
		t.Fatalf("ReadSnapshot = %q, %v", snap.Payload, err)
	}
	waitFor(t, ctx, func() bool { return !c.p.quiet.Load() && !s.p.quiet.Load() }, "both sides to wake")
	out = c.Stats().BytesOut
	waitFor(t, ctx, func() bool { return c.Stats().BytesOut > out }, "the client to ping again")

	// Quiet again. A path check (the lobby connection dropped) wakes the
	// client, whose ping is answered: the path is not taken for lost.
	waitFor(t, ctx, quiet, "both sides to go quiet again")
	for len(c.StateChanges()) > 0 {
		<-c.StateChanges()
	}
	c.CheckPath("lobby connection dropped")
	waitFor(t, ctx, func() bool { return !c.p.quiet.Load() }, "the path check to wake the client")
	time.Sleep(time.Second) // past the probe's timeout (a ping interval and 200 ms)
	select {
	case ch := <-c.StateChanges():
		t.Fatalf("a path check on a quiet, working path: %v (%s)", ch.State, ch.Reason)
	default:
	}

	// Quiet again, then the path dies: ICE notices, and the session comes
	// back when the path does.
	waitFor(t, ctx, quiet, "both sides to go quiet a third time")
	ln.setLoss(1)
	waitState(t, ctx, c.StateChanges(), StateReconnecting)
	ln.setLoss(0)
	waitState(t, ctx, c.StateChanges(), StateConnected)
	if err := c.SendEvent([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if ev, err := s.ReadEvent(ctx); err != nil || string(ev) != "back" {
		t.Fatalf("ReadEvent = %q, %v", ev, err)
	}
}

// BenchmarkClientClose measures Client.Close on loopback: a round trip for
// the server to have the close message, not SCTP's delayed
// acknowledgement (go test -run '^$' -bench ClientClose ./netcode/).
func BenchmarkClientClose(b *testing.B) {
	srv := newTestServer(b, nil)
	for range b.N {
		b.StopTimer()
		c, s := connect(b, srv, nil)
		b.StartTimer()
		_ = c.Close()
		b.StopTimer()
		<-s.Done()
		b.StartTimer()
	}
}
