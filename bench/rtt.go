package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/tickwire/tickwire/netcode"
)

const (
	// warmupTrips fill buffers and pools and let congestion windows open,
	// so that the measured trips see the steady state.
	warmupTrips = 200
	// echoTimeout bounds one round trip; loopback echoes take tens of
	// microseconds, so anything this late is counted as lost.
	echoTimeout = time.Second
	// setupTimeout bounds one transport coming up (ICE, DTLS and SCTP
	// included), which takes milliseconds on loopback when it works.
	setupTimeout = 20 * time.Second
	// rttBatch is how many trips one transport makes before the next takes
	// its turn: small enough that drift (frequency scaling, a noisy
	// neighbour, GC) hits every transport alike, large enough that caches
	// warm to the transport being measured.
	rttBatch = 50
	// maxPayload keeps every transport's message in one packet; netcode
	// adds its header within its 1200-byte datagram budget.
	maxPayload = 1024
)

// echoer is one transport's echo path, ready for use.
type echoer struct {
	// echo sends p and waits for the same bytes to come back. It times the
	// trip itself so that per-trip bookkeeping (deadlines, contexts) stays
	// out of the figure. ok is false when nothing matching came back within
	// echoTimeout; err means the transport broke.
	echo func(p []byte) (rtt time.Duration, ok bool, err error)
	// close releases everything the transport started and waits for it.
	close func()
}

// echoTransport names a way to open an echoer; names are the tool's
// interface (issue 6).
type echoTransport struct {
	name string
	open func(ctx context.Context) (*echoer, error)
}

func echoTransports() []echoTransport {
	return []echoTransport{
		{"udp", openUDPEcho},
		{"websocket", openWebSocketEcho},
		{"dc-reliable", func(ctx context.Context) (*echoer, error) { return openPionEcho(ctx, reliableInit()) }},
		{"dc-unreliable", func(ctx context.Context) (*echoer, error) { return openPionEcho(ctx, unreliableInit()) }},
		{"netcode", openNetcodeEcho},
	}
}

// rttReport is the rtt subcommand's output.
type rttReport struct {
	Scenario string   `json:"scenario"`
	Args     []string `json:"args"`
	Size     int      `json:"size"`
	Results  []result `json:"results"`
}

func init() {
	register(subcommand{"rtt", "echo round trip on loopback: udp, websocket, dc-reliable, dc-unreliable, netcode", cmdRTT})
}

func cmdRTT(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet("rtt", e)
	n := fs.Int("n", 20000, "round trips per transport")
	size := fs.Int("size", 64, "payload bytes")
	out := addOutputFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return usageErrorf(fs, "-n must be positive")
	}
	if *size < 8 || *size > maxPayload {
		return usageErrorf(fs, "-size must be in [8, %d]: the first 8 bytes carry a sequence number", maxPayload)
	}
	results, err := runRTT(ctx, echoTransports(), *n, *size, e)
	if err != nil {
		return err
	}
	return emit(&rttReport{Scenario: "rtt", Args: e.args, Size: *size, Results: results}, out, e)
}

// runRTT opens every transport first, then runs n measured trips on each,
// round-robin in batches of rttBatch, after warmupTrips unmeasured ones.
func runRTT(ctx context.Context, transports []echoTransport, n, size int, e *env) ([]result, error) {
	echoers := make([]*echoer, 0, len(transports))
	defer func() {
		for _, ec := range echoers {
			ec.close()
		}
	}()
	for _, t := range transports {
		setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
		ec, err := t.open(setupCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", t.name, err)
		}
		echoers = append(echoers, ec)
	}

	type tally struct {
		samples []time.Duration
		sent    int
		err     error
		p       *payload
	}
	tallies := make([]tally, len(transports))
	for i := range tallies {
		tallies[i] = tally{samples: make([]time.Duration, 0, n), p: newPayload(size)}
		for range warmupTrips {
			if _, _, err := echoers[i].echo(tallies[i].p.next()); err != nil {
				return nil, fmt.Errorf("%s warm-up: %w", transports[i].name, err)
			}
		}
	}

	bar := e.newProgress("rtt", n*len(transports))
	defer bar.finish()
	for done := 0; done < n; done += rttBatch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := min(rttBatch, n-done)
		for i, ec := range echoers {
			t := &tallies[i]
			for j := 0; j < batch && t.err == nil; j++ {
				rtt, ok, err := ec.echo(t.p.next())
				if err != nil {
					t.err = err
					break
				}
				t.sent++
				if ok {
					t.samples = append(t.samples, rtt)
				}
			}
			bar.add(batch)
		}
	}

	results := make([]result, len(transports))
	for i, t := range tallies {
		results[i] = newResult(transports[i].name, t.sent, t.samples)
		if t.err != nil {
			results[i].Error = t.err.Error()
		}
	}
	return results, nil
}

func (r *rttReport) writeTable(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "echo round trip on loopback, %d-byte payload\n\n", r.Size); err != nil {
		return err
	}
	return writeResults(w, r.Results, nil, nil)
}

func (r *rttReport) writeHTML(w io.Writer) error {
	return writeHTMLPage(w, "Tickwire bench: rtt", r.Args, []htmlSection{{
		Title:   fmt.Sprintf("Echo round trip on loopback, %d-byte payload", r.Size),
		Table:   resultsTable(r.Results, nil, nil),
		Charts:  []cdfChart{resultsCDF("round-trip time", r.Results)},
		Caption: "Each transport ran its trips in batches, round-robin with the others, after a warm-up.",
	}})
}

// payload is a message whose first 8 bytes carry a sequence number, so that
// a late echo of an earlier trip cannot pass for the current one.
type payload struct {
	buf []byte
	seq uint64
}

func newPayload(size int) *payload {
	p := &payload{buf: make([]byte, size)}
	for i := range p.buf {
		p.buf[i] = byte(i)
	}
	return p
}

func (p *payload) next() []byte {
	p.seq++
	binary.LittleEndian.PutUint64(p.buf, p.seq)
	return p.buf
}

// openUDPEcho is the floor: one datagram each way through the kernel.
func openUDPEcho(context.Context) (*echoer, error) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("dial: %w", err)
	}
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, 2048)
		for {
			n, addr, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			_, _ = srv.WriteToUDPAddrPort(buf[:n], addr)
		}
	}()
	buf := make([]byte, 2048)
	return &echoer{
		echo: func(p []byte) (time.Duration, bool, error) {
			if err := cli.SetReadDeadline(time.Now().Add(echoTimeout)); err != nil {
				return 0, false, err
			}
			start := time.Now()
			if _, err := cli.Write(p); err != nil {
				return 0, false, err
			}
			for {
				n, err := cli.Read(buf)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return 0, false, nil
				}
				if err != nil {
					return 0, false, err
				}
				if bytes.Equal(buf[:n], p) {
					return time.Since(start), true, nil
				}
			}
		},
		close: func() {
			_ = cli.Close()
			_ = srv.Close()
			<-echoed
		},
	}, nil
}

// openWebSocketEcho is what a browser game without WebRTC uses: one TCP
// connection, so one lost packet holds up everything behind it.
func openWebSocketEcho(ctx context.Context) (*echoer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	var handlers tracker
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !handlers.enter() {
			return
		}
		defer handlers.exit()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = c.CloseNow() }()
		buf := make([]byte, 2048)
		for {
			typ, n, err := readMessage(r.Context(), c, buf)
			if err != nil {
				return // the client closed
			}
			if err := c.Write(r.Context(), typ, buf[:n]); err != nil {
				return
			}
		}
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	stopServer := func() {
		_ = srv.Close()
		<-served
		handlers.closeAndWait()
	}
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String(), nil)
	if err != nil {
		stopServer()
		return nil, fmt.Errorf("dial: %w", err)
	}
	buf := make([]byte, 2048)
	return &echoer{
		echo: func(p []byte) (time.Duration, bool, error) {
			// A read that times out closes a coder/websocket connection, so
			// a lost echo here breaks the transport, which is fair: over
			// TCP, it would mean the connection is gone anyway.
			ctx, cancel := context.WithTimeout(context.Background(), echoTimeout)
			defer cancel()
			start := time.Now()
			if err := c.Write(ctx, websocket.MessageBinary, p); err != nil {
				return 0, false, err
			}
			for {
				_, n, err := readMessage(ctx, c, buf)
				if err != nil {
					return 0, false, err
				}
				if bytes.Equal(buf[:n], p) {
					return time.Since(start), true, nil
				}
			}
		},
		close: func() {
			// Hijacked connections are the handlers' to end: closing ours
			// ends their read.
			_ = c.CloseNow()
			stopServer()
		},
	}, nil
}

// readMessage reads one message into buf, without the allocation Conn.Read
// makes per message.
func readMessage(ctx context.Context, c *websocket.Conn, buf []byte) (websocket.MessageType, int, error) {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for {
		if n == len(buf) {
			return 0, 0, fmt.Errorf("message over %d bytes", len(buf))
		}
		k, err := r.Read(buf[n:])
		n += k
		if errors.Is(err, io.EOF) {
			return typ, n, nil
		}
		if err != nil {
			return 0, 0, err
		}
	}
}

// openPionEcho echoes over one bare pion data channel on loopback: the
// transport netcode builds on, without netcode.
func openPionEcho(ctx context.Context, init *webrtc.DataChannelInit) (*echoer, error) {
	api := bareAPI(nil)
	p, err := openPionPair(ctx, api, api, init)
	if err != nil {
		return nil, err
	}
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		// Ends when close tears the association down.
		buf := make([]byte, 2048)
		for {
			k, err := p.far.Read(buf)
			if err != nil {
				return
			}
			if _, err := p.far.Write(buf[:k]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 2048)
	return &echoer{
		echo: func(b []byte) (time.Duration, bool, error) {
			if err := p.near.SetReadDeadline(time.Now().Add(echoTimeout)); err != nil {
				return 0, false, err
			}
			start := time.Now()
			if _, err := p.near.Write(b); err != nil {
				return 0, false, err
			}
			// Reading here is also what applies partial reliability on
			// this side: pion processes the DCEP ACK only inside Read.
			for {
				k, err := p.near.Read(buf)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					return 0, false, nil
				}
				if err != nil {
					return 0, false, err
				}
				if bytes.Equal(buf[:k], b) {
					return time.Since(start), true, nil
				}
			}
		},
		close: func() {
			p.close()
			<-echoed
		},
	}, nil
}

// openNetcodeEcho echoes inputs back as snapshots: the client sends an
// input, the server reads it with Session.ReadInput and sends its payload
// back with Session.SendSnapshot, and the client reads it with
// ReadSnapshot. That is the path a player's input takes to the server and
// its effect takes back, with the game's tick taken out.
func openNetcodeEcho(ctx context.Context) (*echoer, error) {
	srv, err := netcode.NewServer(ncOptions{UDPAddr: "127.0.0.1:0"}.server())
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	// UDP4 only, as the bare channels, so that no IPv6 pair can be chosen.
	client, sess, err := connectNetcode(ctx, srv, ncOptions{UDP4Only: true}.client())
	if err != nil {
		_ = srv.Close()
		return nil, err
	}
	srvCtx, stop := context.WithCancel(context.Background())
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		for {
			in, err := sess.ReadInput(srvCtx)
			if err != nil {
				return
			}
			// A congested send is a lost echo, which the client counts.
			if err := sess.SendSnapshot(in.Payload); err != nil && !errors.Is(err, netcode.ErrCongested) {
				return
			}
		}
	}()
	return &echoer{
		echo: func(p []byte) (time.Duration, bool, error) {
			ctx, cancel := context.WithTimeout(context.Background(), echoTimeout)
			defer cancel()
			start := time.Now()
			if err := client.SendInput(p); err != nil {
				return 0, false, err
			}
			for {
				s, err := client.ReadSnapshot(ctx)
				if errors.Is(err, context.DeadlineExceeded) {
					return 0, false, nil
				}
				if err != nil {
					return 0, false, err
				}
				if bytes.Equal(s.Payload, p) {
					return time.Since(start), true, nil
				}
			}
		},
		close: func() {
			stop()
			_ = client.Close()
			<-echoed
			_ = srv.Close()
		},
	}, nil
}

// connectNetcode dials srv over an in-memory signal pipe.
func connectNetcode(ctx context.Context, srv *netcode.Server, cfg *ncClientConfig) (*netcode.Client, *netcode.Session, error) {
	client, sess, _, err := connectNetcodeVia(ctx, srv, cfg, nil)
	return client, sess, err
}

// connectNetcodeVia is connectNetcode with the client's end of the pipe
// wrapped by wrap (unless nil); dialed is when Dial returned.
func connectNetcodeVia(ctx context.Context, srv *netcode.Server, cfg *ncClientConfig, wrap func(netcode.Signaler) netcode.Signaler) (
	client *netcode.Client, sess *netcode.Session, dialed time.Time, err error) {
	csig, ssig := netcode.SignalPipe()
	if wrap != nil {
		csig = wrap(csig)
	}
	type accepted struct {
		sess *netcode.Session
		err  error
	}
	done := make(chan accepted, 1)
	go func() {
		sess, err := srv.Accept(ctx, ssig)
		done <- accepted{sess, err}
	}()
	client, err = netcode.Dial(ctx, csig, cfg)
	dialed = time.Now()
	a := <-done
	if err != nil || a.err != nil {
		if client != nil {
			_ = client.Close()
		}
		if a.sess != nil {
			_ = a.sess.Close("")
		}
		return nil, nil, dialed, fmt.Errorf("connect netcode: %w", errors.Join(labelErr("dial", err), labelErr("accept", a.err)))
	}
	return client, a.sess, dialed, nil
}

// labelErr prefixes err with what failed, keeping nil nil for errors.Join.
func labelErr(label string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", label, err)
}
