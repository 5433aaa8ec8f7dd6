//go:build !js

package netcode

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 10*time.Second)

	if err := c.SendEvent([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ev, err := s.ReadEvent(ctx)
	if err != nil || string(ev) != "hello" {
		t.Fatalf("server ReadEvent = %q, %v", ev, err)
	}
	if err := s.SendEvent([]byte("welcome")); err != nil {
		t.Fatal(err)
	}
	ev, err = c.ReadEvent(ctx)
	if err != nil || string(ev) != "welcome" {
		t.Fatalf("client ReadEvent = %q, %v", ev, err)
	}
	if err := c.SendInput([]byte("left")); err != nil {
		t.Fatal(err)
	}
	in, err := s.ReadInput(ctx)
	if err != nil || string(in.Payload) != "left" || in.Seq != 1 {
		t.Fatalf("ReadInput = %+v, %v", in, err)
	}
	if err := s.SendSnapshot([]byte("state")); err != nil {
		t.Fatal(err)
	}
	snap, err := c.ReadSnapshot(ctx)
	if err != nil || !bytes.Equal(snap.Payload, []byte("state")) || snap.Seq != 1 {
		t.Fatalf("ReadSnapshot = %+v, %v", snap, err)
	}
	if len(srv.Sessions()) != 1 {
		t.Fatalf("Sessions() = %d, want 1", len(srv.Sessions()))
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session did not see the client close")
	}
	var ce *CloseError
	if err := s.Err(); !errors.As(err, &ce) || !ce.Remote || ce.Code != CloseNormal {
		t.Fatalf("session Err = %v, want remote normal close", err)
	}
	if err := c.SendInput([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendInput after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// TestEventAckRace: on loopback the server can receive an event and ack it
// (in its echo) before the client's SendEvent has returned; the client must
// not take that ack for one of an event it never sent. Many quick echo
// rounds make the window likely to be hit.
func TestEventAckRace(t *testing.T) {
	srv := newTestServer(t, nil)
	c, s := connect(t, srv, nil)
	ctx := ctxTimeout(t, 60*time.Second)
	const rounds = 2000
	go func() {
		for range rounds {
			ev, err := s.ReadEvent(ctx)
			if err != nil {
				return
			}
			if s.SendEvent(ev) != nil {
				return
			}
		}
	}()
	for i := range rounds {
		if err := c.SendEvent([]byte{byte(i)}); err != nil {
			t.Fatalf("round %d: SendEvent: %v", i, err)
		}
		if _, err := c.ReadEvent(ctx); err != nil {
			t.Fatalf("round %d: ReadEvent: %v", i, err)
		}
	}
}
