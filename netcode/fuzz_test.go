//go:build !js

package netcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickwire/tickwire/internal/vnetpair"
	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// What a hostile client sends the server during the handshake (FuzzAccept),
// and what a hostile server or lobby sends a client (FuzzDialAnswer), fed to
// the real Server.Accept and Dial over a SignalPipe. Both ends live on a
// pion virtual network (internal/vnetpair): a fuzzed candidate or SDP may
// name any address, and the ICE checks pion sends there must never leave
// the process.

// fuzzOffer is an offer as Tickwire's native client makes it (captured
// from clientConns on the vnet), so that mutations start from an SDP the
// server accepts; fuzzCands are the candidates it trickled.
const fuzzOffer = "v=0\r\no=- 2711506437641131305 1796430931 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
	"a=msid-semantic:WMS *\r\n" +
	"a=fingerprint:sha-256 A9:23:81:9F:3A:D6:83:72:4F:CF:8B:60:A0:93:D8:E2:E2:84:FE:0B:42:7D:E7:00:24:5C:51:97:52:48:0A:96\r\n" +
	"a=extmap-allow-mixed\r\na=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=sctp-port:5000\r\na=max-message-size:1073741823\r\n" +
	"a=ice-ufrag:wJeilWEigbOcrxpj\r\na=ice-pwd:SaNkYRZStIUrgRLeUxyukeDyRpgRkMBi\r\n"

// fuzzChromeOffer is a browser-style offer: candidates inline, ice-options,
// a 262144-byte max-message-size.
const fuzzChromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"a=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" +
	"c=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2113937151 10.0.0.2 50000 typ host generation 0 network-cost 999\r\n" +
	"a=candidate:2 1 udp 2113939711 abcdef01-2345-6789-abcd-ef0123456789.local 50001 typ host generation 0\r\n" +
	"a=ice-ufrag:Xb3r\r\na=ice-pwd:0123456789abcdefghijklmn\r\na=ice-options:trickle\r\n" +
	"a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\r\n" +
	"a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"

var fuzzCands = []string{
	"candidate:993229102 1 udp 2130706431 10.0.0.2 5100 typ host ufrag wJeilWEigbOcrxpj generation 0",
	"candidate:2878742611 1 udp 2130706431 127.0.0.1 5430 typ host ufrag wJeilWEigbOcrxpj generation 0",
	"candidate:1 1 udp 1694498815 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 5100",
	"candidate:2 1 udp 16777215 198.51.100.9 3478 typ relay raddr 0.0.0.0 rport 0",
	"candidate:3 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active",
	"candidate:4 1 tcp 1518280447 10.0.0.2 7000 typ host tcptype passive",
	"candidate:5 1 udp 2130706431 abcdef01-2345-6789-abcd-ef0123456789.local 5000 typ host",
	"candidate:6 1 udp 2130706431 ::1 5000 typ host",
	"candidate:7 1 udp 2130706431 10.0.0.2 99999 typ host",
	"candidate:8 1 udp -1 10.0.0.2 5000 typ host",
	"candidate:9 2 udp 1 10.0.0.2 5000 typ prflx",
	"a=candidate:1 1 udp 1 10.0.0.2 5000 typ host",
	"candidate:1 1 UDP 2130706431 10.0.0.2 5000 typ host unknown-ext value",
	"candidate:",
	"",
}

// fuzzSignalTypes are the first signal's types a fuzzed input picks from:
// mostly offers, since the rest fail at once.
var fuzzSignalTypes = [8]string{SignalOffer, SignalOffer, SignalOffer, SignalOffer, SignalAnswer, SignalCandidate, SignalRestart, "pranswer"}

// fuzzHandshake bounds each handshake. An input normally ends much sooner:
// once the far side has answered and taken every signal the input made,
// the fuzzer hangs up (hangUp), as no one is there to open the channels.
const fuzzHandshake = 5 * time.Second

// hangUp closes sig once the far side has read every signal written to
// it, or when done is closed first. The far side's signal reader applies
// each signal before it reads the next, so by then the input has been
// handled; the close then ends the handshake at once with ErrSignaling.
func hangUp(sig Signaler, answered func() bool, done <-chan struct{}) {
	end := sig.(*pipeEnd)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !answered() || len(end.out) > 0 {
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
	_ = sig.Close()
}

// fuzzNet is the virtual network of the handshake fuzzers, with a server
// on it, created once per fuzz target (per worker process when fuzzing).
type fuzzNet struct {
	srv    *Server
	client *ClientConfig
	// base is the goroutine count with the server idle; each input must
	// leave it there.
	base int
}

func newFuzzNet(f *testing.F) *fuzzNet {
	f.Helper()
	serverNet, clientNet, stop, err := vnetpair.New(0, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = stop() })
	fn := &fuzzNet{srv: newTestServer(f, vnetServerConfig(serverNet)), client: vnetClientConfig(clientNet)}
	fn.base = runtime.NumGoroutine()
	return fn
}

// fuzzGoroutineSlack allows for the fuzzing machinery's own goroutines (a
// subtest per seed, for one): a leak of even one goroutine per input still
// passes it within a few inputs.
const fuzzGoroutineSlack = 8

// settle waits, boundedly, for the goroutines an input started to end.
func (fn *fuzzNet) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > fn.base+fuzzGoroutineSlack {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines left running, %d before: leak\n%s", runtime.NumGoroutine(), fn.base, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fuzzCandidate builds the trickled candidate of a fuzzed input.
func fuzzCandidate(cand, mid string, flags uint8) *ICECandidate {
	c := &ICECandidate{Candidate: cand}
	if flags&0x08 == 0 {
		c.SDPMid = &mid
	}
	if flags&0x10 != 0 {
		idx := uint16(len(mid))
		c.SDPMLineIndex = &idx
	}
	return c
}

// handshakeErr says whether err is one the handshake documents: a sentinel
// of this package, or the context's end.
func handshakeErr(err error) bool {
	for _, want := range []error{ErrSignaling, ErrResumeRejected, ErrRefused, ErrProtocol, ErrConnectionLost, context.DeadlineExceeded} {
		if errors.Is(err, want) {
			return true
		}
	}
	return false
}

// FuzzAccept: whatever offer, resume token, generation and candidates a
// client sends, Accept returns an error of the documented kinds (nobody
// completes the handshake) without a panic, closes the signaler, answers a
// resume presented as a new client with a refusal, sends nothing but
// answers, candidates and refusals, keeps no session and leaves no
// goroutine behind.
func FuzzAccept(f *testing.F) {
	fn := newFuzzNet(f)
	const tok = "q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"
	for i, c := range fuzzCands {
		f.Add(fuzzOffer, "", uint32(0), c, "0", uint8(i%2)<<4)
	}
	f.Add(fuzzChromeOffer, "", uint32(0), fuzzCands[0], "0", uint8(0x20))
	f.Add(fuzzOffer, "", uint32(0), fuzzCands[0], "0", uint8(0x40|0x80))
	f.Add(fuzzOffer, tok, uint32(1), fuzzCands[0], "0", uint8(0))
	f.Add(fuzzOffer, "", uint32(7), fuzzCands[0], "0", uint8(0))
	f.Add(fuzzOffer, "", uint32(0), fuzzCands[0], "0", uint8(4)) // an answer first
	f.Add(fuzzOffer, "", uint32(0), fuzzCands[0], "0", uint8(5)) // a candidate first
	f.Add(fuzzOffer, "", uint32(0), fuzzCands[0], "0", uint8(7)) // an unknown type
	f.Add(strings.Repeat("a=x\r\n", maxSDPSize/5+1), "", uint32(0), "", "", uint8(0))
	f.Add(strings.Replace(fuzzOffer, "m=application", "m=audio", 1), "", uint32(0), "", "0", uint8(0))
	f.Add(strings.Replace(fuzzOffer, "a=ice-pwd:SaNkYRZStIUrgRLeUxyukeDyRpgRkMBi\r\n", "", 1), "", uint32(0), "", "0", uint8(0))
	f.Add(strings.Replace(fuzzOffer, "a=fingerprint:sha-256", "a=fingerprint:md5", 1), "", uint32(0), "", "0", uint8(0))
	f.Add(strings.Replace(fuzzOffer, "a=setup:actpass", "a=setup:passive", 1), "", uint32(0), "", "0", uint8(0))
	f.Add(fuzzOffer+fuzzOffer[strings.Index(fuzzOffer, "m="):], "", uint32(0), "", "0", uint8(0))
	f.Add("v=0\r\n", "", uint32(0), "", "", uint8(0))
	f.Add("", "", uint32(0), "", "", uint8(0))
	f.Add("\x00\xff\r\n=\r\n", "\xff", uint32(1<<32-1), "\x00", "\xff", uint8(0xff))
	f.Fuzz(func(t *testing.T, sdp, resume string, gen uint32, cand, mid string, flags uint8) {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzHandshake)
		defer cancel()
		csig, ssig := SignalPipe()
		defer csig.Close()
		first := Signal{Type: fuzzSignalTypes[flags&7], SDP: sdp, Gen: gen, Resume: resume}
		sigs := []Signal{first, {Type: SignalCandidate, Gen: gen, Candidate: fuzzCandidate(cand, mid, flags)}}
		if flags&0x20 != 0 {
			sigs = append(sigs, Signal{Type: SignalCandidate, Gen: gen})
		}
		if flags&0x40 != 0 {
			sigs = append(sigs, Signal{Type: SignalCandidate, Gen: gen + 1, Candidate: fuzzCandidate(cand, mid, flags)})
		}
		if flags&0x80 != 0 {
			sigs = append(sigs, first) // an ICE restart offer before the channels open
		}
		for _, s := range sigs {
			if err := csig.WriteSignal(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		type result struct {
			sess *Session
			err  error
		}
		accepted := make(chan result, 1)
		go func() {
			sess, err := fn.srv.Accept(ctx, ssig)
			accepted <- result{sess, err}
		}()

		// Read what the server sends; hang up once it has answered and
		// taken every signal, and read on to the end of the signaling:
		// Accept closes the Signaler it fails with.
		isResume := first.Type == SignalOffer && len(sdp) <= maxSDPSize && resume != ""
		refused := false
		var answered atomic.Bool
		acceptDone := make(chan struct{})
		go hangUp(csig, answered.Load, acceptDone)
		for {
			s, err := csig.ReadSignal(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					t.Fatalf("signaling not closed after Accept failed: %v", err)
				}
				break
			}
			switch s.Type {
			case SignalAnswer:
				if isResume || s.Gen != 0 || len(s.Resume) != 43 || s.SDP == "" {
					t.Fatalf("answer %+v to %+v", s, first)
				}
				answered.Store(true)
			case SignalCandidate:
			case SignalRefused:
				// A resume is refused for its token; a new client whose
				// handshake failed is told why, with a close code.
				ok := s.Error != "" && len(s.Error) <= wire.MaxReasonLen
				if isResume {
					ok = ok && s.Gen == gen && s.Code == 0
				} else {
					ok = ok && s.Gen == 0 && s.Code == uint16(CloseProtocolError)
				}
				if !ok {
					t.Fatalf("refusal %+v to %+v", s, first)
				}
				refused = true
			default:
				t.Fatalf("the server sent a %q signal", s.Type)
			}
		}
		r := <-accepted
		close(acceptDone)
		if r.err == nil {
			_ = r.sess.Close("")
			t.Fatalf("a session opened with no client behind the offer")
		}
		err := r.err
		if !handshakeErr(err) {
			t.Fatalf("Accept: %v (%T), not a documented error", err, err)
		}
		if isResume && !errors.Is(err, ErrResumeRejected) {
			t.Fatalf("a resume presented as a new client: %v, want ErrResumeRejected", err)
		}
		if first.Type != SignalOffer && !errors.Is(err, ErrSignaling) {
			t.Fatalf("first signal %q: %v, want ErrSignaling", first.Type, err)
		}
		if isResume && !refused {
			t.Fatalf("resume refused without a refused signal: %v", err)
		}
		if n := len(fn.srv.Sessions()); n != 0 {
			t.Fatalf("%d sessions after a failed Accept", n)
		}
		fn.settle(t)
	})
}

// fuzzAnswer is the captured offer turned into an answer that a client
// accepts.
func fuzzAnswer() string {
	return strings.NewReplacer("a=setup:actpass", "a=setup:active", "a=sendrecv\r\n", "").Replace(fuzzOffer)
}

// FuzzDialAnswer: whatever a hostile game server (or a lobby relaying for
// one) answers to a client's offer, Dial returns an error of the
// documented kinds without a panic, and leaves no goroutine behind.
func FuzzDialAnswer(f *testing.F) {
	fn := newFuzzNet(f)
	answer := fuzzAnswer()
	for i, c := range fuzzCands[:6] {
		f.Add(answer, "", uint8(0), c, "0", uint8(i%2)<<4)
	}
	f.Add(answer, "q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_", uint8(0), fuzzCands[0], "0", uint8(0x20))
	f.Add(answer, "", uint8(1), fuzzCands[0], "0", uint8(0))         // refused
	f.Add(answer, "", uint8(2), fuzzCands[0], "0", uint8(0))         // restart
	f.Add(answer, "", uint8(3), fuzzCands[0], "0", uint8(0))         // an offer
	f.Add(answer, "", uint8(0), fuzzCands[0], "0", uint8(0x40|0x80)) // another gen, twice
	f.Add(fuzzOffer, "", uint8(0), "", "0", uint8(0))
	f.Add(fuzzChromeOffer, "", uint8(0), "", "0", uint8(0))
	f.Add("v=0\r\n", "", uint8(0), "", "", uint8(0))
	f.Add("", "", uint8(0), "", "", uint8(0))
	f.Add("\x00\xff", "\xff", uint8(0xff), "\x00", "\xff", uint8(0xff))
	types := [4]string{SignalAnswer, SignalRefused, SignalRestart, SignalOffer}
	f.Fuzz(func(t *testing.T, sdp, resume string, typ uint8, cand, mid string, flags uint8) {
		ctx, cancel := context.WithTimeout(context.Background(), fuzzHandshake)
		defer cancel()
		csig, ssig := SignalPipe()
		dialDone := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			// The hostile server: read the offer, answer with the input,
			// then read what else the client sends until it hangs up.
			defer wg.Done()
			defer ssig.Close()
			offer, err := ssig.ReadSignal(ctx)
			if err != nil {
				return
			}
			if offer.Type != SignalOffer || offer.Gen != 0 || offer.SDP == "" || offer.Resume != "" {
				t.Errorf("the client offered %+v", offer)
			}
			gen := uint32(flags >> 6 & 1)
			s := Signal{Type: types[typ&3], SDP: sdp, Gen: gen, Resume: resume}
			if s.Type == SignalRefused {
				s.Error = sdp
			}
			sigs := []Signal{s, {Type: SignalCandidate, Gen: gen, Candidate: fuzzCandidate(cand, mid, flags)}}
			if flags&0x20 != 0 {
				sigs = append(sigs, Signal{Type: SignalCandidate, Gen: gen})
			}
			if flags&0x80 != 0 {
				sigs = append(sigs, s)
			}
			for _, s := range sigs {
				if ssig.WriteSignal(ctx, s) != nil {
					return
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				hangUp(ssig, func() bool { return true }, dialDone)
			}()
			for {
				if _, err := ssig.ReadSignal(ctx); err != nil {
					return
				}
			}
		}()
		c, err := Dial(ctx, csig, fn.client)
		close(dialDone)
		if err == nil {
			_ = c.Close()
			wg.Wait()
			t.Fatal("Dial connected to a server that never opened a channel")
		}
		if !handshakeErr(err) {
			t.Fatalf("Dial: %v (%T), not a documented error", err, err)
		}
		wg.Wait()
		fn.settle(t)
	})
}

// FuzzSignalJSON: a Signal as the lobby carries it decodes from any JSON
// without a panic, and what decodes encodes to JSON that decodes to the
// same Signal (netcode.Signal is the lobby protocol's "signal" field, so
// both ends must agree on it byte for byte).
func FuzzSignalJSON(f *testing.F) {
	mid, idx, ufrag := "0", uint16(0), "wJei"
	for _, s := range []Signal{
		{Type: SignalOffer, SDP: fuzzOffer},
		{Type: SignalAnswer, SDP: "v=0\r\n", Gen: 3, Resume: "q0Zb2rWw3x5sVt7YhJk9LmNpQrStUvWxYz0123456-_"},
		{Type: SignalCandidate, Gen: 1, Candidate: &ICECandidate{Candidate: fuzzCands[0], SDPMid: &mid, SDPMLineIndex: &idx, UsernameFragment: &ufrag}},
		{Type: SignalCandidate},
		{Type: SignalRefused, Gen: 2, Error: "resume token already used"},
		{Type: SignalRestart, Gen: 1},
	} {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{}`, `null`, `{"type":"candidate","candidate":null}`, `{"candidate":{"sdpMid":null,"sdpMLineIndex":65535}}`,
		`{"gen":4294967296}`, `{"gen":-1}`, `{"sdp":"\ud800"}`, `{"type":"offer","TYPE":"answer"}`, `{"candidate":{"candidate":1}}`, "{\"sdp\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Signal
		if json.Unmarshal(b, &s) != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("%+v does not encode: %v", s, err)
		}
		var again Signal
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("%s does not decode: %v", out, err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip of %q through %s:\n got %+v\nwant %+v", b, out, again, s)
		}
	})
}

// TestFuzzSeedsReachTheHandshake keeps the handshake fuzzers' seeds
// meaningful: the captured offer (and the browser-style one) still gets
// an answer from the server, which then waits for channels, so that
// mutations of it reach the candidate handling and beyond.
func TestFuzzSeedsReachTheHandshake(t *testing.T) {
	serverNet, _, stop, err := vnetpair.New(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv := newTestServer(t, vnetServerConfig(serverNet))
	for _, offer := range []string{fuzzOffer, fuzzChromeOffer} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		csig, ssig := SignalPipe()
		_ = csig.WriteSignal(ctx, Signal{Type: SignalOffer, SDP: offer})
		_ = csig.WriteSignal(ctx, Signal{Type: SignalCandidate, Candidate: fuzzCandidate(fuzzCands[0], "0", 0)})
		_, err := srv.Accept(ctx, ssig)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Accept of a seed offer: %v, want it to wait for the channels", err)
		}
		s, err := csig.ReadSignal(context.Background())
		if err != nil || s.Type != SignalAnswer {
			t.Errorf("first signal back: %+v, %v; want the answer", s, err)
		}
		_ = csig.Close()
	}
	// And the answer seed: the client applies it and waits for channels.
	_, clientNet, stop2, err := vnetpair.New(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	csig, ssig := SignalPipe()
	defer ssig.Close()
	go func() {
		if _, err := ssig.ReadSignal(ctx); err == nil {
			_ = ssig.WriteSignal(ctx, Signal{Type: SignalAnswer, SDP: fuzzAnswer()})
		}
	}()
	if _, err := Dial(ctx, csig, vnetClientConfig(clientNet)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial answered with the seed answer: %v, want it to wait for the channels", err)
	}
}
