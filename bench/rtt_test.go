// Package bench measures Tickwire against bare pion data channels, so that
// the cost netcode adds on top of its transport stays visible.
package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/tickwire/tickwire/netcode"
)

const (
	payloadSize = 64
	warmupTrips = 200
	// echoTimeout bounds one round trip; loopback echoes take tens of
	// microseconds, so anything this late is counted as lost.
	echoTimeout = time.Second
	// setupTimeout bounds ICE, DTLS and SCTP coming up on loopback, which
	// takes milliseconds when it works.
	setupTimeout = 10 * time.Second
)

func TestMain(m *testing.M) {
	// Every transport here must shut down completely; a leak would also skew
	// later benchmarks in the same process.
	goleak.VerifyTestMain(m)
}

// echoFunc sends p and waits for the same bytes to come back. It measures
// rtt itself so that per-trip bookkeeping (deadlines, contexts) stays out of
// the figure. delivered is false when nothing matching came back within
// echoTimeout; err is for a broken transport.
type echoFunc func(p []byte) (rtt time.Duration, delivered bool, err error)

// transport opens one echo path; everything it starts is released through
// tb.Cleanup, so a benchmark's teardown stays outside its timer.
type transport struct {
	name string
	open func(tb testing.TB) echoFunc
}

var transports = []transport{
	{"dc-unreliable", func(tb testing.TB) echoFunc { return openBare(tb, unreliableInit()) }},
	{"dc-reliable", func(tb testing.TB) echoFunc { return openBare(tb, &webrtc.DataChannelInit{}) }},
	{"netcode", openNetcode},
}

func unreliableInit() *webrtc.DataChannelInit {
	unordered, zero := false, uint16(0)
	return &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero}
}

func BenchmarkRTT(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) { benchEcho(b, tr.open(b)) })
	}
}

func benchEcho(b *testing.B, echo echoFunc) {
	p := newPayload()
	// Warm-up fills pion's buffers and pools and lets the congestion window
	// open, so the measured trips see the steady state.
	for range warmupTrips {
		if _, _, err := echo(p.next()); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	rtts := make([]time.Duration, 0, b.N)
	lost := 0
	b.ResetTimer()
	for range b.N {
		rtt, ok, err := echo(p.next())
		if err != nil {
			b.Fatalf("echo: %v", err)
		}
		if !ok {
			lost++
			continue
		}
		rtts = append(rtts, rtt)
	}
	b.StopTimer()
	if len(rtts) == 0 {
		b.Fatalf("all %d echoes lost", b.N)
	}
	slices.Sort(rtts)
	b.ReportMetric(micros(percentile(rtts, 0.50)), "p50-us")
	b.ReportMetric(micros(percentile(rtts, 0.99)), "p99-us")
	b.ReportMetric(float64(lost), "lost")
}

func TestRTTSmoke(t *testing.T) {
	const trips, minDelivered = 50, 45
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			echo := tr.open(t)
			p := newPayload()
			delivered, lost := 0, 0
			// Stop once the test cannot pass any more: each loss may cost a
			// full echoTimeout.
			for i := 0; i < trips && lost <= trips-minDelivered; i++ {
				_, ok, err := echo(p.next())
				if err != nil {
					t.Fatalf("echo %d: %v", i, err)
				}
				if ok {
					delivered++
				} else {
					lost++
				}
			}
			if delivered < minDelivered {
				t.Errorf("%d echoes came back intact and %d were lost before stopping, want %d of %d intact",
					delivered, lost, minDelivered, trips)
			}
		})
	}
}

// payload is a 64-byte message whose first bytes carry a sequence number, so
// a late echo of an earlier trip cannot pass for the current one.
type payload struct {
	buf []byte
	seq uint64
}

func newPayload() *payload {
	p := &payload{buf: make([]byte, payloadSize)}
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

// percentile uses the nearest-rank method on sorted d.
func percentile(d []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// loopbackAPI mirrors what a netcode server does for local play, so the bare
// channels and netcode ride the same path.
func loopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetIncludeLoopbackCandidate(true)
	// mDNS would add sockets and goroutines and is useless on one host.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// Matching on the flag rather than the name "lo" also works on macOS (lo0).
	se.SetInterfaceFilter(func(name string) bool {
		ifi, err := net.InterfaceByName(name)
		return err == nil && ifi.Flags&net.FlagLoopback != 0
	})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// openBare connects two PeerConnections in-process and opens one in-band
// (DCEP) channel with init: a pre-negotiated channel would silently stay
// reliable (FIELD-NOTES.md, "pion traps"). The answering side echoes.
func openBare(tb testing.TB, init *webrtc.DataChannelInit) echoFunc {
	tb.Helper()
	api := loopbackAPI()
	offerer, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatalf("new peer connection: %v", err)
	}
	tb.Cleanup(func() { _ = offerer.Close() })
	answerer, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		tb.Fatalf("new peer connection: %v", err)
	}
	tb.Cleanup(func() { _ = answerer.Close() })

	type opened struct {
		rw  datachannel.ReadWriteCloserDeadliner
		dc  *webrtc.DataChannel
		err error
	}
	// Buffered so a callback never blocks pion if setup has already failed.
	near, far := make(chan opened, 1), make(chan opened, 1)
	detachOnOpen := func(dc *webrtc.DataChannel, out chan<- opened) {
		dc.OnOpen(func() {
			rw, err := dc.DetachWithDeadline()
			out <- opened{rw, dc, err}
		})
	}
	answerer.OnDataChannel(func(dc *webrtc.DataChannel) { detachOnOpen(dc, far) })
	dc, err := offerer.CreateDataChannel("echo", init)
	if err != nil {
		tb.Fatalf("create data channel: %v", err)
	}
	detachOnOpen(dc, near)

	if err := signal(offerer, answerer); err != nil {
		tb.Fatal(err)
	}
	timeout := time.After(setupTimeout)
	var n, f opened
	for _, o := range []struct {
		ch  <-chan opened
		dst *opened
	}{{near, &n}, {far, &f}} {
		select {
		case *o.dst = <-o.ch:
		case <-timeout:
			tb.Fatalf("data channel did not open within %v", setupTimeout)
		}
		if o.dst.err != nil {
			tb.Fatalf("detach: %v", o.dst.err)
		}
	}
	// The far side learns the reliability from the DCEP open message, so this
	// proves the channel measured is the one named.
	wantOrdered := init.Ordered == nil || *init.Ordered
	if f.dc.Ordered() != wantOrdered || !equalPtr(f.dc.MaxRetransmits(), init.MaxRetransmits) {
		tb.Fatalf("far side got ordered=%v maxRetransmits=%v, want ordered=%v maxRetransmits=%v",
			f.dc.Ordered(), f.dc.MaxRetransmits(), wantOrdered, init.MaxRetransmits)
	}

	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		// Ends when Close tears the association down.
		buf := make([]byte, 1500)
		for {
			k, err := f.rw.Read(buf)
			if err != nil {
				return
			}
			if _, err := f.rw.Write(buf[:k]); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		// The stream's deadline timer is a goroutine that lives until the
		// deadline passes or is cleared.
		_ = n.rw.SetReadDeadline(time.Time{})
		// Closing is what ends the echo loop; the earlier cleanups close
		// again, harmlessly.
		_ = offerer.Close()
		_ = answerer.Close()
		<-echoed
	})

	buf := make([]byte, 1500)
	return func(p []byte) (time.Duration, bool, error) {
		if err := n.rw.SetReadDeadline(time.Now().Add(echoTimeout)); err != nil {
			return 0, false, err
		}
		start := time.Now()
		if _, err := n.rw.Write(p); err != nil {
			return 0, false, err
		}
		// Reading here is also what applies partial reliability on this
		// side: pion only processes the DCEP ACK inside Read.
		for {
			k, err := n.rw.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, false, nil
			}
			if err != nil {
				return 0, false, err
			}
			if bytes.Equal(buf[:k], p) {
				return time.Since(start), true, nil
			}
		}
	}
}

// signal runs offer/answer without trickle: each side's description carries
// all its candidates once gathering completes.
func signal(offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := setLocalAndGather(offerer, offer); err != nil {
		return err
	}
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return err
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := setLocalAndGather(answerer, answer); err != nil {
		return err
	}
	return offerer.SetRemoteDescription(*answerer.LocalDescription())
}

func setLocalAndGather(pc *webrtc.PeerConnection, sd webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sd); err != nil {
		return err
	}
	select {
	case <-gathered:
		return nil
	case <-time.After(setupTimeout):
		return errors.New("ICE gathering did not complete")
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// openNetcode echoes inputs back as snapshots, the path a game's input takes
// to the server and its effect takes back.
func openNetcode(tb testing.TB) echoFunc {
	tb.Helper()
	srv, err := netcode.NewServer(&netcode.Config{UDPAddr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatalf("NewServer: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	csig, ssig := netcode.SignalPipe()
	type result struct {
		sess *netcode.Session
		err  error
	}
	accepted := make(chan result, 1)
	go func() {
		sess, err := srv.Accept(ctx, ssig)
		accepted <- result{sess, err}
	}()
	// UDP4 only, as the bare channels, so no IPv6 pair can be chosen.
	client, err := netcode.Dial(ctx, csig, &netcode.Config{NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4}})
	r := <-accepted
	if err != nil || r.err != nil {
		if client != nil {
			_ = client.Close()
		}
		tb.Fatalf("connect: dial: %v, accept: %v", err, r.err)
	}

	srvCtx, stop := context.WithCancel(context.Background())
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		for {
			in, err := r.sess.ReadInput(srvCtx)
			if err != nil {
				return
			}
			// A congested send is a lost echo, which the client counts.
			if err := r.sess.SendSnapshot(in.Payload); err != nil && !errors.Is(err, netcode.ErrCongested) {
				return
			}
		}
	}()
	tb.Cleanup(func() {
		stop()
		_ = client.Close()
		<-echoed
	})

	return func(p []byte) (time.Duration, bool, error) {
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
	}
}
