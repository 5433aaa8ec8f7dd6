//go:build !js

package lobby

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	piontransport "github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/turn/v5"
	"github.com/tickwire/tickwire/internal/pionlog"
)

// TURNServer is a small embedded TURN relay (pion/turn) that accepts the
// lobby's REST credentials, for deployments too small for coturn. Players
// reach it over UDP and TCP on one port, and over TLS (turns:) on another
// when it has a certificate: TCP for networks that block UDP, TLS on 443
// for those that let only HTTPS-like traffic out. Whatever the transport to
// the server, it relays UDP to the game server (RFC 5766 allocations).
//
// It relays to any peer address but loopback ones (unless it serves on
// loopback itself), unspecified, multicast and link-local ones: a player
// must not reach services listening only on the lobby's machine, or a cloud
// metadata address, through it.
type TURNServer struct {
	srv      *turn.Server
	udp      net.PacketConn
	tcp, tls *streamListener // tls nil without a certificate
	host     string          // in URLs
	log      *slog.Logger
	allocs   [3]atomic.Uint64 // by transport: udp, tcp, tls

	closeOnce sync.Once
	closeErr  error
}

// TURNServerConfig configures an embedded TURN server.
type TURNServerConfig struct {
	// Addr is the address to listen on, for UDP and TCP alike
	// ("0.0.0.0:3478" by default). With port 0 the system picks a port
	// free for both.
	Addr string
	// TLSAddr, when set, also serves TURN over TLS (turns:) there, such as
	// "0.0.0.0:443" (which networks that allow only web traffic let
	// through) or the standard ":5349". It needs CertFile and KeyFile.
	TLSAddr string
	// CertFile and KeyFile are the PEM certificate chain and private key
	// for TLSAddr, read once at start: restart the server after renewing
	// them. The certificate must be valid for Host.
	CertFile, KeyFile string
	// Host is the host name or IP address in the URLs players get (URLs):
	// RelayIP by default. With TLS, players check the certificate against
	// it, so it is usually the certificate's DNS name.
	Host string
	// RelayIP is the address relayed traffic uses and that clients are told
	// to send to: the public IP of a server behind 1:1 NAT (relays are
	// still bound on the listening address). The listening IP by default,
	// which must then be a specific address rather than a wildcard.
	RelayIP string
	// Realm is the TURN realm ("tickwire" by default).
	Realm string
	// Secret is the REST-credential secret, the same as TURNConfig.Secret.
	Secret string
	// Logger receives pion/turn's warnings and the server's own debug
	// lines (allocations, refused connections). Nothing is logged by
	// default.
	Logger *slog.Logger
	// Net replaces the operating system's network, as netcode.NativeConfig.Net
	// does: a pion vnet, or a network namespace in tests.
	Net piontransport.Net
}

// TURNStats counts the allocations a TURNServer made since it started, by
// the transport the client reached it on.
type TURNStats struct {
	UDP, TCP, TLS uint64
}

const (
	turnUDP = iota
	turnTCP
	turnTLS
)

// NewTURNServer starts an embedded TURN server.
func NewTURNServer(cfg TURNServerConfig) (*TURNServer, error) {
	if cfg.Addr == "" {
		cfg.Addr = "0.0.0.0:3478"
	}
	if cfg.Realm == "" {
		cfg.Realm = "tickwire"
	}
	if cfg.Secret == "" {
		return nil, fmt.Errorf("%w: TURN server needs a secret", ErrInvalidConfig)
	}
	udpAddr, err := net.ResolveUDPAddr("udp4", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: TURN address %q: %v", ErrInvalidConfig, cfg.Addr, err)
	}
	relayIP := udpAddr.IP
	if cfg.RelayIP != "" {
		relayIP = net.ParseIP(cfg.RelayIP)
	}
	if relayIP == nil || relayIP.IsUnspecified() {
		return nil, fmt.Errorf("%w: TURN server needs a RelayIP when listening on %q", ErrInvalidConfig, cfg.Addr)
	}
	host := cfg.Host
	if host == "" {
		host = relayIP.String()
	}
	var tlsConf *tls.Config
	var tlsAddr *net.TCPAddr
	switch {
	case cfg.TLSAddr == "" && (cfg.CertFile != "" || cfg.KeyFile != ""):
		return nil, fmt.Errorf("%w: TURN certificate without a TLSAddr", ErrInvalidConfig)
	case cfg.TLSAddr != "":
		if tlsAddr, err = net.ResolveTCPAddr("tcp4", cfg.TLSAddr); err != nil {
			return nil, fmt.Errorf("%w: TURN TLS address %q: %v", ErrInvalidConfig, cfg.TLSAddr, err)
		}
		if tlsConf, err = turnTLSConfig(cfg.CertFile, cfg.KeyFile, host); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := cfg.Net
	if n == nil {
		if n, err = stdnet.NewNet(); err != nil {
			return nil, fmt.Errorf("lobby: TURN: %w", err)
		}
	}

	t := &TURNServer{host: host, log: log}
	if t.udp, t.tcp, err = listenUDPAndTCP(n, udpAddr, log); err != nil {
		return nil, err
	}
	if tlsConf != nil {
		ln, err := n.ListenTCP("tcp4", tlsAddr)
		if err != nil {
			_ = t.udp.Close()
			_ = t.tcp.Close()
			return nil, fmt.Errorf("lobby: TURN listen TLS: %w", err)
		}
		t.tls = newStreamListener(ln, tlsConf, log.With("transport", "tls"), defaultStreamLimits())
	}

	lf := pionlog.Factory{Log: log}
	// Relays are bound on the listening address, which is on an interface
	// of this machine, and announced with RelayIP, which behind 1:1 NAT is
	// not.
	relays := &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: udpAddr.IP.String(), Net: n}
	allow := peerPolicy(relayIP)
	sc := turn.ServerConfig{
		Realm:             cfg.Realm,
		LoggerFactory:     lf,
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(cfg.Secret, lf.NewLogger("turn")),
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: t.udp, RelayAddressGenerator: relays, PermissionHandler: allow}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: t.tcp, RelayAddressGenerator: relays, PermissionHandler: allow}},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relay net.Addr, _ int) {
				tr := t.transportOf(src)
				t.allocs[tr].Add(1)
				log.Debug("TURN allocation", "transport", [...]string{"udp", "tcp", "tls"}[tr], "client", src, "user", user, "relay", relay)
			},
		},
	}
	if t.tls != nil {
		sc.ListenerConfigs = append(sc.ListenerConfigs, turn.ListenerConfig{Listener: t.tls, RelayAddressGenerator: relays, PermissionHandler: allow})
	}
	if t.srv, err = turn.NewServer(sc); err != nil {
		_ = t.udp.Close()
		_ = t.tcp.Close()
		if t.tls != nil {
			_ = t.tls.Close()
		}
		return nil, fmt.Errorf("lobby: TURN server: %w", err)
	}
	return t, nil
}

// turnTLSConfig loads the certificate and checks that it is valid for
// host, which players will check it against.
func turnTLSConfig(certFile, keyFile, host string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("%w: TURN over TLS needs a certificate file and a key file", ErrInvalidConfig)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: TURN certificate: %v", ErrInvalidConfig, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%w: TURN certificate: %v", ErrInvalidConfig, err)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("%w: TURN certificate: %v; players would refuse it: set the TURN host to a name it holds", ErrInvalidConfig, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listenUDPAndTCP listens for UDP and TCP on one port: addr's, or with port
// 0 one the system picks for UDP and that TCP can have too (a few tries).
func listenUDPAndTCP(n piontransport.Net, addr *net.UDPAddr, log *slog.Logger) (net.PacketConn, *streamListener, error) {
	tries := 1
	if addr.Port == 0 {
		tries = 8
	}
	for i := 0; ; i++ {
		udp, err := n.ListenPacket("udp4", addr.String())
		if err != nil {
			return nil, nil, fmt.Errorf("lobby: TURN listen UDP: %w", err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := n.ListenTCP("tcp4", &net.TCPAddr{IP: addr.IP, Port: port})
		if err == nil {
			return udp, newStreamListener(tcp, nil, log.With("transport", "tcp"), defaultStreamLimits()), nil
		}
		_ = udp.Close()
		if i+1 >= tries || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("lobby: TURN listen TCP on the UDP port %d: %w", port, err)
		}
	}
}

// peerPolicy is the PermissionHandler: which peers a client may relay to.
func peerPolicy(relayIP net.IP) turn.PermissionHandler {
	return func(_ net.Addr, peer net.IP) bool {
		switch {
		case peer.IsLoopback():
			return relayIP.IsLoopback()
		case peer.IsUnspecified(), peer.IsMulticast(), peer.IsLinkLocalUnicast(), peer.Equal(net.IPv4bcast):
			return false
		}
		return true
	}
}

// transportOf tells which listener a client address came through.
func (t *TURNServer) transportOf(src net.Addr) int {
	switch {
	case isUDP(src):
		return turnUDP
	case t.tls != nil && t.tls.has(src):
		return turnTLS
	case t.tcp.has(src):
		return turnTCP
	}
	return turnUDP
}

func isUDP(a net.Addr) bool {
	_, ok := a.(*net.UDPAddr)
	return ok
}

// Addr is the UDP address the server listens on.
func (t *TURNServer) Addr() *net.UDPAddr { return t.udp.LocalAddr().(*net.UDPAddr) }

// TCPAddr is the TCP address the server listens on: Addr's port.
func (t *TURNServer) TCPAddr() *net.TCPAddr { return t.tcp.Addr().(*net.TCPAddr) }

// TLSAddr is the address of TURN over TLS, or nil without it.
func (t *TURNServer) TLSAddr() *net.TCPAddr {
	if t.tls == nil {
		return nil
	}
	return t.tls.Addr().(*net.TCPAddr)
}

// URLs are the server's URLs for TURNConfig.URLs, one per transport, each
// with its ?transport= (without it a client tries UDP only, so a player
// whose network blocks UDP would get no relay):
//
//	turn:HOST:PORT?transport=udp
//	turn:HOST:PORT?transport=tcp
//	turns:HOST:TLSPORT?transport=tcp   (with TLS)
//
// HOST is TURNServerConfig.Host, by default the relay IP.
func (t *TURNServer) URLs() []string {
	hp := func(a net.Addr) string {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort(t.host, port)
	}
	urls := []string{"turn:" + hp(t.Addr()) + "?transport=udp", "turn:" + hp(t.TCPAddr()) + "?transport=tcp"}
	if t.tls != nil {
		urls = append(urls, "turns:"+hp(t.TLSAddr())+"?transport=tcp")
	}
	return urls
}

// Stats counts the allocations made so far.
func (t *TURNServer) Stats() TURNStats {
	return TURNStats{UDP: t.allocs[turnUDP].Load(), TCP: t.allocs[turnTCP].Load(), TLS: t.allocs[turnTLS].Load()}
}

// Close stops the server, every relay and every client connection. It is
// idempotent.
func (t *TURNServer) Close() error {
	t.closeOnce.Do(func() { t.closeErr = t.srv.Close() })
	return t.closeErr
}
