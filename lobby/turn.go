//go:build !js

package lobby

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/pion/turn/v5"
	"github.com/tickwire/tickwire/internal/pionlog"
)

// TURNServer is a small embedded TURN relay (pion/turn) that accepts the
// lobby's REST credentials, for deployments too small for coturn. It relays
// UDP only.
type TURNServer struct {
	srv     *turn.Server
	addr    *net.UDPAddr
	relayIP net.IP
}

// TURNServerConfig configures an embedded TURN server.
type TURNServerConfig struct {
	// Addr is the UDP address to listen on ("0.0.0.0:3478" by default).
	Addr string
	// RelayIP is the address relayed traffic uses and that clients are told
	// to send to; the listening IP by default, which must then be a specific
	// address rather than a wildcard.
	RelayIP string
	// Realm is the TURN realm ("tickwire" by default).
	Realm string
	// Secret is the REST-credential secret, the same as TURNConfig.Secret.
	Secret string
	// Logger receives pion/turn's warnings. Nothing is logged by default.
	Logger *slog.Logger
}

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
	pc, err := net.ListenUDP("udp4", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("lobby: TURN listen: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lf := pionlog.Factory{Log: log}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		LoggerFactory: lf,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(cfg.Secret, lf.NewLogger("turn")),
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: relayIP,
				Address:      relayIP.String(),
			},
		}},
	})
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("lobby: TURN server: %w", err)
	}
	return &TURNServer{srv: srv, addr: pc.LocalAddr().(*net.UDPAddr), relayIP: relayIP}, nil
}

// Addr is the UDP address the server listens on.
func (t *TURNServer) Addr() *net.UDPAddr { return t.addr }

// URL is the server's turn: URL for TURNConfig.URLs: the relay IP, which
// clients must be able to reach, and the listening port.
func (t *TURNServer) URL() string {
	return "turn:" + net.JoinHostPort(t.relayIP.String(), strconv.Itoa(t.addr.Port)) + "?transport=udp"
}

// Close stops the server and every relay.
func (t *TURNServer) Close() error { return t.srv.Close() }
