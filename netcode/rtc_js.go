//go:build js

package netcode

import (
	"errors"
	"fmt"
	"sync"
	"syscall/js"
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
	u8 js.Value // the Uint8Array constructor

	mu       sync.Mutex
	closed   bool
	handlers []jsHandler
	chans    []*rtcChannel
}

// jsHandler is an event handler property we set, to be cleared and
// released on close.
type jsHandler struct {
	target js.Value
	prop   string
	fn     js.Func
}

// on sets target's handler property ("onopen") to f. Handlers run on the
// browser's event loop: f must not block.
func (c *rtcConn) on(target js.Value, prop string, f func(ev js.Value)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(arg0(args))
		return nil
	})
	target.Set(prop, fn)
	c.handlers = append(c.handlers, jsHandler{target, prop, fn})
}

func (c *rtcConn) handle(h rtcHandlers) {
	c.on(c.pc, "onicecandidate", func(ev js.Value) {
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
	c.on(c.pc, "onconnectionstatechange", func(js.Value) {
		s := c.pc.Get("connectionState").String()
		h.state(s)
		if s == "failed" {
			h.failed()
		}
	})
	c.on(c.pc, "oniceconnectionstatechange", func(js.Value) {
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
	dc, err := jsCall(c.pc, "createDataChannel", info.Label, init)
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
	handlers, chans := c.handlers, c.chans
	c.handlers, c.chans = nil, nil
	c.mu.Unlock()
	// Cleared before release: an event already queued then finds no
	// handler rather than a released function.
	for _, h := range handlers {
		h.target.Set(h.prop, js.Null())
	}
	_, err := jsCall(c.pc, "close")
	for _, h := range handlers {
		h.fn.Release()
	}
	for _, ch := range chans {
		ch.shut()
	}
	return err
}

// await calls method on the RTCPeerConnection and waits for the promise it
// returns.
func (c *rtcConn) await(method string, args ...any) (js.Value, error) {
	p, err := jsCall(c.pc, method, args...)
	if err != nil {
		return js.Undefined(), err
	}
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: arg0(args)}
		return nil
	})
	defer ok.Release()
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: jsError(arg0(args))}
		return nil
	})
	defer fail.Release()
	p.Call("then", ok, fail)
	r := <-done
	if r.err != nil {
		return js.Undefined(), fmt.Errorf("%s: %w", method, r.err)
	}
	return r.v, nil
}

// clientConns returns the factory of a client's PeerConnections.
func clientConns(cfg *Config) func() (*rtcConn, error) {
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
		ctor := js.Global().Get("RTCPeerConnection")
		if ctor.IsUndefined() {
			return nil, errNoWebRTC
		}
		pc, err := jsNew(ctor, map[string]any{"iceServers": servers, "iceTransportPolicy": policy})
		if err != nil {
			return nil, fmt.Errorf("netcode: new RTCPeerConnection: %w", err)
		}
		return &rtcConn{pc: pc, u8: js.Global().Get("Uint8Array")}, nil
	}
}

var errNoWebRTC = errors.New("netcode: no RTCPeerConnection in this JavaScript environment")

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

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// jsError turns a thrown or rejected value, normally a DOMException, into
// an error.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		if msg := v.Get("message"); msg.Type() == js.TypeString {
			return fmt.Errorf("%s: %s", v.Get("name").String(), msg.String())
		}
	}
	return errors.New(v.String())
}

// jsCall calls method on v and returns what it throws as an error.
func jsCall(v js.Value, method string, args ...any) (res js.Value, err error) {
	defer catch(&err)
	return v.Call(method, args...), nil
}

// jsNew constructs ctor and returns what it throws as an error.
func jsNew(ctor js.Value, args ...any) (res js.Value, err error) {
	defer catch(&err)
	return ctor.New(args...), nil
}

// catch recovers the panic with which syscall/js reports a JavaScript
// exception; any other panic goes on.
func catch(err *error) {
	r := recover()
	if r == nil {
		return
	}
	je, ok := r.(js.Error)
	if !ok {
		panic(r)
	}
	*err = jsError(je.Value)
}
