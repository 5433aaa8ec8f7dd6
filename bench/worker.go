package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tickwire/tickwire/netcode"
)

// workerCommand is the hidden subcommand ccu starts its client processes
// with; see workerEnv.
const workerCommand = "ccu-worker"

// workerClient is one client in a worker and what it measured.
type workerClient struct {
	c       *netcode.Client
	connect time.Duration
	err     error

	samples []int64 // µs, owned by the reader until it ends
	reads   int     // snapshots read, either phase
	read    chan struct{}
}

func init() {
	register(subcommand{workerCommand, "", cmdWorker})
}

// cmdWorker connects its share of ccu's clients, reports, reads snapshots
// until its stdin closes, and reports again. Both reports go to stdout as
// JSON; see workerHello and workerReport.
func cmdWorker(ctx context.Context, args []string, e *env) error {
	fs := newFlagSet(workerCommand, e)
	signalURL := fs.String("signal", "", "WebSocket signaling URL")
	n := fs.Int("clients", 1, "clients to connect")
	parallel := fs.Int("parallel", 4, "connections opened at once")
	connectTimeout := fs.Duration("connect-timeout", time.Minute, "per-client connect limit")
	limit := fs.Duration("timeout", 5*time.Minute, "hard limit on the whole worker")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *signalURL == "" || *n < 1 || *parallel < 1 {
		return usageErrorf(fs, "-signal, -clients and -parallel are required")
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
			wc.c, wc.err = dialWS(cctx, *signalURL)
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
		go wc.readSnapshots(readCtx)
	}
	out := json.NewEncoder(e.stdout)
	if err := out.Encode(hello); err != nil {
		return fmt.Errorf("write hello: %w", err)
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
		if wc.c != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = wc.c.Close()
			}()
		}
	}
	wg.Wait()
	return nil
}

// dialWS connects one client through the WebSocket signaling endpoint.
func dialWS(ctx context.Context, url string) (*netcode.Client, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("signaling dial: %w", err)
	}
	// UDP4 only: the server listens on 127.0.0.1.
	client, err := netcode.Dial(ctx, newWSSignaler(c), &netcode.Config{NetworkTypes: []netcode.NetworkType{netcode.NetworkUDP4}})
	if err != nil {
		return nil, fmt.Errorf("netcode dial: %w", err)
	}
	return client, nil
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
		if len(s.Payload) < snapshotHeader || s.Payload[16] != phaseMeasured {
			continue
		}
		sent := int64(binary.LittleEndian.Uint64(s.Payload[8:]))
		wc.samples = append(wc.samples, (s.Received.UnixNano()-sent)/int64(time.Microsecond))
	}
}
