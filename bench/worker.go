package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/tickwire/tickwire/netcode"
)

// workerCommand is the hidden subcommand ccu starts its client processes
// with; see workerEnv.
const workerCommand = "ccu-worker"

// workerClient is one client in a worker and what it measured.
type workerClient struct {
	c       *netcode.Client
	bare    *barePeer // -kind bare
	connect time.Duration
	err     error

	samples []int64 // µs, owned by the reader until it ends
	reads   int     // snapshots read, any phase
	// phaseReads counts the snapshots read of each phase.
	phaseReads [maxPhases]uint64
	read       chan struct{}
}

func init() {
	register(subcommand{workerCommand, "", cmdWorker})
}

// Worker client kinds.
const (
	// kindNetcode clients are netcode Clients that read every snapshot.
	kindNetcode = "netcode"
	// kindBare clients are bare pion PeerConnections with WIRE.md's two
	// channels (idle's control), signalled as netcode's are.
	kindBare = "bare"
)

// cmdWorker connects its share of ccu's (or idle's) clients, reports,
// reads snapshots until its stdin closes, and reports again. Both reports
// go to stdout as JSON; see workerHello and workerReport.
func cmdWorker(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet(workerCommand, e)
	signalURL := fs.String("signal", "", "WebSocket signaling URL")
	n := fs.Int("clients", 1, "clients to connect")
	parallel := fs.Int("parallel", 4, "connections opened at once")
	connectTimeout := fs.Duration("connect-timeout", time.Minute, "per-client connect limit")
	limit := fs.Duration("timeout", 5*time.Minute, "hard limit on the whole worker")
	kind := fs.String("kind", kindNetcode, "client kind: netcode or bare")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile from the hello to the report to `file`")
	nice := fs.Int("nice", 0, "run this much nicer than the parent (Unix)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *signalURL == "" || *n < 1 || *parallel < 1 {
		return usageErrorf(fs, "-signal, -clients and -parallel are required")
	}
	if *kind != kindNetcode && *kind != kindBare {
		return usageErrorf(fs, "-kind must be netcode or bare")
	}
	if *nice != 0 {
		if err := lowerPriority(*nice); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()

	clients := make([]*workerClient, *n)
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i := range clients {
		wc := &workerClient{read: make(chan struct{})}
		clients[i] = wc
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wc.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, *connectTimeout)
			defer cancel()
			start := time.Now()
			if *kind == kindBare {
				wc.bare, wc.err = dialBareWS(cctx, *signalURL)
			} else {
				wc.c, wc.err = dialWS(cctx, *signalURL)
			}
			wc.connect = time.Since(start)
		}()
	}
	wg.Wait()

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var hello workerHello
	for _, wc := range clients {
		if wc.err != nil {
			close(wc.read)
			hello.Failed++
			if len(hello.Errors) < maxReportedErrors {
				hello.Errors = append(hello.Errors, wc.err.Error())
			}
			continue
		}
		hello.Connected++
		hello.ConnectUS = append(hello.ConnectUS, wc.connect.Microseconds())
		if wc.c == nil {
			close(wc.read) // a bare peer reads its channels itself
			continue
		}
		go wc.readSnapshots(readCtx)
	}
	out := json.NewEncoder(e.stdout)
	if err := out.Encode(hello); err != nil {
		return fmt.Errorf("write hello: %w", err)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	// Read until the parent closes stdin (or dies), or the limit.
	stdinClosed := make(chan struct{})
	go func() {
		defer close(stdinClosed)
		_, _ = io.Copy(io.Discard, e.stdin)
	}()
	select {
	case <-stdinClosed:
	case <-ctx.Done():
	}
	stopReading()

	var rep workerReport
	for _, wc := range clients {
		<-wc.read
		rep.LatencyUS = append(rep.LatencyUS, wc.samples...)
		if wc.c != nil {
			st := wc.c.Stats()
			rep.Arrived += st.SnapshotsReceived
			rep.Read += uint64(wc.reads)
			if rep.PhaseRead == nil {
				rep.PhaseRead = make([]uint64, maxPhases)
			}
			for i, n := range wc.phaseReads {
				rep.PhaseRead[i] += n
			}
			rep.NetLost += st.Lost
			rep.Stale += st.SnapshotsStale
			if err := wc.c.Err(); err != nil && len(rep.Errors) < maxReportedErrors {
				rep.Errors = append(rep.Errors, fmt.Sprintf("client closed early: %v", err))
			}
		}
	}
	if err := out.Encode(rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, wc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case wc.c != nil:
				_ = wc.c.Close()
			case wc.bare != nil:
				wc.bare.close()
			}
		}()
	}
	wg.Wait()
	return nil
}

// dialWS connects one client through the WebSocket signaling endpoint.
func dialWS(ctx context.Context, url string) (*netcode.Client, error) {
	sig, err := dialSignaling(ctx, url)
	if err != nil {
		return nil, err
	}
	// UDP4 only: the server listens on 127.0.0.1.
	client, err := netcode.Dial(ctx, sig, ncOptions{UDP4Only: true}.client())
	if err != nil {
		return nil, fmt.Errorf("netcode dial: %w", err)
	}
	return client, nil
}

// dialBareWS connects one bare peer through the WebSocket signaling
// endpoint.
func dialBareWS(ctx context.Context, url string) (*barePeer, error) {
	sig, err := dialSignaling(ctx, url)
	if err != nil {
		return nil, err
	}
	p, err := dialBare(ctx, bareLoopbackAPI(false), sig, nil)
	if err != nil {
		return nil, fmt.Errorf("bare dial: %w", err)
	}
	return p, nil
}

// readSnapshots records the latency of every measured-phase snapshot, from
// the send time the server stamped to when netcode read it off the network.
func (wc *workerClient) readSnapshots(ctx context.Context) {
	defer close(wc.read)
	for {
		s, err := wc.c.ReadSnapshot(ctx)
		if err != nil {
			return // stopped, or closed: the report says which
		}
		wc.reads++
		if len(s.Payload) < snapshotHeader {
			continue
		}
		if ph := s.Payload[16]; ph < maxPhases {
			wc.phaseReads[ph]++
		}
		if s.Payload[16] != phaseMeasured {
			continue
		}
		sent := int64(binary.LittleEndian.Uint64(s.Payload[8:]))
		wc.samples = append(wc.samples, (s.Received.UnixNano()-sent)/int64(time.Microsecond))
	}
}
