//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/pion/webrtc/v4"
)

// rtcConn is one PeerConnection as a link uses it: pion's here, the
// browser's RTCPeerConnection in rtc_js.go. The session logic (link.go,
// run.go, recovery.go) sees only this much of WebRTC, so that the browser
// build carries no WebRTC stack of its own.
type rtcConn struct {
	pc *webrtc.PeerConnection
}

func (c *rtcConn) handle(h rtcHandlers) {
	c.pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			h.candidate(nil)
			return
		}
		init := ICECandidate(cand.ToJSON())
		h.candidate(&init)
	})
	c.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { h.state(s.String()) })
	c.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		h.ice(parseICEState(s.String()))
	})
}

// offer creates an offer, with new ICE credentials if restart, and sets it
// as the local description.
func (c *rtcConn) offer(restart bool) (string, error) {
	var opts *webrtc.OfferOptions
	if restart {
		opts = &webrtc.OfferOptions{ICERestart: true}
	}
	o, err := c.pc.CreateOffer(opts)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	return o.SDP, nil
}

// answer applies a remote offer and returns the answer, set as the local
// description.
func (c *rtcConn) answer(offer string) (string, error) {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	a, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(a); err != nil {
		return "", err
	}
	return a.SDP, nil
}

// setAnswer applies the remote answer to our offer.
func (c *rtcConn) setAnswer(sdp string) error {
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

func (c *rtcConn) addCandidate(cand ICECandidate) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit(cand))
}

// createChannel opens a data channel with the label, protocol and
// reliability of info.
func (c *rtcConn) createChannel(info ChannelInfo) (*rtcChannel, error) {
	ordered, proto := info.Ordered, info.Protocol
	dc, err := c.pc.CreateDataChannel(info.Label, &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: info.MaxRetransmits, Protocol: &proto})
	if err != nil {
		return nil, err
	}
	return &rtcChannel{dc: dc, local: true}, nil
}

// path reads the selected candidate pair. pion's ICECandidate has no relay
// protocol; its stats do.
func (c *rtcConn) path(context.Context) (Path, error) {
	sctp := c.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return Path{}, errors.New("no transport yet")
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return Path{}, err
	}
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return Path{}, errors.New("no candidate pair selected")
	}
	end := func(c *webrtc.ICECandidate) PathEnd {
		return PathEnd{Type: c.Typ.String(), Protocol: c.Protocol.String(), Address: net.JoinHostPort(c.Address, strconv.Itoa(int(c.Port)))}
	}
	p := Path{Local: end(pair.Local), Remote: end(pair.Remote)}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		for _, st := range c.pc.GetStats() {
			if cs, ok := st.(webrtc.ICECandidateStats); ok && cs.Type == webrtc.StatsTypeLocalCandidate &&
				cs.IP == pair.Local.Address && cs.Port == int32(pair.Local.Port) && cs.CandidateType == webrtc.ICECandidateTypeRelay {
				p.Local.RelayProtocol = cs.RelayProtocol
			}
		}
	}
	return p, nil
}

// close releases the PeerConnection; pion's can take a moment.
func (c *rtcConn) close() error { return c.pc.Close() }

// clientConns returns the factory of a client's PeerConnections.
func clientConns(cfg *config) func() (*rtcConn, error) {
	se := newClientSettings(cfg)
	conf := webrtc.Configuration{ICEServers: pionICEServers(cfg.ICEServers)}
	if cfg.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return func() (*rtcConn, error) {
		se := se
		if cfg.Native.Net == nil {
			// The machine's interfaces, listed afresh for each connection
			// as pion would (a resume often follows a network change), with
			// loopback last (loopback.go).
			n, err := newLoopbackLast()
			if err != nil {
				return nil, fmt.Errorf("netcode: list network interfaces: %w", err)
			}
			se.SetNet(n)
		}
		pc, err := newAPI(se).NewPeerConnection(conf)
		if err != nil {
			return nil, fmt.Errorf("netcode: new peer connection: %w", err)
		}
		return &rtcConn{pc: pc}, nil
	}
}

func pionICEServers(servers []ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(servers))
	for _, s := range servers {
		ws := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			ws.Credential = s.Credential
			ws.CredentialType = webrtc.ICECredentialTypePassword
		}
		out = append(out, ws)
	}
	return out
}

func pionNetworkTypes(types []NetworkType) []webrtc.NetworkType {
	out := make([]webrtc.NetworkType, 0, len(types))
	for _, t := range types {
		nt, err := webrtc.NewNetworkType(string(t))
		if err == nil { // resolve checked them
			out = append(out, nt)
		}
	}
	return out
}
