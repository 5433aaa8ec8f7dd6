package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"

	"github.com/tickwire/tickwire/netcode"
)

// A bare peer is what a game would write on pion without netcode: one
// PeerConnection with WIRE.md's two channels, in-band (DCEP), both read
// continuously, signalled over a netcode.Signaler with trickle ICE. idle
// sets its cost beside netcode's, and connect its time to open.

// wireProtocol is the subprotocol both channels carry (WIRE.md).
const wireProtocol = "tickwire.v1"

// bareChannels are WIRE.md's channels: label and init.
func bareChannels() []struct {
	label string
	init  *webrtc.DataChannelInit
} {
	unordered, zero, proto := false, uint16(0), wireProtocol
	return []struct {
		label string
		init  *webrtc.DataChannelInit
	}{
		{"snapshots", &webrtc.DataChannelInit{Ordered: &unordered, MaxRetransmits: &zero, Protocol: &proto}},
		{"events", &webrtc.DataChannelInit{Protocol: &proto}},
	}
}

// bareLoopbackAPI is bareAPI on the machine's loopback, with SCTP's
// INIT carried in the SDP when snap is set (SNAP, draft-hancke-tsvwg-snap;
// both ends must enable it, else the usual handshake runs).
func bareLoopbackAPI(snap bool) *webrtc.API { return bareAPIOn(nil, snap) }

// bareAPIOn is bareLoopbackAPI on n, a vnet host, or loopback when nil.
func bareAPIOn(n transport.Net, snap bool) *webrtc.API {
	se := bareSettingEngine(n)
	se.EnableSctpSnap(snap)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// barePeer is one bare PeerConnection.
type barePeer struct {
	pc  *webrtc.PeerConnection
	sig netcode.Signaler
	// ctx bounds the signaling goroutines: until close.
	ctx    context.Context
	cancel context.CancelFunc

	open   chan struct{} // closed once both channels are open
	opened atomic.Int32

	// localInit and remoteInit say whether this side's and the other's
	// description carried a=sctp-init (SNAP).
	localInit, remoteInit bool

	mu   sync.Mutex
	err  error // the first failure, for whoever waits on open
	fail chan struct{}

	cands chan webrtc.ICECandidateInit
	wg    sync.WaitGroup
}

func newBarePeer(api *webrtc.API, sig netcode.Signaler) (*barePeer, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		_ = sig.Close()
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	p := &barePeer{pc: pc, sig: sig, open: make(chan struct{}), fail: make(chan struct{}),
		cands: make(chan webrtc.ICECandidateInit, 64)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		select {
		case p.cands <- c.ToJSON():
		default: // more candidates than loopback has
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed {
			p.failWith(errors.New("peer connection failed"))
		}
	})
	return p, nil
}

func (p *barePeer) failWith(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
		close(p.fail)
	}
}

// watch detaches dc once open and reads it until it closes: with pion, a
// detached unordered channel that is never read stays reliable.
func (p *barePeer) watch(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		rw, err := dc.Detach()
		if err != nil {
			p.failWith(fmt.Errorf("detach %s: %w", dc.Label(), err))
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			drain(rw)
		}()
		if p.opened.Add(1) == 2 {
			close(p.open)
		}
	})
}

// trickle sends this side's candidates once its description is out.
func (p *barePeer) trickle() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case c := <-p.cands:
				if err := p.sig.WriteSignal(p.ctx, netcode.Signal{Type: netcode.SignalCandidate, Candidate: toSignalCandidate(c)}); err != nil {
					return
				}
			case <-p.ctx.Done():
				return
			}
		}
	}()
}

// readSignals applies the other side's candidates (and, to an offerer,
// its answer) until the signaler closes.
func (p *barePeer) readSignals(answer chan<- error) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			s, err := p.sig.ReadSignal(p.ctx)
			if err != nil {
				return
			}
			switch s.Type {
			case netcode.SignalAnswer:
				p.remoteInit = strings.Contains(s.SDP, "a=sctp-init:")
				err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
				if answer != nil {
					answer <- err
					answer = nil
				}
			case netcode.SignalCandidate:
				if s.Candidate != nil {
					_ = p.pc.AddICECandidate(fromSignalCandidate(*s.Candidate))
				}
			}
		}
	}()
}

// dialBare offers WIRE.md's channels through sig and waits for both to
// open. offered, if set, is called as the offer is written.
func dialBare(ctx context.Context, api *webrtc.API, sig netcode.Signaler, offered func()) (_ *barePeer, err error) {
	p, err := newBarePeer(api, sig)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	for _, ch := range bareChannels() {
		dc, err := p.pc.CreateDataChannel(ch.label, ch.init)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", ch.label, err)
		}
		p.watch(dc)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return nil, fmt.Errorf("create offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return nil, fmt.Errorf("set offer: %w", err)
	}
	p.localInit = strings.Contains(offer.SDP, "a=sctp-init:")
	if offered != nil {
		offered()
	}
	if err := sig.WriteSignal(ctx, netcode.Signal{Type: netcode.SignalOffer, SDP: offer.SDP}); err != nil {
		return nil, fmt.Errorf("write offer: %w", err)
	}
	p.trickle()
	answered := make(chan error, 1)
	p.readSignals(answered)
	return p, p.wait(ctx, answered)
}

// acceptBare answers the offer that comes through sig, refusing channels
// other than WIRE.md's, and waits for both to open.
func acceptBare(ctx context.Context, api *webrtc.API, sig netcode.Signaler) (_ *barePeer, err error) {
	p, err := newBarePeer(api, sig)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	want := bareChannels()
	p.pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		for _, ch := range want {
			ordered := ch.init.Ordered == nil || *ch.init.Ordered
			if dc.Label() == ch.label && dc.Ordered() == ordered && equalPtr(dc.MaxRetransmits(), ch.init.MaxRetransmits) &&
				dc.Protocol() == wireProtocol {
				p.watch(dc)
				return
			}
		}
		p.failWith(fmt.Errorf("unexpected channel %q", dc.Label()))
	})
	s, err := sig.ReadSignal(ctx)
	if err != nil {
		return nil, fmt.Errorf("read offer: %w", err)
	}
	if s.Type != netcode.SignalOffer {
		return nil, fmt.Errorf("got %q, want an offer", s.Type)
	}
	p.remoteInit = strings.Contains(s.SDP, "a=sctp-init:")
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
		return nil, fmt.Errorf("set offer: %w", err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return nil, fmt.Errorf("create answer: %w", err)
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return nil, fmt.Errorf("set answer: %w", err)
	}
	p.localInit = strings.Contains(answer.SDP, "a=sctp-init:")
	if err := sig.WriteSignal(ctx, netcode.Signal{Type: netcode.SignalAnswer, SDP: answer.SDP}); err != nil {
		return nil, fmt.Errorf("write answer: %w", err)
	}
	p.trickle()
	p.readSignals(nil)
	return p, p.wait(ctx, nil)
}

func (p *barePeer) wait(ctx context.Context, answered <-chan error) error {
	for {
		select {
		case <-p.open:
			return nil
		case err := <-answered:
			if err != nil {
				return fmt.Errorf("set answer: %w", err)
			}
			answered = nil
		case <-p.fail:
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.err
		case <-ctx.Done():
			return fmt.Errorf("channels did not open: %w", ctx.Err())
		}
	}
}

// snap says whether both descriptions carried a=sctp-init, so that SCTP
// skipped its handshake.
func (p *barePeer) snap() bool { return p.localInit && p.remoteInit }

// close ends the PeerConnection, which ends the channels' readers, and
// the signaler, which ends the signal goroutines, and waits for them.
func (p *barePeer) close() {
	p.cancel()
	_ = p.pc.Close()
	_ = p.sig.Close()
	p.wg.Wait()
}

func toSignalCandidate(c webrtc.ICECandidateInit) *netcode.ICECandidate {
	return &netcode.ICECandidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

func fromSignalCandidate(c netcode.ICECandidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}
