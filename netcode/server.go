//go:build !js

package netcode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"github.com/tickwire/tickwire/internal/pionlog"
	"github.com/tickwire/tickwire/netcode/internal/icemux"
	"github.com/tickwire/tickwire/netcode/internal/wire"
)

// Server is the authoritative end of Tickwire, embedded in a Go game server.
// It receives every client on one UDP port (and optionally one TCP port) and
// hands the game one Session per client. Its methods are safe for
// concurrent use.
type Server struct {
	cfg    *config
	api    *webrtc.API
	udp    net.PacketConn
	udpMux *icemux.Mux
	tcp    net.Listener
	tcpLn  *holdListener // tcp, as the mux reads it
	tcpMux *ice.TCPMuxDefault

	ctx    context.Context // cancelled by Shutdown and Close
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	sessions map[*Session]struct{}
	accepts  sync.WaitGroup
	live     sync.WaitGroup // sessions not yet released, from their start
	closeMu  sync.Mutex     // serialises Shutdown and Close
	done     bool
	tokens   *resumeTokens
	policy   *candidatePolicy
	public   []netip.AddrPort
	certs    certStore
}

// NewServer listens on cfg.UDPAddr (and cfg.TCPAddr if set). A nil cfg means
// defaults.
func NewServer(cfg *ServerConfig) (*Server, error) {
	c, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	var n transport.Net = c.Native.Net
	if n == nil {
		if n, err = stdnet.NewNet(); err != nil {
			return nil, fmt.Errorf("netcode: %w", err)
		}
	}
	s := &Server{cfg: c, sessions: make(map[*Session]struct{}), tokens: newResumeTokens()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	log := pionlog.Factory{Log: c.Logger}

	if s.udp, err = n.ListenPacket("udp", c.UDPAddr); err != nil {
		return nil, fmt.Errorf("netcode: listen UDP %s: %w", c.UDPAddr, err)
	}
	// Best effort: the kernel caps the sizes, and a virtual network has none.
	if b, ok := s.udp.(interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}); ok {
		_ = b.SetReadBuffer(c.UDPBuffer)
		_ = b.SetWriteBuffer(c.UDPBuffer)
	}
	host, _, _ := net.SplitHostPort(c.UDPAddr)
	loopback := net.ParseIP(host).IsLoopback() || host == "localhost"
	bound := netip.IPv6Unspecified()
	if ua, ok := s.udp.LocalAddr().(*net.UDPAddr); ok {
		bound = ua.AddrPort().Addr().Unmap()
	}
	if s.policy, err = newCandidatePolicy(c, n, bound); err != nil {
		_ = s.udp.Close()
		return nil, err
	}
	s.udpMux, err = icemux.New(icemux.Config{
		Conns: []net.PacketConn{s.udp}, Net: n, IncludeLoopback: loopback, Logger: c.Logger,
		MaxLearnt: c.MaxPeerAddresses, MaxNamed: c.MaxCandidates, Unanswered: c.UnansweredChecks,
	})
	if err != nil {
		_ = s.udp.Close()
		return nil, fmt.Errorf("netcode: %w", err)
	}
	se := newSettingEngine(c)
	// The interfaces as the mux lists them: pion would list them again for
	// every PeerConnection (0.2 ms of a connect's CPU on this machine).
	se.SetNet(n)
	se.SetICEUDPMux(s.udpMux)
	// A server answers the connections clients make; dialling out TCP to
	// whatever address a client names would make it a relay for anyone.
	se.DisableActiveTCP(true)
	if loopback {
		se.SetIncludeLoopbackCandidate(true)
	}
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if c.TCPAddr != "" {
		addr, err := net.ResolveTCPAddr("tcp", c.TCPAddr)
		if err == nil {
			s.tcp, err = n.ListenTCP("tcp", addr)
		}
		if err != nil {
			_ = s.udpMux.Close()
			return nil, fmt.Errorf("netcode: listen TCP %s: %w", c.TCPAddr, err)
		}
		s.tcpLn = newHoldListener(s.tcp, tcpHold)
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener: s.tcpLn, Logger: log.NewLogger("tcpmux"), ReadBufferSize: 8, WriteBufferSize: 4 << 20,
		})
		se.SetICETCPMux(s.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	if len(c.Native.NetworkTypes) == 0 {
		se.SetNetworkTypes(types)
	}
	public, err := s.publicAddrs(n)
	s.public = public
	if err == nil && len(public) > 0 {
		err = se.SetICEAddressRewriteRules(publicRules(public, s.udp.LocalAddr().(*net.UDPAddr).Port, s.tcp != nil)...)
	}
	if err != nil {
		if s.tcpMux != nil {
			_ = s.tcpMux.Close()
		}
		_ = s.udpMux.Close()
		return nil, err
	}
	s.api = newAPI(se)
	if _, err := s.certs.get(); err != nil { // now, not on the first connect
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// discoverTimeout bounds ServerConfig.PublicAddrSTUN's request at start.
const discoverTimeout = 5 * time.Second

// publicAddrs is ServerConfig.PublicAddrs, with the address PublicAddrSTUN
// discovers for a family they leave out.
func (s *Server) publicAddrs(n transport.Net) ([]netip.AddrPort, error) {
	public, _ := parsePublicAddrs(s.cfg.PublicAddrs) // resolve checked them
	if s.cfg.PublicAddrSTUN == "" {
		return public, nil
	}
	hostPort, _ := parseSTUNURL(s.cfg.PublicAddrSTUN)
	network := "udp4"
	if la := s.udp.LocalAddr().(*net.UDPAddr); la.IP.To4() == nil && !la.IP.IsUnspecified() {
		network = "udp6"
	}
	ua, err := n.ResolveUDPAddr(network, hostPort)
	if err != nil {
		return nil, fmt.Errorf("netcode: PublicAddrSTUN %s: %w", s.cfg.PublicAddrSTUN, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), discoverTimeout)
	defer cancel()
	found, err := s.udpMux.Discover(ctx, ua.AddrPort())
	if err != nil {
		return nil, fmt.Errorf("netcode: PublicAddrSTUN: %w", err)
	}
	for _, p := range public {
		if p.Addr().Is4() == found.Addr().Is4() {
			s.cfg.Logger.Info("netcode: public address from STUN ignored: PublicAddrs has one", "stun", found, "configured", p)
			return public, nil
		}
	}
	s.cfg.Logger.Info("netcode: public address from STUN", "addr", found)
	return append(public, found), nil
}

// publicRules advertises each public address in place of the interface
// addresses of its family: the UDP port (mapped if the public port
// differs), and ICE-TCP's.
func publicRules(public []netip.AddrPort, udpPort int, tcp bool) []webrtc.ICEAddressRewriteRule {
	var rules []webrtc.ICEAddressRewriteRule
	for _, ap := range public {
		udpNet, tcpNet := webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4
		if ap.Addr().Is6() {
			udpNet, tcpNet = webrtc.NetworkTypeUDP6, webrtc.NetworkTypeTCP6
		}
		r := webrtc.ICEAddressRewriteRule{
			External: []string{ap.Addr().String()}, AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode: webrtc.ICEAddressRewriteReplace, Networks: []webrtc.NetworkType{udpNet},
		}
		if ap.Port() != 0 && int(ap.Port()) != udpPort {
			r.OriginalPort, r.NewPort = udpPort, int(ap.Port())
		}
		rules = append(rules, r)
		if tcp {
			r := r
			r.Networks, r.OriginalPort, r.NewPort = []webrtc.NetworkType{tcpNet}, 0, 0
			rules = append(rules, r)
		}
	}
	return rules
}

// UDPAddr is the address clients reach the server on, with the port the
// system chose if ServerConfig.UDPAddr asked for port 0.
func (s *Server) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// PublicAddrs are the addresses the server advertises in place of its
// interface addresses (ServerConfig.PublicAddrs, and what PublicAddrSTUN
// found); a port of 0 means the local one. None when it advertises its
// interface addresses.
func (s *Server) PublicAddrs() []netip.AddrPort { return append([]netip.AddrPort(nil), s.public...) }

// TCPAddr is the ICE-TCP address, or nil when ICE-TCP is off.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Accept answers the offer a client sends on sig and returns the client's
// Session once both channels are open. sig is the server's from then on. The
// handshake ends with ctx, or with Shutdown or Close (ErrServerClosed).
// Call it once per arriving client, typically from the signaling handler.
func (s *Server) Accept(ctx context.Context, sig Signaler) (*Session, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = sig.Close()
		return nil, ErrServerClosed
	}
	s.accepts.Add(1)
	s.mu.Unlock()
	defer s.accepts.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()

	sess, err := s.accept(ctx, sig)
	if err != nil && s.ctx.Err() != nil {
		err = fmt.Errorf("%w: %v", ErrServerClosed, err)
	}
	return sess, err
}

func (s *Server) accept(ctx context.Context, sig Signaler) (*Session, error) {
	offer, err := sig.ReadSignal(ctx)
	switch {
	case err != nil:
		err = fmt.Errorf("%w: waiting for offer: %v", ErrSignaling, err)
	case offer.Type != SignalOffer:
		err = fmt.Errorf("%w: first signal is %q, want %q", ErrSignaling, offer.Type, SignalOffer)
	case len(offer.SDP) > maxSDPSize:
		err = fmt.Errorf("%w: offer of %d bytes, limit %d", ErrSignaling, len(offer.SDP), maxSDPSize)
	case offer.Resume != "":
		// A resume comes on the session's own signaling (the Signaler
		// Accept was given), never as a new client.
		why := s.tokens.check(offer.Resume)
		err = fmt.Errorf("%w: %v", ErrResumeRejected, why)
		_ = sig.WriteSignal(ctx, Signal{Type: SignalRefused, Gen: offer.Gen, Error: refusal(why)})
	case offer.Gen != 0:
		err = fmt.Errorf("%w: first offer of generation %d", ErrSignaling, offer.Gen)
	}
	if err != nil {
		_ = sig.Close()
		return nil, err
	}

	sess := &Session{id: newSessionID()}
	s.live.Add(1)
	p := newPeer(s.cfg, roleServer, sig, func() {
		sess.leaveRooms()
		s.remove(sess)
		s.live.Done()
	})
	sess.p = p
	p.tokens = s.tokens
	scr := newScreen(s.cfg, s.policy, &p.stats.candidatesRefused)
	p.screen = scr
	_ = scr.signal() // the offer: the first of the burst
	p.mkLink = func(gen uint32) (*link, error) {
		cert, err := s.certs.get()
		if err != nil {
			return nil, err
		}
		pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: pionICEServers(s.cfg.ICEServers), Certificates: []webrtc.Certificate{cert}})
		if err != nil {
			return nil, fmt.Errorf("netcode: new peer connection: %w", err)
		}
		l := p.newLink(&rtcConn{pc: pc}, gen)
		var seenMu sync.Mutex
		seen := map[string]bool{}
		pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			seenMu.Lock()
			dup := seen[dc.Label()]
			seen[dc.Label()] = true
			seenMu.Unlock()
			if err := checkChannel(dc); err != nil || dup {
				if err == nil {
					err = fmt.Errorf("%w: second %q channel", ErrProtocol, dc.Label())
				}
				// Whether the session is opening or open: a client
				// that opens a channel WIRE.md does not have is not a
				// Tickwire client, and each such channel would cost the
				// server a stream and its buffers.
				p.closeWith(&CloseError{Code: CloseProtocolError, Reason: truncate(err.Error(), wire.MaxReasonLen), Err: err}, true)
				return
			}
			p.watch(l, &rtcChannel{dc: dc})
		})
		return l, nil
	}
	// Until the run loop starts, the handshake's failures are released here.
	fail := func(err error) (*Session, error) {
		p.closeWith(&CloseError{Code: CloseProtocolError, Reason: truncate("handshake failed: "+err.Error(), wire.MaxReasonLen), Err: err}, true)
		p.release()
		return nil, err
	}
	sdp, err := scr.offer(offer.SDP)
	if err != nil {
		return fail(err)
	}
	l, err := p.mkLink(0)
	if err != nil {
		return fail(err)
	}
	ans, err := l.rc.answer(sdp)
	if err != nil {
		_ = l.rc.close()
		return fail(fmt.Errorf("%w: offer: %v", ErrSignaling, err))
	}
	l.remoteSet = true
	p.setLink(l)
	p.start()
	p.queueSDP(l, Signal{Type: SignalAnswer, SDP: ans, Resume: p.tokens.issue(p)})
	if err := p.awaitOpen(ctx); err != nil {
		return nil, err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = p.close(CloseShutdown, "server shutting down", true)
		return nil, ErrServerClosed
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	return sess, nil
}

// checkChannel refuses channels that are not exactly Tickwire's: above all a
// "snapshots" channel that would be reliable.
func checkChannel(dc *webrtc.DataChannel) error {
	if dc.Protocol() != protocolName {
		return fmt.Errorf("%w: channel %q speaks %q, want %q", ErrProtocol, dc.Label(), dc.Protocol(), protocolName)
	}
	switch dc.Label() {
	case labelSnapshots:
		if mr := dc.MaxRetransmits(); dc.Ordered() || mr == nil || *mr != 0 {
			return fmt.Errorf("%w: %q channel must be unordered with maxRetransmits 0", ErrProtocol, labelSnapshots)
		}
	case labelEvents:
		if !dc.Ordered() || dc.MaxRetransmits() != nil || dc.MaxPacketLifeTime() != nil {
			return fmt.Errorf("%w: %q channel must be ordered and reliable", ErrProtocol, labelEvents)
		}
	default:
		return fmt.Errorf("%w: unknown channel %q", ErrProtocol, dc.Label())
	}
	return nil
}

func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// ServerStats counts what a Server's UDP port has seen, across sessions:
// what an operator watches for floods and misbehaving clients.
type ServerStats struct {
	// UDPRead counts datagrams read from the port.
	UDPRead uint64
	// UDPUnknown counts datagrams dropped unread, as neither from a
	// client's address nor an ICE check naming a session: where a flood
	// lands.
	UDPUnknown uint64
	// UDPOverPeerLimit counts ICE checks dropped as coming from more
	// addresses than ServerConfig.MaxPeerAddresses allows a client.
	UDPOverPeerLimit uint64
	// UDPQueueFull counts datagrams dropped because a session's receive
	// queue was full.
	UDPQueueFull uint64
	// UDPSuppressed counts datagrams not sent: to an address that has not
	// answered (ServerConfig.UnansweredChecks), or past ServerConfig.MaxCandidates.
	UDPSuppressed uint64
}

// Stats reports the server's counters so far.
func (s *Server) Stats() ServerStats {
	m := s.udpMux.Stats()
	return ServerStats{UDPRead: m.Read, UDPUnknown: m.Unknown, UDPOverPeerLimit: m.OverLearnt, UDPQueueFull: m.QueueFull, UDPSuppressed: m.Suppressed}
}

// Sessions returns the open sessions, in no particular order.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

// Broadcast sends the same snapshot to every session (Room.Broadcast sends
// to one match's). It never blocks: a session that is congested or closing
// misses this one, which its Stats show. The error is ErrTooLarge or
// ErrServerClosed, else nil.
func (s *Server) Broadcast(payload []byte) error {
	if len(payload) > s.cfg.MaxUnreliableSize {
		return fmt.Errorf("%w: snapshot payload of %d bytes, limit %d", ErrTooLarge, len(payload), s.cfg.MaxUnreliableSize)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrServerClosed
	}
	return broadcast(s.Sessions(), payload)
}

// Shutdown stops accepting, tells every client the server is shutting down,
// closes every session and the listeners, and waits for all of it or for ctx.
// Sessions still closing when ctx ends finish in the background; Close waits
// for them.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.shutdown()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline. It is idempotent.
func (s *Server) Close() error {
	s.shutdown()
	return nil
}

func (s *Server) shutdown() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.done {
		return
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	if s.tcpLn != nil {
		_ = s.tcpLn.Close() // see holdListener
	}
	s.accepts.Wait()

	for _, sess := range s.Sessions() {
		_ = sess.p.close(CloseShutdown, "server shutting down", false)
	}
	// Every session's teardown, those that closed before included: each
	// sends its close message and releases its PeerConnection in its own
	// run loop, all at once.
	s.live.Wait()
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
	_ = s.udpMux.Close()
	s.done = true
}
