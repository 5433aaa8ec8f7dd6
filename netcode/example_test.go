//go:build !js

package netcode_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// A server and a client in one process, joined by an in-memory signaling
// pipe: the shape of every Tickwire program.
func Example() {
	srv, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clientSig, serverSig := netcode.SignalPipe()
	sessions := make(chan *netcode.Session, 1)
	go func() {
		sess, err := srv.Accept(ctx, serverSig)
		if err != nil {
			log.Fatal(err)
		}
		sessions <- sess
	}()
	client, err := netcode.Dial(ctx, clientSig, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sess := <-sessions

	// Reliable and ordered, both ways.
	_ = client.SendEvent([]byte("ready"))
	ev, _ := sess.ReadEvent(ctx)
	fmt.Printf("server got event %q\n", ev)

	// Unreliable and unordered: newest wins.
	_ = sess.SendSnapshot([]byte("x=1 y=2"))
	snap, _ := client.ReadSnapshot(ctx)
	fmt.Printf("client got snapshot %d: %s\n", snap.Seq, snap.Payload)
	// Output:
	// server got event "ready"
	// client got snapshot 1: x=1 y=2
}

// A game server's tick loop: drain inputs and events without waiting, then
// send every player the new state.
func ExampleSession_ReadInputs() {
	srv, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	var inputs []netcode.Input
	var events [][]byte
	for range 3 {
		<-tick.C
		for _, sess := range srv.Sessions() {
			inputs = sess.ReadInputs(inputs[:0])
			events = sess.ReadEvents(events[:0])
			_ = inputs // apply them to the game state
			_ = events
		}
		// A congested client simply misses this snapshot.
		if err := srv.Broadcast([]byte("state")); err != nil {
			log.Print(err)
		}
	}
	fmt.Println("ticked")
	// Output: ticked
}

// A game reacts to the connection's changes: it pauses on trouble and goes
// on when the same session is back, by an ICE restart or a resume. Nothing
// has to be sent again: events sent meanwhile arrive once the connection is
// back.
func ExampleClient_StateChanges() {
	var client *netcode.Client // from netcode.Dial or lobby.Client.Connect
	for sc := range client.StateChanges() {
		switch sc.State {
		case netcode.StateReconnecting, netcode.StateResuming:
			fmt.Println("connection trouble, holding on:", sc.Reason)
		case netcode.StateConnected:
			fmt.Println("playing:", sc.Reason) // "channels open", "path back", "resumed on a new connection"
		case netcode.StateClosed:
			fmt.Println("game over:", client.Err())
			return
		}
	}
}
