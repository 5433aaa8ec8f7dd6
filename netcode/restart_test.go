//go:build !js

package netcode

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestICERestartRecovers: all traffic blocked for 3 s mid-game, then let
// through again. The client notices (ICE disconnected after 2 s), restarts
// ICE over the signaling, and the same session carries on: the events both
// sides sent during the cut arrive exactly once and in order, and both
// sides report reconnecting and then connected.
func TestICERestartRecovers(t *testing.T) {
	ln := newLossyNet(t, 5*time.Millisecond, 3)
	srv := newTestServer(t, ln.server)
	c, s := connect(t, srv, ln.client)
	cutAndRecover(t, srv, c, s, false, cutByLoss(ln))
}

// cutAndRecover plays a session through a cut of every packet, made and
// mended by setCut, and checks the recovery. The cut lasts 3 s (an ICE
// restart recovers the same PeerConnection), or with resume until the
// client declares its connection failed (a new PeerConnection resumes the
// session). Either way both sides report the trouble and then connected,
// the events both sides sent before, during and after the cut arrive
// exactly once and in order, it is still the same session, and snapshots
// and inputs flow, numbered on from before; after a resume the client does
// not hand out the snapshot it held from before the cut.
func cutAndRecover(t *testing.T, srv *Server, c *Client, s *Session, resume bool, setCut func(cut bool)) {
	t.Helper()
	const before, during, after = 20, 30, 20
	ctx := ctxTimeout(t, 60*time.Second)
	send := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			if err := c.SendEvent(numbered(i, 64)); err != nil {
				t.Fatalf("client SendEvent %d: %v", i, err)
			}
			if err := s.SendEvent(numbered(i, 64)); err != nil {
				t.Fatalf("server SendEvent %d: %v", i, err)
			}
		}
	}
	send(1, before)
	if err := s.SendSnapshot([]byte("before")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool { return c.Stats().SnapshotsReceived == 1 }, "the snapshot before the cut")

	trouble := StateReconnecting
	if resume {
		trouble = StateResuming
	}
	setCut(true)
	cutAt := time.Now()
	for i := before + 1; i <= before+during; i++ {
		send(i, i)
		time.Sleep(50 * time.Millisecond)
	}
	waitState(t, ctx, c.StateChanges(), trouble)
	if left := 3*time.Second - time.Since(cutAt); left > 0 && !resume {
		time.Sleep(left)
	}
	setCut(false)
	back := time.Now()
	waitState(t, ctx, c.StateChanges(), StateConnected)
	t.Logf("client connected again %v after the network came back", time.Since(back))
	if snap, ok := c.TryReadSnapshot(); ok == resume {
		t.Errorf("after recovery the client holds the snapshot from before: %v (%q), want %v", ok, snap.Payload, !resume)
	}
	send(before+during+1, before+during+after)

	const n = before + during + after
	errc := make(chan error, 1)
	go func() { errc <- checkEvents(ctx, c.ReadEvent, n) }()
	if err := checkEvents(ctx, s.ReadEvent, n); err != nil {
		t.Errorf("client to server: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("server to client: %v", err)
	}
	t.Logf("all %d events both ways %v after the network came back", n, time.Since(back))
	if extra := s.ReadEvents(nil); len(extra) != 0 {
		t.Errorf("%d extra events at the server", len(extra))
	}
	if extra := c.ReadEvents(nil); len(extra) != 0 {
		t.Errorf("%d extra events at the client", len(extra))
	}
	if c.Err() != nil || s.Err() != nil || c.State() != StateConnected {
		t.Fatalf("after recovery: client %v (%v), server %v", c.Err(), c.State(), s.Err())
	}
	if got := srv.Sessions(); len(got) != 1 || got[0] != s {
		t.Fatalf("sessions %v, want the same one session", got)
	}
	waitState(t, ctx, s.StateChanges(), trouble)
	waitState(t, ctx, s.StateChanges(), StateConnected)
	select {
	case <-s.Done():
		t.Fatal("Session.Done closed by the recovery")
	default:
	}
	cs, ss := c.Stats(), s.Stats()
	if want := map[bool]uint64{false: 0, true: 1}[resume]; cs.Resumes != want || ss.Resumes != want {
		t.Errorf("Resumes: client %d, server %d, want %d", cs.Resumes, ss.Resumes, want)
	}
	t.Logf("restarts %d; resent: client %d, server %d", cs.Restarts, cs.EventsResent, ss.EventsResent)

	if err := s.SendSnapshot([]byte("after")); err != nil {
		t.Fatal(err)
	}
	snap, err := c.ReadSnapshot(ctx)
	if err != nil || string(snap.Payload) != "after" || snap.Seq != 2 {
		t.Fatalf("snapshot after recovery: seq %d %q, %v; want seq 2 \"after\"", snap.Seq, snap.Payload, err)
	}
	if err := c.SendInput([]byte("in")); err != nil {
		t.Fatal(err)
	}
	if in, err := s.ReadInput(ctx); err != nil || string(in.Payload) != "in" {
		t.Fatalf("input after recovery: %q, %v", in.Payload, err)
	}
}

// cutByLoss cuts ln completely, or mends it.
func cutByLoss(ln *lossyNet) func(cut bool) {
	return func(cut bool) {
		if cut {
			ln.setLoss(1)
		} else {
			ln.setLoss(0)
		}
	}
}

// TestReconnectTimeout: a path that never comes back ends the session on
// both sides with CloseConnectionLost, within ReconnectTimeout.
func TestReconnectTimeout(t *testing.T) {
	ln := newLossyNet(t, 5*time.Millisecond, 4)
	ln.server.ReconnectTimeout = 3 * time.Second
	ln.client.ReconnectTimeout = 3 * time.Second
	srv := newTestServer(t, ln.server)
	c, s := connect(t, srv, ln.client)
	ln.setLoss(1)
	for _, done := range []<-chan struct{}{c.Done(), s.Done()} {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("still open 30 s into a permanent cut")
		}
	}
	for _, err := range []error{c.Err(), s.Err()} {
		ce, ok := err.(*CloseError)
		if !ok || ce.Code != CloseConnectionLost {
			t.Fatalf("closed with %v, want CloseConnectionLost", err)
		}
	}
	if c.State() != StateClosed {
		t.Fatalf("client state %v", c.State())
	}
}

// waitState reads state changes until want, and returns that change.
func waitState(t *testing.T, ctx context.Context, ch <-chan StateChange, want State) StateChange {
	t.Helper()
	for {
		select {
		case sc := <-ch:
			t.Logf("state %v: %s", sc.State, sc.Reason)
			if sc.State == want {
				return sc
			}
		case <-ctx.Done():
			t.Fatalf("no %v state", want)
		}
	}
}

// BenchmarkICERestart measures, over vnet with 5 ms one way, the time from
// the network coming back after a 3 s cut to the first event sent during
// the cut arriving, through an ICE restart on the same session. One trial
// per iteration; p50 and p99 in ms.
//
//	go test -run '^$' -bench ICERestart -benchtime 20x ./netcode/
func BenchmarkICERestart(b *testing.B) {
	benchOutage(b, nil, func(ctx context.Context, c *Client) { time.Sleep(3 * time.Second) })
}

// benchOutage runs one trial per iteration: cut the network, send an event,
// wait out the outage, mend the network, and time the event's arrival at
// the server. It reports p50 and p99 in ms.
func benchOutage(b *testing.B, cfg func(ln *lossyNet), outage func(ctx context.Context, c *Client)) {
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		ln := newLossyNet(b, 5*time.Millisecond, int64(i))
		if cfg != nil {
			cfg(ln)
		}
		srv := newTestServer(b, ln.server)
		c, s := connect(b, srv, ln.client)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ln.setLoss(1)
		if err := c.SendEvent([]byte("during the cut")); err != nil {
			b.Fatal(err)
		}
		outage(ctx, c)
		ln.setLoss(0)
		back := time.Now()
		if _, err := s.ReadEvent(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(back))
		cancel()
		_ = c.Close()
		_ = srv.Close()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100])/1e6, "p99-ms")
}

// TestServerRestartReportsLost: the server goes away for good, without a
// word (its close message cannot get through). The client notices and
// reports the connection lost, and nothing of it keeps running (the goleak
// check of TestMain). With the signaling still up (as the lobby keeps it),
// it first makes its bounded ICE restarts and resume attempts, which go
// unanswered; with the signaling gone too, it gives up at once.
func TestServerRestartReportsLost(t *testing.T) {
	tests := []struct {
		name         string
		keepSignals  bool
		wantStates   []State
		reasonSubstr string
	}{
		{"signaling up", true, []State{StateReconnecting, StateResuming, StateClosed}, "no connection for 3s"},
		{"signaling gone", false, []State{StateClosed}, "signaling to recover over is gone"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := newLossyNet(t, 5*time.Millisecond, int64(5+i))
			ln.client.ReconnectTimeout = 3 * time.Second
			ln.client.RestartTimeout = time.Second
			srv, err := NewServer(ln.server)
			if err != nil {
				t.Fatal(err)
			}
			var c *Client
			if tt.keepSignals {
				c, _ = connectWrapped(t, srv, ln.client, func(s Signaler) Signaler { return &outliving{Signaler: s, done: make(chan struct{})} })
			} else {
				c, _ = connect(t, srv, ln.client)
			}
			ctx := ctxTimeout(t, 30*time.Second)
			ln.setLoss(1)
			_ = srv.Close()
			for _, st := range tt.wantStates {
				waitState(t, ctx, c.StateChanges(), st)
			}
			ce, ok := c.Err().(*CloseError)
			if !ok || ce.Code != CloseConnectionLost || ce.Remote || !strings.Contains(ce.Reason, tt.reasonSubstr) {
				t.Fatalf("client closed with %v, want CloseConnectionLost decided locally, %q", c.Err(), tt.reasonSubstr)
			}
			if err := c.SendEvent([]byte("x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("SendEvent after lost: %v", err)
			}
			_ = c.Close()
		})
	}
}

// TestHangUpIsNotLost: a peer that closes on purpose sends its close
// message and takes the association down, and each channel reports its
// end once it has delivered what it holds; the snapshot channel's end may
// come first. Until the events channel has ended, or for a bound, that is
// no lost connection: a client without signaling would otherwise give up
// with CloseConnectionLost just before the peer's own reason arrives.
func TestHangUpIsNotLost(t *testing.T) {
	tests := []struct {
		name     string
		ago      time.Duration // since the first channel ended
		rEnded   bool          // the events channel has ended too
		wantLost bool
	}{
		{"snapshots ended, events not yet", 0, false, false},
		{"events ended too", 0, true, true},
		{"events never ended", closeFlushTimeout + time.Millisecond, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPeer(t)
			l := &link{down: make(chan struct{})}
			l.open.Store(true)
			l.iceState.Store(int32(iceConnected))
			p.link.Store(l)
			p.lastRecv.Store(p.now())
			p.sigEnd.Store(true)
			l.broken.Store(true)
			l.chClosedAt.Store(p.now() - int64(tt.ago))
			l.rEnded.Store(tt.rEnded)

			var r recovery
			next := r.step(p, time.Now())
			if lost := p.isClosing(); lost != tt.wantLost {
				t.Fatalf("closed = %v (%v), want %v", lost, p.Err(), tt.wantLost)
			}
			if tt.wantLost {
				if ce, ok := p.Err().(*CloseError); !ok || ce.Code != CloseConnectionLost {
					t.Fatalf("closed with %v, want CloseConnectionLost", p.Err())
				}
				return
			}
			if want := p.epoch.Add(time.Duration(l.chClosedAt.Load()) + closeFlushTimeout); next.Before(want) {
				t.Fatalf("looks again at %v, want once the bound has passed (%v)", next, want)
			}
		})
	}
}

// outliving is the client's end of a signaling path that outlives the
// server (as the lobby's does): once the other end is gone, writes vanish
// and reads wait for Close.
type outliving struct {
	Signaler
	once sync.Once
	done chan struct{}
}

func (o *outliving) WriteSignal(ctx context.Context, s Signal) error {
	_ = o.Signaler.WriteSignal(ctx, s)
	return nil
}

func (o *outliving) ReadSignal(ctx context.Context) (Signal, error) {
	s, err := o.Signaler.ReadSignal(ctx)
	if err == nil || ctx.Err() != nil {
		return s, err
	}
	select {
	case <-o.done:
		return Signal{}, ErrClosed
	case <-ctx.Done():
		return Signal{}, ctx.Err()
	}
}

func (o *outliving) Close() error {
	o.once.Do(func() { close(o.done) })
	return o.Signaler.Close()
}

// TestServerAskedRestart: Session.RestartICE makes the client restart ICE
// on a working connection; both report reconnecting and connected again,
// and events keep their order across it.
func TestServerAskedRestart(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 20*time.Second)
	for i := 1; i <= 10; i++ {
		if err := s.SendEvent(numbered(i, 32)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RestartICE(); err != nil {
		t.Fatal(err)
	}
	waitState(t, ctx, c.StateChanges(), StateReconnecting)
	waitState(t, ctx, c.StateChanges(), StateConnected)
	for i := 11; i <= 20; i++ {
		if err := s.SendEvent(numbered(i, 32)); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkEvents(ctx, c.ReadEvent, 20); err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().Restarts; n != 1 {
		t.Fatalf("client Restarts = %d, want 1", n)
	}
	waitState(t, ctx, s.StateChanges(), StateReconnecting)
	waitState(t, ctx, s.StateChanges(), StateConnected)
	_ = s.Close("done")
	if err := s.RestartICE(); !errors.Is(err, ErrClosed) {
		t.Fatalf("RestartICE after Close: %v", err)
	}
}
