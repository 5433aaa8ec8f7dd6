//go:build !js

package netcode

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func mp(t *testing.T, v ...any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput feeds a server every kind of bad message from a client that
// bypasses the encoder, and checks for each the documented outcome: the
// offender is closed with the right code and told why, or the message is
// counted and skipped; and a bystander on the same server notices nothing.
func TestBadInput(t *testing.T) {
	srv := newTestServer(t, nil)
	bystander, bySess := connect(t, srv, nil)
	payload := bytes.Repeat([]byte{7}, 8)
	validEvent := mp(t, 1, 16, 1, 0, payload)

	const (
		open   = CloseCode(0xffff) // counted and skipped; the session stays open
		benign = CloseCode(0xfffe) // accepted as is (forward compatibility)
	)
	tests := []struct {
		name     string
		reliable bool
		msg      []byte
		want     CloseCode
	}{
		{"garbage on events", true, []byte{0xff, 0x00}, CloseProtocolError},
		{"garbage on snapshots", false, []byte("hello"), CloseProtocolError},
		{"truncated event", true, validEvent[:len(validEvent)-3], CloseProtocolError},
		{"empty message", true, []byte{}, CloseProtocolError},
		{"bin longer than message", true, []byte{0x95, 1, 16, 1, 0, 0xc6, 0xff, 0xff, 0xff, 0xff}, CloseProtocolError},
		{"string instead of payload", true, mp(t, 1, 16, 1, 0, "text"), CloseProtocolError},
		{"too few fields", true, mp(t, 1, 16, 1), CloseProtocolError},
		{"trailing bytes", true, append(mp(t, 1, 17, 0), 0), CloseProtocolError},
		{"wrong version", true, mp(t, 2, 16, 1, 0, payload), CloseVersionMismatch},
		{"snapshot sent by a client", false, mp(t, 1, 1, 1, payload), CloseProtocolError},
		{"event on the snapshot channel", false, mp(t, 1, 16, 1, 0, payload), CloseProtocolError},
		{"input on the event channel", true, mp(t, 1, 2, 1, payload), CloseProtocolError},
		{"event sequence gap", true, mp(t, 1, 16, 5, 0, payload), CloseProtocolError},
		{"ack of events never sent", true, mp(t, 1, 17, 7), CloseProtocolError},
		{"state ack of a tick never sent", false, mp(t, 1, 6, 3), CloseProtocolError},
		{"input carrying a state ack of a tick never sent", false, mp(t, 1, 2, 1, payload, 3), CloseProtocolError},
		{"close reason too long", true, mp(t, 1, 18, 0, strings.Repeat("x", 300)), CloseProtocolError},
		{"oversized on snapshots", false, mp(t, 1, 2, 1, make([]byte, maxUnreliableSize)), CloseTooLarge},
		{"oversized event within read buffer", true, mp(t, 1, 16, 1, 0, make([]byte, defaultMaxEventSize+1)), CloseTooLarge},
		{"oversized event beyond read buffer", true, mp(t, 1, 16, 1, 0, make([]byte, 200<<10)), CloseTooLarge},
		{"unknown kind on snapshots", false, mp(t, 1, 99, 1, payload), open},
		{"unknown kind on events", true, mp(t, 1, 99), open},
		{"pong with a forged time", false, mp(t, 1, 4, 1, -5), open},
		{"extra trailing field", true, mp(t, 1, 17, 0, "future"), benign},
		{"extra field claiming 2 GiB on events", true, []byte{0x94, 1, 17, 0, 0xdb, 0x7f, 0xff, 0xff, 0xff}, CloseProtocolError},
		{"extra field claiming 4 GiB on snapshots", false, []byte{0x95, 1, 4, 1, 0xfb, 0xc6, 0xff, 0xff, 0xff, 0xff}, CloseProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := connect(t, srv, nil)
			ctx := ctxTimeout(t, 15*time.Second)
			w := c.p.link.Load().u
			if tt.reliable {
				w = c.p.link.Load().r
			}
			if err := w.send(tt.msg); err != nil {
				t.Fatalf("raw write: %v", err)
			}
			if tt.want == open || tt.want == benign {
				if tt.want == open {
					waitFor(t, ctx, func() bool { return s.Stats().Malformed >= 1 }, "the message to be counted")
				}
				// Still open and working: an event round trip.
				if err := c.SendEvent([]byte("still here")); err != nil {
					t.Fatal(err)
				}
				if ev, err := s.ReadEvent(ctx); err != nil || string(ev) != "still here" {
					t.Fatalf("after %s: ReadEvent = %q, %v", tt.name, ev, err)
				}
				if s.Err() != nil {
					t.Fatalf("session closed: %v", s.Err())
				}
				if tt.want == benign && s.Stats().Malformed != 0 {
					t.Fatal("a valid message was counted as malformed")
				}
				return
			}
			select {
			case <-s.Done():
			case <-ctx.Done():
				t.Fatal("session not closed")
			}
			var ce *CloseError
			if err := s.Err(); !errors.As(err, &ce) || ce.Code != tt.want || ce.Remote {
				t.Fatalf("server side: Err = %v, want local close with %v", err, tt.want)
			}
			if s.Stats().Malformed == 0 {
				t.Error("bad message not counted")
			}
			// The offender is told why.
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("client not closed")
			}
			if err := c.Err(); !errors.As(err, &ce) || ce.Code != tt.want || !ce.Remote || ce.Reason == "" {
				t.Fatalf("client side: Err = %v, want a remote close with %v and a reason", err, tt.want)
			}
		})
	}

	// The bystander played on throughout.
	ctx := ctxTimeout(t, 10*time.Second)
	if err := bySess.SendEvent([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if ev, err := bystander.ReadEvent(ctx); err != nil || string(ev) != "ping" {
		t.Fatalf("bystander: %q, %v", ev, err)
	}
	if st := bySess.Stats(); st.Malformed != 0 {
		t.Fatalf("bystander counted %d malformed messages", st.Malformed)
	}
}

// TestDuplicateEventDropped: a resent event (as reconnection will produce)
// is delivered once.
func TestDuplicateEventDropped(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	for _, seq := range []int{1, 1, 2, 1, 3} {
		if err := c.p.link.Load().r.send(mp(t, 1, 16, seq, 0, []byte{byte(seq)})); err != nil {
			t.Fatal(err)
		}
	}
	for want := byte(1); want <= 3; want++ {
		ev, err := s.ReadEvent(ctx)
		if err != nil || len(ev) != 1 || ev[0] != want {
			t.Fatalf("event %d: got %v, %v", want, ev, err)
		}
	}
	if extra := s.ReadEvents(nil); len(extra) != 0 {
		t.Fatalf("duplicates delivered: %v", extra)
	}
}

// TestDuplicateEventReacked: a duplicate is acknowledged again, at once,
// as its sender resent it because it never saw our ack (WIRE.md, "Events
// and acks"); without that, its resend buffer would wait for our next
// event.
func TestDuplicateEventReacked(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	for i := range 3 {
		if err := c.SendEvent([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := s.ReadEvent(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, ctx, func() bool { return c.p.peerAck.Load() == 3 }, "the ack of three events")
	// The ack is lost: the client forgets it and resends the first event.
	c.p.peerAck.Store(0)
	if err := c.p.link.Load().r.send(mp(t, 1, 16, 1, 0, []byte{0})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, func() bool { return c.p.peerAck.Load() == 3 }, "the ack again after a duplicate")
	if extra := s.ReadEvents(nil); len(extra) != 0 {
		t.Fatalf("duplicate delivered: %v", extra)
	}
}

func TestOversizedSnapshotRejected(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, &ClientConfig{Config: Config{MaxUnreliableSize: 600}})
	ctx := ctxTimeout(t, 10*time.Second)

	tests := []struct {
		name string
		send func([]byte) error
		size int
		want error
	}{
		{"snapshot at the default budget", s.SendSnapshot, 1180, nil},
		{"snapshot over the default budget", s.SendSnapshot, 1200, ErrTooLarge},
		{"snapshot whose header tips it over", s.SendSnapshot, 1197, ErrTooLarge},
		{"broadcast over the budget", srv.Broadcast, 1201, ErrTooLarge},
		{"input over the client's budget", c.SendInput, 600, ErrTooLarge},
		{"input within the client's budget", c.SendInput, 500, nil},
		{"event over MaxEventSize", c.SendEvent, defaultMaxEventSize + 1, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send(make([]byte, tt.size))
			if !errors.Is(err, tt.want) {
				t.Fatalf("send %d bytes: %v, want %v", tt.size, err, tt.want)
			}
		})
	}
	// A refused send does not use up a sequence number: the receiver sees
	// no gap, and the connection is unharmed.
	snap, err := c.ReadSnapshot(ctx)
	if err != nil || snap.Seq != 1 || len(snap.Payload) != 1180 {
		t.Fatalf("ReadSnapshot = seq %d, %d bytes, %v", snap.Seq, len(snap.Payload), err)
	}
	in, err := s.ReadInput(ctx)
	if err != nil || in.Seq != 1 {
		t.Fatalf("ReadInput = %+v, %v", in, err)
	}
	if st := c.Stats(); st.Lost != 0 || st.SnapshotsReceived != 1 {
		t.Fatalf("client stats %+v", st)
	}
}

// TestServerRefusesMisconfiguredChannels: a client whose snapshot channel
// would be reliable (the silent pion trap) or that speaks another protocol
// is refused at Accept.
func TestServerRefusesMisconfiguredChannels(t *testing.T) {
	srv := newTestServer(t, nil)
	// with is info under another label or protocol.
	with := func(info ChannelInfo, label, proto string) ChannelInfo {
		info.Label, info.Protocol = label, proto
		return info
	}
	tests := []struct {
		name      string
		snapshots ChannelInfo
		events    ChannelInfo
		reason    string // what the client is told
	}{
		{"reliable snapshots", with(eventsInit(), labelSnapshots, protocolName), eventsInit(), `"snapshots" channel must be unordered`},
		{"unreliable events", snapshotsInit(), with(snapshotsInit(), labelEvents, protocolName), `"events" channel must be ordered and reliable`},
		{"other protocol", with(snapshotsInit(), labelSnapshots, "other.v9"), eventsInit(), `speaks "other.v9"`},
		{"unknown label", snapshotsInit(), with(eventsInit(), "chat", protocolName), `unknown channel "chat"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t, 10*time.Second)
			csig, ssig := SignalPipe()
			accepted := make(chan error, 1)
			go func() {
				_, err := srv.Accept(ctx, ssig)
				accepted <- err
			}()
			dialCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			c, err := dialWith(dialCtx, csig, nil, tt.snapshots, tt.events)
			if err == nil {
				// Our channels open before the server sees them: the
				// refusal may come just after.
				select {
				case <-c.p.done:
				case <-dialCtx.Done():
				}
				err = c.Err()
				_ = c.Close()
			}
			// The client learns why, over the signaling, rather than see
			// its channels open and close.
			var ce *CloseError
			if !errors.Is(err, ErrRefused) || !errors.As(err, &ce) || ce.Code != CloseProtocolError || !ce.Remote || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("Dial = %v, want ErrRefused with code 2 and %q", err, tt.reason)
			}
			if err := <-accepted; !errors.Is(err, ErrProtocol) {
				t.Errorf("Accept = %v, want ErrProtocol", err)
			}
		})
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

func TestAcceptBadSignaling(t *testing.T) {
	srv := newTestServer(t, nil)
	tests := []struct {
		name string
		sig  Signal
	}{
		{"answer first", Signal{Type: SignalAnswer, SDP: "v=0"}},
		{"candidate first", Signal{Type: SignalCandidate}},
		{"garbage SDP", Signal{Type: SignalOffer, SDP: "not sdp"}},
		{"oversized SDP", Signal{Type: SignalOffer, SDP: strings.Repeat("a", maxSDPSize+1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t, 5*time.Second)
			csig, ssig := SignalPipe()
			defer csig.Close()
			if err := csig.WriteSignal(ctx, tt.sig); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Accept(ctx, ssig); !errors.Is(err, ErrSignaling) {
				t.Fatalf("Accept = %v, want ErrSignaling", err)
			}
		})
	}
}

func waitFor(t testing.TB, ctx context.Context, cond func() bool, what string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
