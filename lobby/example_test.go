//go:build !js

package lobby_test

import (
	"context"
	"log"
	"net/http"

	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

// A lobby with its game server in the same process: the embedded default.
func ExampleServer() {
	srv, err := lobby.NewServer(&lobby.Config{
		Modes: map[string]lobby.Mode{"duel": {MinPlayers: 2, MaxPlayers: 2}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ns, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	ctx := context.Background()
	gs, err := srv.AttachGameServer(ctx, ns, &lobby.GameServerConfig{Capacity: 100})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			p, err := gs.Accept(ctx)
			if err != nil {
				return
			}
			log.Printf("%s joined room %s", p.Name, p.Room)
			_ = p.Session.SendEvent([]byte("welcome"))
		}
	}()
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", srv))
}

// A player: a guest token, a place in the queue, then the game.
func ExampleDial() {
	ctx := context.Background()
	const url = "http://127.0.0.1:8080"
	token, err := lobby.GuestToken(ctx, url, "ada")
	if err != nil {
		log.Fatal(err)
	}
	c, err := lobby.Dial(ctx, url, token, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Queue(ctx, "duel", "", 1500); err != nil {
		log.Fatal(err)
	}
	m, err := c.WaitMatch(ctx)
	if err != nil {
		log.Fatal(err)
	}
	game, err := c.Connect(ctx, m, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer game.Close()
	for {
		snap, err := game.ReadSnapshot(ctx)
		if err != nil {
			return
		}
		_ = snap.Payload // draw it
	}
}
