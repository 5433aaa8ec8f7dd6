//go:build js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
)

// rtcConn is the browser's own RTCPeerConnection, driven through
// syscall/js: the browser already has ICE, DTLS and SCTP, so the browser
// build carries no WebRTC stack of its own (rtc.go is pion's twin). This
// keeps the .wasm at half the size it has with pion's JS shim.
//
// Its methods that wait on a promise block the calling goroutine, never the
// event loop; they must not be called from an event handler.
type rtcConn struct {
	pc js.Value
	on browser.Handlers // of the PeerConnection and its channels
	// closedCtx ends with close, and every await in progress with it: once
	// the RTCPeerConnection is closed, its pending promises never settle.
	closedCtx context.Context
	stop      context.CancelFunc

	mu     sync.Mutex
	closed bool
	chans  []*rtcChannel
}

func (c *rtcConn) handle(h rtcHandlers) {
	c.on.On(c.pc, "onicecandidate", func(ev js.Value) {
		cand := ev.Get("candidate")
		switch {
		case cand.IsNull() || cand.IsUndefined():
			h.candidate(nil)
		case cand.Get("candidate").String() == "":
			// The older end-of-candidates of one media section; the null
			// that follows says the same for all of them.
		default:
			h.candidate(candidateFromJS(cand))
		}
	})
	c.on.On(c.pc, "onconnectionstatechange", func(js.Value) {
		h.state(c.pc.Get("connectionState").String())
	})
	c.on.On(c.pc, "oniceconnectionstatechange", func(js.Value) {
		h.ice(parseICEState(c.pc.Get("iceConnectionState").String()))
	})
}

// offer creates an offer, with new ICE credentials if restart, and sets it
// as the local description.
func (c *rtcConn) offer(restart bool) (string, error) {
	o, err := c.await("createOffer", map[string]any{"iceRestart": restart})
	if err != nil {
		return "", err
	}
	if _, err := c.await("setLocalDescription", o); err != nil {
		return "", err
	}
	return o.Get("sdp").String(), nil
}

// answer applies a remote offer and returns the answer, set as the local
// description. The browser is only ever a client, which never answers; it
// is here because the session logic is shared.
func (c *rtcConn) answer(offer string) (string, error) {
	if _, err := c.await("setRemoteDescription", map[string]any{"type": "offer", "sdp": offer}); err != nil {
		return "", err
	}
	a, err := c.await("createAnswer")
	if err != nil {
		return "", err
	}
	if _, err := c.await("setLocalDescription", a); err != nil {
		return "", err
	}
	return a.Get("sdp").String(), nil
}

// setAnswer applies the remote answer to our offer.
func (c *rtcConn) setAnswer(sdp string) error {
	_, err := c.await("setRemoteDescription", map[string]any{"type": "answer", "sdp": sdp})
	return err
}

func (c *rtcConn) addCandidate(cand ICECandidate) error {
	init := map[string]any{"candidate": cand.Candidate}
	if cand.SDPMid != nil {
		init["sdpMid"] = *cand.SDPMid
	}
	if cand.SDPMLineIndex != nil {
		init["sdpMLineIndex"] = int(*cand.SDPMLineIndex)
	}
	if cand.UsernameFragment != nil {
		init["usernameFragment"] = *cand.UsernameFragment
	}
	_, err := c.await("addIceCandidate", init)
	return err
}

// createChannel opens a data channel with the label, protocol and
// reliability of info; its messages arrive as ArrayBuffers.
func (c *rtcConn) createChannel(info ChannelInfo) (*rtcChannel, error) {
	init := map[string]any{"ordered": info.Ordered, "protocol": info.Protocol}
	if info.MaxRetransmits != nil {
		init["maxRetransmits"] = int(*info.MaxRetransmits)
	}
	dc, err := browser.Call(c.pc, "createDataChannel", info.Label, init)
	if err != nil {
		return nil, err
	}
	dc.Set("binaryType", "arraybuffer")
	ch := &rtcChannel{dc: dc, conn: c}
	c.mu.Lock()
	c.chans = append(c.chans, ch)
	c.mu.Unlock()
	return ch, nil
}

// close closes the RTCPeerConnection and fails its channels' reads: the
// browser fires no close event on them once it is closed. Idempotent.
func (c *rtcConn) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	chans := c.chans
	c.chans = nil
	c.mu.Unlock()
	c.stop()
	c.on.Release()
	_, err := browser.Call(c.pc, "close")
	for _, ch := range chans {
		ch.fail(errClosedChannel)
	}
	return err
}

// await calls method on the RTCPeerConnection and waits for the promise it
// returns, or for close: a promise pending when the RTCPeerConnection
// closes never settles (Chromium), and the goroutine waiting on it would
// hold up the close that waits for it.
func (c *rtcConn) await(method string, args ...any) (js.Value, error) {
	p, err := browser.Call(c.pc, method, args...)
	if err == nil {
		p, err = browser.Await(c.closedCtx, p)
		if c.closedCtx.Err() != nil {
			err = ErrClosed
		}
	}
	if err != nil {
		return js.Undefined(), fmt.Errorf("%s: %w", method, err)
	}
	return p, nil
}

// path reads the selected candidate pair from getStats: the transport's
// selectedCandidatePairId (Chromium), else the nominated pair that
// succeeded (Firefox marks it so).
func (c *rtcConn) path(ctx context.Context) (Path, error) {
	p, err := browser.Call(c.pc, "getStats")
	if err != nil {
		return Path{}, err
	}
	stats, err := browser.Await(ctx, p)
	if err != nil {
		return Path{}, err
	}
	var pair js.Value
	each := func(f func(s js.Value)) {
		cb := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		defer cb.Release()
		stats.Call("forEach", cb)
	}
	each(func(s js.Value) {
		if s.Get("type").String() == "transport" && s.Get("selectedCandidatePairId").Type() == js.TypeString {
			if v := stats.Call("get", s.Get("selectedCandidatePairId")); v.Truthy() {
				pair = v
			}
		}
	})
	if !pair.Truthy() {
		each(func(s js.Value) {
			if s.Get("type").String() == "candidate-pair" && s.Get("nominated").Truthy() && s.Get("state").String() == "succeeded" {
				pair = s
			}
		})
	}
	if !pair.Truthy() {
		return Path{}, errors.New("no candidate pair selected")
	}
	end := func(id js.Value) PathEnd {
		cand := stats.Call("get", id)
		if !cand.Truthy() {
			return PathEnd{}
		}
		str := func(k string) string {
			if v := cand.Get(k); v.Type() == js.TypeString {
				return v.String()
			}
			return ""
		}
		addr := str("address")
		if addr == "" {
			addr = str("ip")
		}
		port := ""
		if v := cand.Get("port"); v.Type() == js.TypeNumber {
			port = strconv.Itoa(v.Int())
		}
		return PathEnd{Type: str("candidateType"), Protocol: str("protocol"), RelayProtocol: str("relayProtocol"), Address: net.JoinHostPort(addr, port)}
	}
	return Path{Local: end(pair.Get("localCandidateId")), Remote: end(pair.Get("remoteCandidateId"))}, nil
}

// clientConns returns the factory of a client's PeerConnections.
func clientConns(cfg *config) func() (*rtcConn, error) {
	servers := make([]any, 0, len(cfg.ICEServers))
	for _, s := range cfg.ICEServers {
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		m := map[string]any{"urls": urls}
		if s.Username != "" {
			m["username"] = s.Username
		}
		if s.Credential != "" {
			m["credential"] = s.Credential
		}
		servers = append(servers, m)
	}
	policy := "all"
	if cfg.RelayOnly {
		policy = "relay"
	}
	return func() (*rtcConn, error) {
		ctor, err := browser.Global("RTCPeerConnection")
		if err == nil {
			ctor, err = browser.New(ctor, map[string]any{"iceServers": servers, "iceTransportPolicy": policy})
		}
		if err != nil {
			// Config has checked the ICE servers, so this is the browser's
			// own refusal (WebRTC disabled, say).
			return nil, fmt.Errorf("netcode: new RTCPeerConnection: %w", err)
		}
		ctx, stop := context.WithCancel(context.Background())
		return &rtcConn{pc: ctor, closedCtx: ctx, stop: stop}, nil
	}
}

// candidateFromJS reads an RTCIceCandidate.
func candidateFromJS(v js.Value) *ICECandidate {
	c := &ICECandidate{Candidate: v.Get("candidate").String()}
	if m := v.Get("sdpMid"); m.Type() == js.TypeString {
		s := m.String()
		c.SDPMid = &s
	}
	if i := v.Get("sdpMLineIndex"); i.Type() == js.TypeNumber {
		n := uint16(i.Int())
		c.SDPMLineIndex = &n
	}
	if u := v.Get("usernameFragment"); u.Type() == js.TypeString {
		s := u.String()
		c.UsernameFragment = &s
	}
	return c
}
