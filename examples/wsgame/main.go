// Command wsgame is a Tickwire game without a lobby: the game server
// serves its players' signaling over a WebSocket on its own HTTP server
// (netcode.SignalHandler), and a player dials it (netcode.DialSignaler).
// The game is tiny: each player walks a grid, the server sends everyone
// the positions 20 times a second, and chat lines go to everyone as events.
//
//	go run ./examples/wsgame serve                 # a game server on 127.0.0.1:8080
//	go run ./examples/wsgame play -name ada        # a player, in another terminal
//	go run ./examples/wsgame                       # both, and two players, for 5 s
//
// serve -addr and -udp put the server on other addresses; play -url names
// another server (ws:// or wss://, /play).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	cmd := "demo"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:8080", "HTTP address players reach the signaling on")
		udp := fs.String("udp", "127.0.0.1:0", "UDP address of the game traffic (one port for every player)")
		_ = fs.Parse(os.Args[2:])
		err = serve(ctx, *addr, *udp, nil)
	case "play":
		fs := flag.NewFlagSet("play", flag.ExitOnError)
		url := fs.String("url", "ws://127.0.0.1:8080/play", "the game server's signaling URL")
		name := fs.String("name", "player", "what others see you as")
		duration := fs.Duration("duration", 10*time.Second, "how long to play (0 = until Ctrl-C)")
		_ = fs.Parse(os.Args[2:])
		err = play(ctx, *url, *name, *duration)
	case "demo":
		err = demo(ctx)
	default:
		fmt.Fprintln(os.Stderr, "usage: wsgame [serve [-addr host:port] [-udp host:port] | play [-url ws://...] [-name NAME] [-duration D]]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// serve runs the game server until ctx ends. ready, if not nil, gets the
// signaling URL once players can connect.
func serve(ctx context.Context, addr, udp string, ready chan<- string) error {
	srv, err := netcode.NewServer(&netcode.ServerConfig{UDPAddr: udp})
	if err != nil {
		return err
	}
	g := &game{players: map[*netcode.Session]*player{}}
	// This is all the signaling a game needs: each player's WebSocket
	// becomes a Session, handed to the game with the request it came on.
	h, err := netcode.NewSignalHandler(srv, func(sess *netcode.Session, r *http.Request) {
		g.join(sess, r.URL.Query().Get("name"))
	}, nil)
	if err != nil {
		_ = srv.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/play", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = srv.Close()
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "ws://" + ln.Addr().String() + "/play"
	fmt.Printf("server: players connect to %s; game traffic on udp %s\n", url, srv.UDPAddr())
	if ready != nil {
		ready <- url
	}

	g.run(ctx, srv)

	// The players first, told the server is going; then the WebSockets;
	// then the HTTP server.
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	_ = h.Close()
	_ = hs.Shutdown(shut)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Println("server: shut down")
	return nil
}

// game is the authoritative state. The accept callback adds players from
// the handler's goroutines; the tick loop does everything else.
type game struct {
	mu      sync.Mutex
	players map[*netcode.Session]*player
}

type player struct {
	name string
	x, y int
}

func (g *game) join(sess *netcode.Session, name string) {
	if name == "" || len(name) > 16 {
		name = "player-" + sess.ID()[:4]
	}
	g.mu.Lock()
	g.players[sess] = &player{name: name}
	g.mu.Unlock()
	fmt.Printf("server: %s joined\n", name)
	g.say(name + " joined")
}

// say sends line to every player as an event: reliable, in order.
func (g *game) say(line string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for sess := range g.players {
		_ = sess.SendEvent([]byte(line))
	}
}

// run ticks at 20 Hz until ctx ends: inputs move players, chat lines go to
// everyone, and everyone gets the new positions.
func (g *game) run(ctx context.Context, srv *netcode.Server) {
	tick := time.NewTicker(time.Second / 20)
	defer tick.Stop()
	var inputs []netcode.Input
	var events [][]byte
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var lines, left []string
		g.mu.Lock()
		for sess, p := range g.players {
			if sess.Err() != nil {
				delete(g.players, sess)
				left = append(left, p.name)
				continue
			}
			for _, in := range sess.ReadInputs(inputs[:0]) {
				if len(in.Payload) == 2 { // a step of -1, 0 or 1 on each axis
					p.x += max(-1, min(1, int(int8(in.Payload[0]))))
					p.y += max(-1, min(1, int(int8(in.Payload[1]))))
				}
			}
			for _, ev := range sess.ReadEvents(events[:0]) {
				lines = append(lines, p.name+": "+string(ev))
			}
		}
		snap := g.snapshot(n)
		g.mu.Unlock()
		for _, name := range left {
			fmt.Printf("server: %s left\n", name)
			g.say(name + " left")
		}
		for _, l := range lines {
			g.say(l)
		}
		// Never waits: a player who cannot keep up misses this one.
		_ = srv.Broadcast(snap)
	}
}

// snapshot encodes the positions as text ("tick 42: ada 1,-2 bob 0,3"), in
// one datagram for up to a few dozen players. Under g.mu.
func (g *game) snapshot(n int) []byte {
	var ps []string
	for _, p := range g.players {
		ps = append(ps, fmt.Sprintf("%s %d,%d", p.name, p.x, p.y))
	}
	sort.Strings(ps)
	return []byte(fmt.Sprintf("tick %d: %s", n, strings.Join(ps, " ")))
}

// play is one player: it walks at random, says hello, and prints what it
// sees once a second.
func play(ctx context.Context, url, name string, duration time.Duration) error {
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	dial, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// The player's side: a WebSocket to the server for the signaling, then
	// the game's two WebRTC channels straight to it.
	u, err := neturl.Parse(url)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("name", name)
	u.RawQuery = q.Encode()
	sig, err := netcode.DialSignaler(dial, u.String(), nil)
	if err != nil {
		return err
	}
	c, err := netcode.Dial(dial, sig, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("%s: connected\n", name)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ev, err := c.ReadEvent(ctx)
			if err != nil {
				return
			}
			fmt.Printf("%s: event %q\n", name, ev)
		}
	}()
	_ = c.SendEvent([]byte("hello from " + name))
	step := time.NewTicker(100 * time.Millisecond)
	defer step.Stop()
	report := time.NewTicker(time.Second)
	defer report.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.Close()
			wg.Wait()
			st := c.Stats()
			fmt.Printf("%s: done: %d snapshots, %d inputs sent, rtt %v\n", name, st.SnapshotsReceived, st.InputsSent, st.RTT.Round(time.Microsecond))
			if st.SnapshotsReceived == 0 {
				return fmt.Errorf("%s: no snapshot from the server", name)
			}
			return nil
		case <-step.C:
			_ = c.SendInput([]byte{byte(int8(rand.IntN(3) - 1)), byte(int8(rand.IntN(3) - 1))})
		case <-report.C:
			if snap, ok := c.TryReadSnapshot(); ok {
				fmt.Printf("%s: %s (rtt %v)\n", name, snap.Payload, c.Stats().RTT.Round(time.Microsecond))
			}
		}
		if err := c.Err(); err != nil {
			return err
		}
	}
}

// demo runs a server on a free loopback port and two players, for 5 s.
func demo(ctx context.Context) error { return demoFor(ctx, 5*time.Second) }

func demoFor(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	srvCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	go func() { served <- serve(srvCtx, "127.0.0.1:0", "127.0.0.1:0", ready) }()
	var url string
	select {
	case url = <-ready:
	case err := <-served:
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"ada", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = play(ctx, url, name, 0)
		}()
	}
	wg.Wait()
	stopServer()
	return errors.Join(append(errs, <-served)...)
}
