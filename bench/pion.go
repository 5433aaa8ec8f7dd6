package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// quietLogs keeps pion's logs off stdout and stderr: -json must print one
// JSON object, and errors the benchmark cares about surface as errors.
func quietLogs() logging.LoggerFactory {
	return &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled}
}

// bareAPI configures a PeerConnection as netcode configures its own, minus
// netcode, so that the bare channels and netcode ride the same path: detached
// channels, no mDNS, and either the machine's loopback or a vnet.
func bareAPI(n transport.Net) *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(bareSettingEngine(n)))
}

// bareSettingEngine is bareAPI's configuration.
func bareSettingEngine(n transport.Net) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	// mDNS would add sockets and goroutines and resolves nothing here.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.LoggerFactory = quietLogs()
	if n != nil {
		se.SetNet(n)
	} else {
		se.SetIncludeLoopbackCandidate(true)
		// Matching on the flag rather than the name "lo" also works on
		// macOS (lo0).
		se.SetInterfaceFilter(func(name string) bool {
			ifi, err := net.InterfaceByName(name)
			return err == nil && ifi.Flags&net.FlagLoopback != 0
		})
	}
	return se
}

func reliableInit() *webrtc.DataChannelInit { return &webrtc.DataChannelInit{} }

func unreliableInit() *webrtc.DataChannelInit {
	unordered, zero := false, uint16(0)
	return &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero}
}

// pionPair is two PeerConnections in this process joined by one data
// channel, detached at both ends. The offerer plays the client (near end),
// the answerer the server (far end).
type pionPair struct {
	client, server *webrtc.PeerConnection
	near, far      datachannel.ReadWriteCloserDeadliner
}

// openPionPair connects two PeerConnections and opens one in-band (DCEP)
// channel with init: a pre-negotiated channel would silently stay reliable
// (docs/webrtc-facts.md). Both ends must then be read continuously,
// for the same reason; the caller owns that.
func openPionPair(ctx context.Context, clientAPI, serverAPI *webrtc.API, init *webrtc.DataChannelInit) (_ *pionPair, err error) {
	p := &pionPair{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.client, err = clientAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	if p.server, err = serverAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}

	type opened struct {
		rw  datachannel.ReadWriteCloserDeadliner
		dc  *webrtc.DataChannel
		err error
	}
	// Buffered so that a callback never blocks pion if setup already failed.
	near, far := make(chan opened, 1), make(chan opened, 1)
	detachOnOpen := func(dc *webrtc.DataChannel, out chan<- opened) {
		dc.OnOpen(func() {
			rw, err := dc.DetachWithDeadline()
			out <- opened{rw, dc, err}
		})
	}
	p.server.OnDataChannel(func(dc *webrtc.DataChannel) { detachOnOpen(dc, far) })
	dc, err := p.client.CreateDataChannel("bench", init)
	if err != nil {
		return nil, fmt.Errorf("create data channel: %w", err)
	}
	detachOnOpen(dc, near)
	if err := exchange(ctx, p.client, p.server); err != nil {
		return nil, err
	}
	var n, f opened
	for _, o := range []struct {
		ch  <-chan opened
		dst *opened
	}{{near, &n}, {far, &f}} {
		select {
		case *o.dst = <-o.ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("data channel did not open: %w", ctx.Err())
		}
		if o.dst.err != nil {
			return nil, fmt.Errorf("detach: %w", o.dst.err)
		}
	}
	p.near, p.far = n.rw, f.rw
	// The far side learns the reliability from the DCEP open message, so
	// this proves that the channel measured is the one named.
	wantOrdered := init.Ordered == nil || *init.Ordered
	if f.dc.Ordered() != wantOrdered || !equalPtr(f.dc.MaxRetransmits(), init.MaxRetransmits) {
		return nil, fmt.Errorf("far side got ordered=%v maxRetransmits=%v, want ordered=%v maxRetransmits=%v",
			f.dc.Ordered(), f.dc.MaxRetransmits(), wantOrdered, init.MaxRetransmits)
	}
	return p, nil
}

// close ends both PeerConnections, which ends every read on the channel.
func (p *pionPair) close() {
	// A stream's deadline timer is a goroutine that lives until the
	// deadline passes or is cleared.
	for _, rw := range []datachannel.ReadWriteCloserDeadliner{p.near, p.far} {
		if rw != nil {
			_ = rw.SetReadDeadline(time.Time{})
		}
	}
	for _, pc := range []*webrtc.PeerConnection{p.client, p.server} {
		if pc != nil {
			_ = pc.Close()
		}
	}
}

// exchange runs offer/answer without trickle: each description carries all
// its side's candidates once gathering completes.
func exchange(ctx context.Context, offerer, answerer *webrtc.PeerConnection) error {
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := setLocalAndGather(ctx, offerer, offer); err != nil {
		return err
	}
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := setLocalAndGather(ctx, answerer, answer); err != nil {
		return err
	}
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	return nil
}

func setLocalAndGather(ctx context.Context, pc *webrtc.PeerConnection, sd webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sd); err != nil {
		return fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-gathered:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ICE gathering: %w", ctx.Err())
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// drain reads and discards until the channel closes. Every detached channel
// needs a reader: pion processes the DCEP ACK, which applies partial
// reliability, only inside Read.
func drain(r io.Reader) {
	buf := make([]byte, 1500)
	for {
		if _, err := r.Read(buf); err != nil && !errors.Is(err, io.ErrShortBuffer) {
			return
		}
	}
}
