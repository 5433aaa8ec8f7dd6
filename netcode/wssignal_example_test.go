//go:build !js

package netcode_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// A game server without a lobby: its players' signaling comes over a
// WebSocket the game serves on its own HTTP server, and each player gets
// there with DialSignaler.
func ExampleNewSignalHandler() {
	srv, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	players := make(chan *netcode.Session, 1)
	h, err := netcode.NewSignalHandler(srv, func(sess *netcode.Session, r *http.Request) {
		players <- sess // the game takes it from here
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	hs := httptest.NewServer(h) // a game: http.ListenAndServe(":8080", h)
	defer hs.Close()

	// A player, native or in the browser.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sig, err := netcode.DialSignaler(ctx, hs.URL, nil) // "ws://host:8080/"
	if err != nil {
		log.Fatal(err)
	}
	client, err := netcode.Dial(ctx, sig, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	sess := <-players
	_ = sess.SendEvent([]byte("welcome"))
	ev, _ := client.ReadEvent(ctx)
	fmt.Printf("player got %q\n", ev)
	// Output: player got "welcome"
}
