//go:build !js

package netcode

import (
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/tickwire/tickwire/internal/pionlog"
)

// newSettingEngine holds the pion tuning both ends share. The browser build
// has none: the browser owns ICE, DTLS and SCTP there (rtc_js.go).
func newSettingEngine(cfg *config) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	// pion reads every channel itself and hands each message over
	// (channel.go), which checks it against the session's limits (WIRE.md
	// "Limits"); what a peer can make it buffer is bounded by SCTP's
	// receive window.
	se.SetICETimeouts(cfg.Native.ICEDisconnectedTimeout, cfg.Native.ICEFailedTimeout, cfg.Native.ICEKeepaliveInterval)
	// A Tickwire server is reached by address, never by an mDNS name, and
	// mDNS sockets cost goroutines per connection.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Native.Net != nil {
		se.SetNet(cfg.Native.Net)
	}
	if len(cfg.Native.NetworkTypes) > 0 {
		se.SetNetworkTypes(pionNetworkTypes(cfg.Native.NetworkTypes))
	}
	// SCTP has one congestion window for both channels, and a timeout on
	// the reliable one drops it to a single packet: snapshots then queue
	// behind the event being recovered and arrive in late bursts (measured
	// on vnet at 25 ms and 5% loss: 60-210 ms late). Flooring the window at
	// RFC 4960's initial window, no more than a new connection may send,
	// keeps a game's small, steady snapshot stream moving.
	se.SetSCTPMinCwnd(sctpMinCwnd)
	// SCTP doubles its retransmission timeout at each expiry up to 60 s, so
	// after a few seconds without a path the events sent meanwhile would
	// wait seconds more once it is back. Capped, they go out within
	// MaxRetransmitTimeout of the path's return.
	se.SetSCTPRTOMax(cfg.Native.MaxRetransmitTimeout)
	// SNAP (draft-hancke-tsvwg-snap) carries SCTP's INIT in the offer and
	// answer (a=sctp-init), so the association is up as soon as DTLS is,
	// one round trip sooner (measured: go run ./bench connect -delay 25ms).
	// It applies only when both descriptions carry the attribute; with a
	// peer that does not (browsers today) the usual handshake runs.
	se.EnableSctpSnap(true)
	// RFC 9653: DTLS already protects every packet, so SCTP's CRC32c is
	// work for nothing. Each side only offers to accept unchecked packets;
	// packets go out unchecked only to a peer that offered the same (pion
	// does; a browser may not, and then both keep the checksum).
	se.EnableSCTPZeroChecksum(true)
	// The end that is the DTLS server (a Go client, which offers; pion
	// answers as the DTLS client) skips DTLS's cookie exchange
	// (HelloVerifyRequest, RFC 6347 4.2.1), one round trip of every
	// connect (measured: go run ./bench connect -delay 25ms). The cookie
	// keeps a server from answering a spoofed source address, and ICE
	// already does: pion takes DTLS packets only from a remote candidate
	// and sends only on a pair that passed connectivity checks with the
	// session's ICE credentials. Chromium's DTLS server sends no cookie
	// either (seen in a capture of bench connect's Chromium rows).
	se.SetDTLSInsecureSkipHelloVerify(true)
	if cfg.RelayOnly {
		// ICE holds relayed pairs back for 2 s in case a direct one turns
		// up; with only relays allowed, none will.
		se.SetRelayAcceptanceMinWait(0)
	}
	se.LoggerFactory = pionlog.Factory{Log: cfg.Logger}
	return se
}

// sctpMinCwnd is RFC 4960's initial congestion window (section 7.2.1).
const sctpMinCwnd = 4380

// clientRelayWait is how long a client holds a relayed candidate pair back
// in case a direct one succeeds. pion's default is 2 s, which a player on
// a network where the relay is the only path waits out at every connect.
// pion checks every pair at once and nominates on a 200 ms tick, the best
// pair that has succeeded by then: a direct pair to a Tickwire server,
// which has a reachable address and is checked before the relay is even
// allocated, has long succeeded by the first tick this wait lets a relay
// through.
const clientRelayWait = 100 * time.Millisecond

// newClientSettings is a client's pion tuning; clientConns adds the
// network each of its connections gathers on.
func newClientSettings(cfg *config) webrtc.SettingEngine {
	se := newSettingEngine(cfg)
	if len(cfg.Native.NetworkTypes) == 0 {
		// pion gathers UDP only by default; TCP host candidates let a
		// player whose network blocks UDP reach a server's ICE-TCP port
		// without a relay.
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6})
	}
	if !cfg.RelayOnly {
		// UDP wins over ICE-TCP because the server holds ICE-TCP back
		// (tcphold.go), not because the client waits.
		se.SetRelayAcceptanceMinWait(clientRelayWait)
	}
	// Lets a client reach a server on the same machine, the first thing a
	// newcomer tries. Elsewhere the candidate would cost every connect
	// 200 ms, were it not gathered last (loopback.go).
	if cfg.Native.Net == nil {
		se.SetIncludeLoopbackCandidate(true)
	}
	return se
}

// newAPI is pion for data channels alone: no codecs and no RTP
// interceptors, which pion otherwise sets up for every PeerConnection
// (NACK buffers, RTCP report timers) though a game sends no media.
func newAPI(se webrtc.SettingEngine) *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(nil), webrtc.WithInterceptorRegistry(nil))
}
