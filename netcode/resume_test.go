//go:build !js

package netcode

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestResumeAfterFailure: traffic blocked until the client declares its
// PeerConnection failed; a new PeerConnection then resumes the same
// session. Events both sides sent before, during and after the outage
// arrive exactly once and in order, the client is not handed a snapshot
// from before the outage, and both sides report resuming and then
// connected.
func TestResumeAfterFailure(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(c *ClientConfig)
	}{
		// pion declares the PeerConnection failed: ICE restarts are kept
		// out of the way, so the failure is what moves the client on.
		{"peer connection failed", func(c *ClientConfig) {
			c.Native.ICEFailedTimeout = 3 * time.Second
			c.RestartInterval = time.Minute
			c.RestartTimeout = time.Minute
		}},
		// ICE restarts do not bring the path back within RestartTimeout.
		{"restarts exhausted", func(c *ClientConfig) { c.RestartTimeout = time.Second }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := newLossyNet(t, 5*time.Millisecond, int64(20+i))
			tt.cfg(ln.client)
			ln.client.ReconnectTimeout = 30 * time.Second
			ln.server.ReconnectTimeout = 30 * time.Second
			srv := newTestServer(t, ln.server)
			c, s := connect(t, srv, ln.client)
			cutAndRecover(t, srv, c, s, true, cutByLoss(ln))
		})
	}
}

// TestResumeTokenRejected: a resume with a forged, spent or expired token,
// or one for a session that ended, is refused with an error that says
// which; a client refused ends with ErrResumeRejected rather than retrying.
func TestResumeTokenRejected(t *testing.T) {
	// failLink kills the client's PeerConnection, so that it resumes at once.
	failLink := func(c *Client) { _ = c.p.link.Load().rc.close() }
	token := func(c *Client) string { return *c.p.token.Load() }
	setToken := func(c *Client, tok string) { c.p.token.Store(&tok) }

	t.Run("client side", func(t *testing.T) {
		tests := []struct {
			name string
			// prepare returns the token the client will present.
			prepare func(t *testing.T, ctx context.Context, c *Client) string
			want    string
		}{
			{"forged", func(t *testing.T, ctx context.Context, c *Client) string {
				b := []byte(token(c))
				b[3] ^= 1 // one bit of the MAC part or the random part
				return string(b)
			}, "resume token not valid"},
			{"garbage", func(t *testing.T, ctx context.Context, c *Client) string { return "not a token" }, "resume token not valid"},
			{"reused", func(t *testing.T, ctx context.Context, c *Client) string {
				spent := token(c)
				failLink(c)
				waitState(t, ctx, c.StateChanges(), StateResuming)
				waitState(t, ctx, c.StateChanges(), StateConnected)
				if token(c) == spent {
					t.Fatal("the token did not change with the resume")
				}
				return spent
			}, "already used"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := newTestServer(t, nil)
				c, s := connect(t, srv, nil)
				ctx := ctxTimeout(t, 20*time.Second)
				setToken(c, tt.prepare(t, ctx, c))
				failLink(c)
				select {
				case <-c.Done():
				case <-ctx.Done():
					t.Fatal("the client did not give up")
				}
				err := c.Err()
				var ce *CloseError
				if !errors.As(err, &ce) || !errors.Is(err, ErrResumeRejected) || !strings.Contains(ce.Reason, tt.want) {
					t.Fatalf("client closed with %v, want ErrResumeRejected saying %q", err, tt.want)
				}
				t.Logf("client: %v", err)
				if s.Err() != nil {
					t.Fatalf("a refused resume closed the session: %v", s.Err())
				}
				// It waits for its real client.
				waitFor(t, ctx, func() bool { return s.State() == StateResuming }, "the session to wait for a resume")
			})
		}
	})

	// Tokens presented to Accept: how a server explains what a token is
	// (a resume itself only comes over the session's own signaling).
	t.Run("server side", func(t *testing.T) {
		ln := newLossyNet(t, 5*time.Millisecond, 30)
		ln.server.ReconnectTimeout = time.Second
		srv := newTestServer(t, ln.server)
		ctx := ctxTimeout(t, 30*time.Second)

		// A session that gave up waiting for its client.
		ln.client.RestartTimeout = time.Minute
		ln.client.ReconnectTimeout = time.Minute
		c1, s1 := connect(t, srv, ln.client)
		expired := token(c1)
		ln.setLoss(1)
		select {
		case <-s1.Done():
		case <-ctx.Done():
			t.Fatal("the server kept the session past its grace period")
		}
		ln.setLoss(0)
		_ = c1.Close()

		// A session that closed.
		c2, s2 := connect(t, srv, vnetClientConfig(ln.client.Native.Net))
		closed := token(c2)
		_ = s2.Close("game over")
		// Close returns at once; the token is retired as the session is
		// released, which is when the server stops listing it.
		waitFor(t, ctx, func() bool { return !slices.Contains(srv.Sessions(), s2) }, "the closed session to be released")

		// A live session, resumed once.
		c3, _ := connect(t, srv, vnetClientConfig(ln.client.Native.Net))
		spent := token(c3)
		failLink(c3)
		waitState(t, ctx, c3.StateChanges(), StateResuming)
		waitState(t, ctx, c3.StateChanges(), StateConnected)
		live := token(c3)

		// want is what the server's own error says; told, all the client
		// hears: whether its token was spent, expired or its session
		// closed, never when, why, or that a token is some other
		// session's (SECURITY.md).
		tests := []struct {
			name, token, want, told string
		}{
			{"expired", expired, "resume token expired", "resume token expired"},
			{"session closed", closed, "session closed", "session closed"},
			{"reused", spent, "already used", "resume token already used"},
			{"forged", live[:len(live)-2] + "AA", "not issued by this server", "resume token not valid"},
			{"unknown", strings.Repeat("A", len(live)), "not issued by this server", "resume token not valid"},
			{"valid, on a new signaler", live, "over the session's own signaling", "resume token not valid"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				csig, ssig := SignalPipe()
				defer csig.Close()
				if err := csig.WriteSignal(ctx, Signal{Type: SignalOffer, SDP: "v=0", Gen: 1, Resume: tt.token}); err != nil {
					t.Fatal(err)
				}
				_, err := srv.Accept(ctx, ssig)
				if !errors.Is(err, ErrResumeRejected) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Accept = %v, want ErrResumeRejected saying %q", err, tt.want)
				}
				reply, rerr := csig.ReadSignal(ctx)
				if rerr != nil || reply.Type != SignalRefused || reply.Error != tt.told {
					t.Fatalf("the client was told %+v (%v), want refused saying exactly %q", reply, rerr, tt.told)
				}
			})
		}
		if c3.Err() != nil {
			t.Fatalf("the live session suffered: %v", c3.Err())
		}
	})
}

// TestResendBufferOverflow: while reconnecting, events beyond
// Config.EventBuffer end the session with CloseBufferOverflow instead of
// being dropped; while connected the same bound only refuses the send.
func TestResendBufferOverflow(t *testing.T) {
	ln := newLossyNet(t, 5*time.Millisecond, 40)
	ln.client.EventBuffer = 4 << 10
	ln.client.MaxEventSize = 1 << 10
	srv := newTestServer(t, ln.server)
	c, _ := connect(t, srv, ln.client)
	ctx := ctxTimeout(t, 30*time.Second)
	ln.setLoss(1)
	waitState(t, ctx, c.StateChanges(), StateReconnecting)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = c.SendEvent(make([]byte, 1<<10))
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != CloseBufferOverflow || !errors.Is(err, ErrEventBufferFull) {
		t.Fatalf("SendEvent while reconnecting with a full buffer: %v, want CloseBufferOverflow", err)
	}
	t.Logf("closed: %v", err)
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("client still open: %v", c.Err())
	}
}

// BenchmarkResume measures, over vnet with 5 ms one way, the resume path:
// the network is cut until the client declares its connection failed
// (StateResuming) and restored at that moment; the time from then to the
// first event sent during the cut arriving at the server, over a new
// PeerConnection. RestartTimeout is 1 s to keep trials short; it only
// decides when the failure is declared. p50 and p99 in ms.
//
//	go test -run '^$' -bench Resume -benchtime 20x ./netcode/
func BenchmarkResume(b *testing.B) {
	benchOutage(b, func(ln *lossyNet) { ln.client.RestartTimeout = time.Second }, func(ctx context.Context, c *Client) {
		for c.State() != StateResuming {
			select {
			case <-c.StateChanges():
			case <-ctx.Done():
				b.Fatal("never resuming")
			}
		}
	})
}

// TestCheckPath: a path check (what the lobby client asks for when its own
// connection drops or returns) leaves a working connection alone, finds a
// dead one without waiting for the silence or ICE timeouts (set long here,
// so that only the check can notice), and moves a client that is
// restarting ICE on to a resume at once.
func TestCheckPath(t *testing.T) {
	slow := func(c *ClientConfig) {
		c.SilenceTimeout = time.Minute
		c.Native.ICEDisconnectedTimeout = time.Minute
		c.Native.ICEFailedTimeout = 2 * time.Minute
		c.RestartTimeout = time.Minute
	}
	t.Run("working path", func(t *testing.T) {
		ln := newLossyNet(t, 5*time.Millisecond, 50)
		slow(ln.client)
		srv := newTestServer(t, ln.server)
		c, s := connect(t, srv, ln.client)
		c.CheckPath("test")
		// A probe lasts a ping interval and a few round trips; give it two.
		time.Sleep(2 * c.p.probeTimeout())
		if st := c.State(); st != StateConnected {
			t.Fatalf("state %v after checking a working path", st)
		}
		if err := c.SendEvent([]byte("still here")); err != nil {
			t.Fatal(err)
		}
		if ev, err := s.ReadEvent(ctxTimeout(t, 5*time.Second)); err != nil || string(ev) != "still here" {
			t.Fatalf("event after the check: %q, %v", ev, err)
		}
	})
	t.Run("dead path", func(t *testing.T) {
		ln := newLossyNet(t, 5*time.Millisecond, 51)
		slow(ln.client)
		srv := newTestServer(t, ln.server)
		c, _ := connect(t, srv, ln.client)
		ctx := ctxTimeout(t, 30*time.Second)
		ln.setLoss(1)
		c.CheckPath("test")
		sc := waitState(t, ctx, c.StateChanges(), StateReconnecting)
		if !strings.Contains(sc.Reason, "path check") {
			t.Fatalf("reconnecting because %q, want the path check", sc.Reason)
		}
		// Restarting ICE; another check resumes at once.
		c.CheckPath("test again")
		waitState(t, ctx, c.StateChanges(), StateResuming)
		ln.setLoss(0)
		sc = waitState(t, ctx, c.StateChanges(), StateConnected)
		if !strings.Contains(sc.Reason, "resumed") {
			t.Fatalf("connected again because %q, want a resume", sc.Reason)
		}
	})
}
