//go:build !js

package netcode_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// Ship is an entity type: its tags say how each field travels. X and Y
// go to the centimetre within ±1000 m (18 bits each), the heading in
// 10 bits, the hull in 7; Name travels as text and is played out as is.
type Ship struct {
	X, Y    float64 `tw:"float,min=-1000,max=1000,step=0.01"`
	Heading float64 `tw:"angle,bits=10"`
	Hull    int     `tw:"int,min=0,max=100"`
	Name    string  `tw:"string,max=16"`
	Docked  bool
}

// A server replicates a world of ships to a client: the game changes
// entities and ticks; the client reads what changed, and draws the world
// interpolated at its frame time.
func ExampleWorld() {
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

	// The server: one World per room, its types registered once.
	world, err := netcode.NewWorld(nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := world.Register("ship", Ship{}); err != nil {
		log.Fatal(err)
	}
	world.Join(<-sessions)
	_ = world.Set(1, Ship{X: 10.5, Y: -3, Hull: 100, Name: "Rocinante"})
	_ = world.Set(2, Ship{X: 0, Y: 0, Hull: 80, Name: "Tachi", Docked: true})
	if err := world.Tick(); err != nil { // once per game tick
		log.Fatal(err)
	}

	// The client: what changed, then the world at the frame's time.
	u, err := client.World().Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("tick", u.Tick, "created", u.Created)
	frame := client.World().At(time.Now())
	for _, id := range frame.Entities() {
		e, _ := frame.Entity(id)
		var s Ship
		_ = e.Decode(&s)
		fmt.Printf("%s %d: %s at (%.2f, %.2f), hull %d, docked %v\n", e.Type(), id, s.Name, s.X, s.Y, s.Hull, s.Docked)
	}
	// Output:
	// tick 1 created [1 2]
	// ship 1: Rocinante at (10.50, -3.00), hull 100, docked false
	// ship 2: Tachi at (0.00, 0.00), hull 80, docked true
}
