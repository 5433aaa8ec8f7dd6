//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"github.com/tickwire/tickwire/internal/flood"
	"github.com/tickwire/tickwire/internal/vnetpair"
)

// The hostile-client suite, netcode's half (the lobby's is in
// lobby/hostile_test.go): each test attacks a server as a player could,
// with others playing beside, and checks that they keep two thirds of their
// snapshot rate and their connection, that the attacker gets what
// SECURITY.md says, and that the server gives back what the attack took.

// recordingSignaler keeps the SDPs that cross a client's signaling, and
// can rewrite its offer or send extra signals as the client.
type recordingSignaler struct {
	Signaler
	mu            sync.Mutex
	offer, answer string
	rewrite       func(Signal) Signal // applied to what the client writes
	after         func(Signal)        // called once it is written
}

func (r *recordingSignaler) WriteSignal(ctx context.Context, s Signal) error {
	if r.rewrite != nil {
		s = r.rewrite(s)
	}
	if s.Type == SignalOffer {
		r.mu.Lock()
		r.offer = s.SDP
		r.mu.Unlock()
	}
	err := r.Signaler.WriteSignal(ctx, s)
	if err == nil && r.after != nil {
		r.after(s)
	}
	return err
}

func (r *recordingSignaler) ReadSignal(ctx context.Context) (Signal, error) {
	s, err := r.Signaler.ReadSignal(ctx)
	if err == nil && s.Type == SignalAnswer {
		r.mu.Lock()
		r.answer = s.SDP
		r.mu.Unlock()
	}
	return s, err
}

var (
	ufragRe = regexp.MustCompile(`(?m)^a=ice-ufrag:(\S+)`)
	pwdRe   = regexp.MustCompile(`(?m)^a=ice-pwd:(\S+)`)
)

// iceCreds reads the ICE credentials of an SDP.
func iceCreds(t *testing.T, sdp string) (ufrag, pwd string) {
	t.Helper()
	u, p := ufragRe.FindStringSubmatch(sdp), pwdRe.FindStringSubmatch(sdp)
	if u == nil || p == nil {
		t.Fatalf("no ICE credentials in SDP:\n%s", sdp)
	}
	return u[1], p[1]
}

// TestHostilePeerReflexiveFlood: a seated player sends valid ICE checks,
// with its own session's credentials, from thousands of source ports.
// Each would become a peer-reflexive candidate, paired and checked for as
// long as the session lives; only ServerConfig.MaxPeerAddresses do.
func TestHostilePeerReflexiveFlood(t *testing.T) {
	pg := newPlayground(t, nil, nil, 2)
	base := measureResources()
	rec := &recordingSignaler{}
	attacker, _ := connectWrapped(t, pg.srv, nil, func(s Signaler) Signaler { rec.Signaler = s; return rec })
	clientUfrag, _ := iceCreds(t, rec.offer)
	serverUfrag, serverPwd := iceCreds(t, rec.answer)
	target := pg.srv.UDPAddr().(*net.UDPAddr).AddrPort()
	before := pg.watch(2 * time.Second)
	mux0 := pg.srv.udpMux.Stats()

	const sources = 4000
	done := make(chan int)
	go func() {
		sent := 0
		for sent < sources {
			// A few hundred sockets at a time, each one check: as many
			// source ports as the attacker likes, a few file descriptors.
			var socks []*net.UDPConn
			for range 200 {
				c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					break
				}
				socks = append(socks, c)
			}
			for _, c := range socks {
				m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
					stun.NewUsername(serverUfrag+":"+clientUfrag), ice.PriorityAttr(1<<24),
					ice.AttrControlling(1), stun.NewShortTermIntegrity(serverPwd), stun.Fingerprint)
				if err == nil {
					_, _ = c.WriteToUDPAddrPort(m.Raw, target)
					sent++
				}
			}
			time.Sleep(20 * time.Millisecond)
			for _, c := range socks {
				_ = c.Close()
			}
		}
		done <- sent
	}()
	during := pg.watch(2 * time.Second)
	sent := <-done
	pg.kept(before, during)

	st := pg.srv.udpMux.Stats()
	over := st.OverLearnt - mux0.OverLearnt
	t.Logf("%d checks from %d ports: %d refused as past MaxPeerAddresses (%d)", sent, sent, over, defaultMaxPeerAddresses)
	if over < uint64(sent-defaultMaxPeerAddresses-50) {
		t.Errorf("only %d of %d checks from new addresses refused; the cap is %d", over, sent, defaultMaxPeerAddresses)
	}
	// The agent saw no more than the cap: count its remote candidates.
	var remote int
	for _, sess := range pg.srv.Sessions() {
		if sess.p.link.Load() == nil {
			continue
		}
		report := sess.p.link.Load().rc.pc.GetStats()
		for _, s := range report {
			if cs, ok := s.(webrtc.ICECandidateStats); ok && cs.Type == webrtc.StatsTypeRemoteCandidate && cs.CandidateType == webrtc.ICECandidateTypePrflx {
				remote++
			}
		}
	}
	if remote > 3*defaultMaxPeerAddresses { // three sessions: two players and the attacker
		t.Errorf("%d peer-reflexive candidates on the server, cap %d per session", remote, defaultMaxPeerAddresses)
	}
	if err := attacker.Err(); err != nil {
		t.Errorf("the attacker's own session ended (%v): extra checks are to be dropped, no more", err)
	}
	_ = attacker.Close()
	comeBack(t, base)
}

// thirdParties is the TEST-NET range the reflection test's candidates name:
// no host has these addresses, so the vnet router counts and drops what
// the server sends them.
var thirdParties = netip.MustParsePrefix("198.51.100.0/24")

// TestHostileReflection: a player's candidates name other hosts, in its
// offer or trickled, to make the server send them STUN checks. The server
// must send at most ServerConfig.UnansweredChecks packets to each address it
// accepts, accept at most ServerConfig.MaxCandidates, and none to its own
// networks, loopback, link-local, multicast or privileged ports.
func TestHostileReflection(t *testing.T) {
	var toThird, toOwn, bytesThird atomic.Uint64
	filter := func(c vnet.Chunk) bool {
		a, ok := c.DestinationAddr().(*net.UDPAddr)
		if !ok {
			return true
		}
		ip, _ := netip.AddrFromSlice(a.IP)
		switch {
		case thirdParties.Contains(ip.Unmap()):
			toThird.Add(1)
			bytesThird.Add(uint64(len(c.UserData())))
		case a.IP.String() != vnetpair.ClientIP && a.IP.String() != vnetpair.ServerIP && strings.HasPrefix(a.IP.String(), "10.0.0."):
			toOwn.Add(1)
		}
		return true
	}
	serverNet, clientNet, stop, err := vnetpair.New(time.Millisecond, filter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	scfg := vnetServerConfig(serverNet)
	ccfg := vnetClientConfig(clientNet)
	pg := newPlayground(t, scfg, ccfg, 2)
	base := measureResources()

	cand := func(i int, ip string, port int) string {
		return fmt.Sprintf("candidate:%d 1 udp %d %s %d typ host", 100+i, 2130706431-i, ip, port)
	}
	third := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, cand(i, fmt.Sprintf("198.51.100.%d", 1+i%250), 40000+i))
		}
		return out
	}
	var local []string
	for i := range 20 {
		local = append(local, cand(i, fmt.Sprintf("10.0.0.%d", 100+i), 40000+i)) // the server's network
	}
	local = append(local,
		cand(30, "127.0.0.1", 5000), cand(31, "169.254.1.1", 5000), cand(32, "224.0.0.251", 5353),
		cand(33, "::1", 5000), cand(34, "fe80::1", 5000), cand(35, "198.51.100.250", 53), cand(36, "0.0.0.0", 5000),
		cand(37, "255.255.255.255", 5000))

	tests := []struct {
		name    string
		inOffer []string // candidate lines added to the offer
		trickle []string // and sent as candidates after it
		wantErr error    // what Accept says; nil: the attacker connects
		refused int      // CandidatesRefused on its session
		third   int      // addresses of thirdParties accepted
	}{
		{"120 in the offer", third(120), nil, ErrLimit, 0, 0},
		{"the limit in the offer", third(defaultMaxCandidates), nil, nil, 0, defaultMaxCandidates},
		{"local ones in the offer", local, nil, nil, len(local), 0},
		{"trickled past the limit", nil, third(defaultMaxCandidates + 8), ErrLimit, 0, defaultMaxCandidates},
		{"local ones trickled", nil, local, nil, len(local), 0},
	}
	before := pg.watch(2 * time.Second)
	var sigBytes int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toThird.Store(0)
			toOwn.Store(0)
			bytesThird.Store(0)
			csig, ssig := SignalPipe()
			rec := &recordingSignaler{Signaler: csig}
			var sent atomic.Int64
			rec.rewrite = func(s Signal) Signal {
				if s.Type == SignalOffer && len(tt.inOffer) > 0 {
					s.SDP = strings.Replace(s.SDP, "a=ice-ufrag:", "a="+strings.Join(tt.inOffer, "\r\na=")+"\r\na=ice-ufrag:", 1)
				}
				sent.Add(int64(len(s.SDP)))
				if s.Candidate != nil {
					sent.Add(int64(len(s.Candidate.Candidate)))
				}
				return s
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			accepted := make(chan error, 1)
			var sess *Session
			go func() {
				var err error
				sess, err = pg.srv.Accept(ctx, ssig)
				accepted <- err
			}()
			c, dialErr := dialWithTrickle(ctx, rec, ccfg, tt.trickle, &sent)
			err := <-accepted
			if err == nil && tt.wantErr != nil {
				// The handshake may finish before the server reads the
				// candidate past the limit: then the session ends on it.
				select {
				case <-sess.Done():
					err = sess.Err()
				case <-ctx.Done():
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Accept: %v (Dial: %v); want %v", err, dialErr, tt.wantErr)
			}
			if tt.wantErr == nil {
				if dialErr != nil {
					t.Fatalf("Dial: %v", dialErr)
				}
				// Let the server's agent check everything it accepted.
				time.Sleep(2 * time.Second)
				// The client's own candidate (10.0.0.2, the server's
				// network) is refused too.
				if got := sess.Stats().CandidatesRefused; got < uint64(tt.refused) {
					t.Errorf("CandidatesRefused %d, want at least %d", got, tt.refused)
				}
			} else {
				time.Sleep(time.Second)
			}
			if c != nil {
				_ = c.Close()
			}
			third, own := toThird.Load(), toOwn.Load()
			sigBytes += int(sent.Load())
			t.Logf("signaling %d bytes; the server sent %d packets (%d bytes) to third parties, %d to its own network",
				sent.Load(), third, bytesThird.Load(), own)
			if own != 0 {
				t.Errorf("%d packets to the server's own network", own)
			}
			if max := uint64(tt.third * defaultUnansweredChecks); third > max {
				t.Errorf("%d packets to third parties; at most %d accepted addresses x %d checks = %d", third, tt.third, defaultUnansweredChecks, max)
			}
			if bytesThird.Load() > uint64(3*sent.Load()) {
				t.Errorf("the server sent third parties %d bytes for %d of signaling: more than 3x", bytesThird.Load(), sent.Load())
			}
		})
	}
	pg.kept(before, pg.watch(2*time.Second))
	comeBack(t, base)
}

// dialWithTrickle dials like Dial, then sends extra candidates as the
// client's own trickle, as soon as its offer is out.
func dialWithTrickle(ctx context.Context, sig *recordingSignaler, cfg *ClientConfig, extra []string, sent *atomic.Int64) (*Client, error) {
	var once sync.Once
	sig.after = func(s Signal) {
		if s.Type != SignalOffer || len(extra) == 0 {
			return
		}
		once.Do(func() {
			mid := "0"
			for _, c := range extra {
				sent.Add(int64(len(c)))
				_ = sig.Signaler.WriteSignal(ctx, Signal{Type: SignalCandidate, Candidate: &ICECandidate{Candidate: c, SDPMid: &mid}})
			}
		})
	}
	return Dial(ctx, sig, cfg)
}

// floodEnv makes the test binary a flooder (TestMain): "target rate
// duration kind", as startFlood passes it.
const floodEnv = "TICKWIRE_TEST_FLOOD"

// runFlooder floods as floodEnv says, from its own process, as an
// attacker's machine would, and prints how many packets it sent.
func runFlooder(spec string) int {
	f := strings.Fields(spec)
	if len(f) != 4 {
		fmt.Fprintf(os.Stderr, "flooder: bad spec %q\n", spec)
		return 2
	}
	ap, err1 := netip.ParseAddrPort(f[0])
	rate, err2 := strconv.Atoi(f[1])
	d, err3 := time.ParseDuration(f[2])
	kind, err4 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		fmt.Fprintln(os.Stderr, "flooder:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := flood.Run(ctx, flood.Config{Target: ap, Rate: rate, Kind: flood.Kind(kind), Sources: 256})
	if err != nil {
		fmt.Fprintln(os.Stderr, "flooder:", err)
		return 1
	}
	fmt.Println(n)
	return 0
}

// startFlood runs a flooder process at target for d; wait returns the
// packets it sent.
func startFlood(t *testing.T, target netip.AddrPort, rate int, d time.Duration, kind flood.Kind) (wait func() uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %s %d", floodEnv, target, rate, d, kind))
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var n uint64
	wait = func() uint64 {
		once.Do(func() {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("flooder: %v\n%s", err, out.String())
			}
			fmt.Sscan(out.String(), &n)
		})
		return n
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return wait
}

// TestHostileUDPFlood: an attacker with no credentials floods the game
// server's UDP port with random datagrams, STUN with random usernames and
// DTLS ClientHellos from many source ports. The mux drops each where it
// reads it (icemux), so the players' packets do not wait behind them.
// The RTT against the same flood at a dead port is the bench's (go run
// ./bench flood); this test holds the behaviour: players keep their
// snapshots and connections.
func TestHostileUDPFlood(t *testing.T) {
	pg := newPlayground(t, nil, nil, 2)
	base := measureResources()
	target := pg.srv.UDPAddr().(*net.UDPAddr).AddrPort()
	before := pg.watch(2 * time.Second)
	mux0 := pg.srv.udpMux.Stats()
	wait := startFlood(t, target, 60_000, 3*time.Second, flood.Mixed)
	time.Sleep(300 * time.Millisecond) // the flooder starting up
	during := pg.watch(2 * time.Second)
	sent := wait()
	pg.kept(before, during)
	st := pg.srv.udpMux.Stats()
	t.Logf("flood: %d packets sent; the mux read %d, dropped %d as unknown, delivered %d",
		sent, st.Read-mux0.Read, st.Unknown-mux0.Unknown, st.Delivered-mux0.Delivered)
	if st.Unknown-mux0.Unknown < sent/4 {
		t.Errorf("the mux dropped %d of %d flood packets as unknown: the flood did not reach it", st.Unknown-mux0.Unknown, sent)
	}
	comeBack(t, base)
}

// TestHostileExtraChannel: WIRE.md allows two data channels; a client that
// opens another, or a second one of the two, once its session is open,
// has its session closed with a protocol error, which it is told.
func TestHostileExtraChannel(t *testing.T) {
	pg := newPlayground(t, nil, nil, 2)
	base := measureResources()
	before := pg.watch(2 * time.Second)
	tests := []struct {
		name, label string
		init        *webrtc.DataChannelInit
	}{
		{"a third channel", "cheats", nil},
		{"snapshots again", labelSnapshots, func() *webrtc.DataChannelInit {
			ordered, zero, proto := false, uint16(0), protocolName
			return &webrtc.DataChannelInit{Ordered: &ordered, MaxRetransmits: &zero, Protocol: &proto}
		}()},
		{"events again", labelEvents, func() *webrtc.DataChannelInit {
			proto := protocolName
			return &webrtc.DataChannelInit{Protocol: &proto}
		}()},
	}
	attacks := make(chan struct{})
	go func() {
		defer close(attacks)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, s := connect(t, pg.srv, nil)
				if _, err := c.p.link.Load().rc.pc.CreateDataChannel(tt.label, tt.init); err != nil {
					t.Fatalf("CreateDataChannel: %v", err)
				}
				select {
				case <-c.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the session stayed open")
				}
				var ce *CloseError
				if err := c.Err(); !errors.As(err, &ce) || ce.Code != CloseProtocolError || !ce.Remote {
					t.Fatalf("client: %v, want closed by the server with a protocol error", err)
				}
				if err := s.Err(); !errors.Is(err, ErrProtocol) {
					t.Fatalf("server session: %v, want ErrProtocol", err)
				}
			})
		}
	}()
	during := pg.watch(2 * time.Second)
	<-attacks
	pg.kept(before, during)
	comeBack(t, base)
}

// TestHostileSignalFlood: a client that floods its signaling (each signal
// costs the server a parse, and through a lobby a relay) has its session
// closed past ServerConfig.SignalRate.
func TestHostileSignalFlood(t *testing.T) {
	pg := newPlayground(t, nil, nil, 2)
	base := measureResources()
	before := pg.watch(2 * time.Second)
	rec := &recordingSignaler{}
	c, s := connectWrapped(t, pg.srv, nil, func(sig Signaler) Signaler { rec.Signaler = sig; return rec })
	flooded := make(chan int)
	go func() {
		n := 0
		ctx := ctxTimeout(t, 10*time.Second)
		for ; n < 2000; n++ {
			// End-of-candidates: the cheapest signal there is.
			if rec.Signaler.WriteSignal(ctx, Signal{Type: SignalCandidate}) != nil {
				break
			}
		}
		flooded <- n
	}()
	during := pg.watch(2 * time.Second)
	t.Logf("the attacker wrote %d signals", <-flooded)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the flooding session stayed open")
	}
	var ce *CloseError
	if err := c.Err(); !errors.As(err, &ce) || ce.Code != CloseProtocolError || !strings.Contains(ce.Reason, "SignalRate") {
		t.Fatalf("client: %v, want closed with a protocol error naming SignalRate", err)
	}
	if err := s.Err(); !errors.Is(err, ErrLimit) {
		t.Fatalf("server session: %v, want ErrLimit", err)
	}
	pg.kept(before, during)
	comeBack(t, base)
}

// TestHostileResumeProbe: resume offers made to learn about tokens. A
// token of another session is refused exactly as a forged one, and leaves
// that session and its token alone; a spent one does not say when.
func TestHostileResumeProbe(t *testing.T) {
	pg := newPlayground(t, nil, nil, 2)
	base := measureResources()
	before := pg.watch(time.Second)
	ctx := ctxTimeout(t, 30*time.Second)
	failLink := func(c *Client) { _ = c.p.link.Load().rc.close() }

	victim, _ := connect(t, pg.srv, nil)
	stolen := *victim.p.token.Load()

	probe := func(name, token, told string) {
		t.Helper()
		rec := &recordingSignaler{}
		var refusal atomic.Pointer[Signal]
		c, _ := connectWrapped(t, pg.srv, nil, func(sig Signaler) Signaler { rec.Signaler = sig; return &refusalSpy{rec, &refusal} })
		if token == "" { // its own, once spent
			token = *c.p.token.Load()
			failLink(c)
			waitState(t, ctx, c.StateChanges(), StateResuming)
			waitState(t, ctx, c.StateChanges(), StateConnected)
		}
		offer, err := c.p.link.Load().rc.offer(false)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Signaler.WriteSignal(ctx, Signal{Type: SignalOffer, SDP: offer, Gen: c.p.link.Load().gen + 1, Resume: token}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, func() bool { return refusal.Load() != nil }, name+": the refusal")
		if got := refusal.Load().Error; got != told {
			t.Errorf("%s: told %q, want exactly %q", name, got, told)
		}
		_ = c.Close()
	}
	probe("another session's token", stolen, "resume token not valid")
	probe("its own spent token", "", "resume token already used")

	// The victim never noticed, and its token still resumes it.
	if victim.State() != StateConnected || *victim.p.token.Load() != stolen {
		t.Fatalf("victim: state %v, token changed %v", victim.State(), *victim.p.token.Load() != stolen)
	}
	failLink(victim)
	waitState(t, ctx, victim.StateChanges(), StateResuming)
	waitState(t, ctx, victim.StateChanges(), StateConnected)
	_ = victim.Close()
	pg.kept(before, pg.watch(time.Second))
	comeBack(t, base)
}

// refusalSpy records a refused signal meant for the client.
type refusalSpy struct {
	*recordingSignaler
	got *atomic.Pointer[Signal]
}

func (r *refusalSpy) ReadSignal(ctx context.Context) (Signal, error) {
	s, err := r.recordingSignaler.ReadSignal(ctx)
	if err == nil && s.Type == SignalRefused {
		r.got.Store(&s)
	}
	return s, err
}

// BenchmarkPeerReflexive measures what each extra source address of a
// session's ICE checks costs the server, with the cap (ServerConfig.
// MaxPeerAddresses) and without it (a cap no attacker reaches): heap per
// source, in B/source. Run with -benchtime=2000x or so: each iteration is
// one source.
func BenchmarkPeerReflexive(b *testing.B) {
	for _, bc := range []struct {
		name string
		cap  int
	}{{"capped", 0}, {"uncapped", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := NewServer(&ServerConfig{UDPAddr: "127.0.0.1:0", MaxPeerAddresses: bc.cap})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			rec := &recordingSignaler{}
			c, _ := connectWrapped(b, srv, nil, func(s Signaler) Signaler { rec.Signaler = s; return rec })
			defer c.Close()
			clientUfrag := ufragRe.FindStringSubmatch(rec.offer)[1]
			serverUfrag, serverPwd := ufragRe.FindStringSubmatch(rec.answer)[1], pwdRe.FindStringSubmatch(rec.answer)[1]
			target := srv.UDPAddr().(*net.UDPAddr).AddrPort()
			before := measureResources()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				m, _ := stun.Build(stun.TransactionID, stun.BindingRequest,
					stun.NewUsername(serverUfrag+":"+clientUfrag), ice.PriorityAttr(1<<24),
					ice.AttrControlling(1), stun.NewShortTermIntegrity(serverPwd), stun.Fingerprint)
				_, _ = s.WriteToUDPAddrPort(m.Raw, target)
				_ = s.Close()
			}
			// Let the agent take them in.
			time.Sleep(2 * time.Second)
			b.StopTimer()
			after := measureResources()
			b.ReportMetric(float64(int64(after.Heap)-int64(before.Heap))/float64(b.N), "B/source")
			b.ReportMetric(float64(srv.Stats().UDPOverPeerLimit)/float64(b.N), "refused/source")
		})
	}
}
