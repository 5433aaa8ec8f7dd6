package netcode

import (
	"context"
	"testing"
	"time"
)

// TestSignalPipeDeliversBeforeClose: a signal written before the pipe is
// closed reaches a reader already waiting, never ErrClosed in its place
// (FuzzAccept saw a resume's refusal lost that way, once, under load).
func TestSignalPipeDeliversBeforeClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 2000 {
		client, server := SignalPipe()
		got := make(chan error, 1)
		go func() {
			_, err := client.ReadSignal(ctx)
			got <- err
		}()
		time.Sleep(time.Microsecond) // let the reader wait, mostly
		if err := server.WriteSignal(ctx, Signal{Type: SignalRefused, Error: "no"}); err != nil {
			t.Fatal(err)
		}
		_ = server.Close()
		if err := <-got; err != nil {
			t.Fatalf("round %d: the reader got %v, not the signal written before the close", i, err)
		}
	}
}
