//go:build !js

package netcode

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// TestAckHold: how long a state's ack waits for an input, from the game's
// inputs so far (REPLICATION.md, "Acks").
func TestAckHold(t *testing.T) {
	ms := func(n int) int64 { return int64(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name      string
		last, gap int64 // the last input, this long ago, and the gap before it (0: none)
		want      time.Duration
	}{
		{"no input yet", 0, 0, 0},
		{"one input", ms(5), 0, 0},
		{"inputs 10 ms apart", ms(5), ms(10), 10 * time.Millisecond},
		{"inputs 50 ms apart", ms(5), ms(50), maxAckHold},
		{"inputs stopped", inputRecent.Nanoseconds() + 1, ms(10), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPeer(t)
			now := p.now() + ms(1000)
			if tt.last != 0 {
				p.lastInput.Store(now - tt.last)
			}
			p.inputGap.Store(tt.gap)
			if got := p.ackHold(now); got != tt.want {
				t.Fatalf("ackHold = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAckState: an ack held for an input is replaced by a newer one
// without a later deadline, leaves with the input that carries it, and
// stays when the input carried an older one; without inputs it goes alone.
func TestAckState(t *testing.T) {
	p := newTestPeer(t)
	l := &link{encU: wire.NewEncoder()}

	p.ackState(l, nil, 3)
	if p.ackTick.Load() != 0 || p.stats.stateAcksAlone.Load() != 1 {
		t.Fatalf("without inputs: held %d, %d sent alone; want none held, one alone", p.ackTick.Load(), p.stats.stateAcksAlone.Load())
	}

	p.inputSent(0)
	time.Sleep(2 * time.Millisecond)
	p.inputSent(0) // inputs flow: acks are held
	p.ackState(l, nil, 4)
	by := p.ackBy.Load()
	if p.ackTick.Load() != 4 || by <= p.now() {
		t.Fatalf("held %d until %d (now %d), want 4 until later", p.ackTick.Load(), by, p.now())
	}
	p.ackState(l, nil, 5)
	if p.ackTick.Load() != 5 || p.ackBy.Load() != by {
		t.Fatalf("after a newer state: held %d until %d, want 5 until %d", p.ackTick.Load(), p.ackBy.Load(), by)
	}
	p.inputSent(4) // an input that took the older ack
	if p.ackTick.Load() != 5 {
		t.Fatalf("an input carrying ack 4 released ack %d", p.ackTick.Load())
	}
	p.inputSent(5)
	if p.ackTick.Load() != 0 || p.stats.stateAcksAlone.Load() != 1 || !p.ackDeadline().IsZero() {
		t.Fatalf("after the input carrying it: held %d, %d alone, deadline %v", p.ackTick.Load(), p.stats.stateAcksAlone.Load(), p.ackDeadline())
	}
}

// TestAckDueWithoutLink: a held ack whose time is up while no connection
// is open is dropped, not kept with a deadline in the past (which spun the
// run loop until a resume opened a link: in the browser, the page's only
// thread, so the resume never came).
func TestAckDueWithoutLink(t *testing.T) {
	p := newTestPeer(t)
	l := &link{encU: wire.NewEncoder()} // not open: resuming
	p.ackTick.Store(7)
	p.ackBy.Store(p.now() - 1)
	p.flushAck(l, wire.NewEncoder())
	if p.ackTick.Load() != 0 || !p.ackDeadline().IsZero() {
		t.Fatalf("after its time with no link: held %d, deadline %v; want dropped", p.ackTick.Load(), p.ackDeadline())
	}
	if p.stats.stateAcksAlone.Load() != 0 {
		t.Fatal("counted as sent")
	}
}

// TestStateAcksRideOnInputs: a client whose game sends inputs acks the
// server's states on them, and one whose game sends none acks each alone;
// either way the server learns of the newest state, the last held ack
// leaving alone once the inputs stop.
func TestStateAcksRideOnInputs(t *testing.T) {
	for _, inputs := range []bool{false, true} {
		t.Run(fmt.Sprintf("inputs=%v", inputs), func(t *testing.T) {
			srv := newTestServer(t, nil)
			c, s := connect(t, srv, nil)
			g := newWorldGame(t, &WorldConfig{Budget: 1200}, 20)
			g.w.Join(s)
			ctx := ctxTimeout(t, 30*time.Second)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if inputs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := time.NewTicker(10 * time.Millisecond)
					defer in.Stop()
					for {
						select {
						case <-stop:
							return
						case <-in.C:
							_ = c.SendInput([]byte{1})
						}
					}
				}()
			}
			tick := time.NewTicker(time.Second / 30)
			defer tick.Stop()
			for i := range 30 {
				<-tick.C
				g.step()
				if err := g.w.Tick(); err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
			}
			close(stop)
			wg.Wait()
			waitFor(t, ctx, func() bool { return c.World().Tick() == g.w.tick && s.p.stateAck.Load() == g.w.tick },
				"the server to see the newest state acknowledged")
			riding, alone := s.p.stats.stateAcksRiding.Load(), s.p.stats.stateAcksAlone.Load()
			t.Logf("%d acks on inputs, %d alone, %d states", riding, alone, c.Stats().StatesReceived)
			if inputs && riding == 0 {
				t.Errorf("no ack rode on the game's inputs (%d alone)", alone)
			}
			if !inputs && (riding != 0 || alone == 0) {
				t.Errorf("without inputs: %d acks on inputs, %d alone; want all alone", riding, alone)
			}
		})
	}
}
