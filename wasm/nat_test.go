//go:build linux

package main

// The browser half of the NAT tests (the native half is in
// lobby/natpaths_test.go): Chromium behind a NAT of a network-namespace lab
// (internal/nattest) plays the wasm client against a game server behind
// 1:1 NAT or on the public bridge, through a lobby on the bridge.

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tickwire/tickwire/internal/nattest"
	"github.com/tickwire/tickwire/lobby"
	"github.com/tickwire/tickwire/netcode"
)

const natGamePort = 7777

// natBrowserPlay serves the lobby from host web with a game server made
// with ncfg, and has Chromium on host player play one solo room; it
// returns what the page reported.
func natBrowserPlay(t *testing.T, web, player *nattest.Host, ncfg *netcode.ServerConfig, turn lobby.TURNConfig) (*btResult, *btHarness) {
	t.Helper()
	chromium := btChromium(t)
	assets := btAssets(t)
	ln, err := web.Listen("tcp4", web.IP.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := btSolo()
	cfg.TURN = turn
	h := btNewHarnessOn(t, assets, cfg, ln, ncfg)
	browser := btStartBrowser(t, chromium, chromedp.ModifyCmdFunc(player.InNamespace))
	p := btOpenPage(t, browser, "nat", h.url+"/static/client.html?mode=solo&how=queue&pings=5&name=nat")
	r, err := p.result(45 * time.Second)
	if err != nil {
		t.Fatalf("page: %v", err)
	}
	t.Logf("Chromium: %s %s %s -> %s %s %s (relay over %q); timings %v", r.ICE.Local.Type, r.ICE.Local.Protocol, btAddr(r.ICE.Local),
		r.ICE.Remote.Type, r.ICE.Remote.Protocol, btAddr(r.ICE.Remote), r.ICE.Local.RelayProtocol, r.Timings)
	btCheckPlay(t, "nat", r, h.game)
	btCheckChannels(t, "nat", r)
	return r, h
}

// TestNATPublicAddress: Chromium behind an address-and-port-filtering NAT
// plays on a game server behind 1:1 NAT that advertises its public address.
// Chromium hides its own addresses behind mDNS names, which the server does
// not resolve: the connection is made from the browser's checks, which the
// server answers where they came from (peer-reflexive).
func TestNATPublicAddress(t *testing.T) {
	btChromium(t)
	lab := nattest.New(t)
	web := lab.Public("web")
	game := lab.Private("game", nattest.NAT{Kind: nattest.OneToOne, Forward: []nattest.Port{nattest.UDP(natGamePort), nattest.TCP(natGamePort)}})
	player := lab.Private("player", nattest.NAT{Kind: nattest.Filtering})
	addr := game.IP.String() + ":" + strconv.Itoa(natGamePort)
	r, _ := natBrowserPlay(t, web, player, &netcode.ServerConfig{
		Config:  netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}},
		UDPAddr: addr, TCPAddr: addr, PublicAddrs: []string{game.PublicIP.String()},
	}, lobby.TURNConfig{})
	if want := netip.AddrPortFrom(game.PublicIP, natGamePort).String(); r.ICE.Remote.Type != "host" || r.ICE.Remote.Protocol != "udp" || btAddr(r.ICE.Remote) != want {
		t.Errorf("Chromium's remote candidate %+v: want the server's public address %s over UDP", r.ICE.Remote, want)
	}
}

// TestNATUDPBlocked: Chromium behind a NAT that drops all UDP reaches a
// public game server over ICE-TCP when the server listens on TCP, and
// through a TURN server over TCP when it does not.
func TestNATUDPBlocked(t *testing.T) {
	btChromium(t)
	lab := nattest.New(t)
	web := lab.Public("web")
	turnHost := lab.Public("turn")
	game := lab.Public("game")
	player := lab.Private("player", nattest.NAT{Kind: nattest.BlockUDP})
	secret := btRandomHex(16)
	ts, err := lobby.NewTURNServer(lobby.TURNServerConfig{Addr: turnHost.IP.String() + ":3478", Secret: secret, Net: turnHost.Net()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ts.Close() })
	addr := game.IP.String() + ":" + strconv.Itoa(natGamePort)

	t.Run("ICE-TCP", func(t *testing.T) {
		r, _ := natBrowserPlay(t, web, player, &netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr, TCPAddr: addr}, lobby.TURNConfig{})
		if r.ICE.Local.Protocol != "tcp" || r.ICE.Remote.Type != "host" || btAddr(r.ICE.Remote) != addr {
			t.Errorf("Chromium's pair %+v -> %+v: want TCP to the server's host candidate %s", r.ICE.Local, r.ICE.Remote, addr)
		}
	})
	t.Run("TURN over TCP", func(t *testing.T) {
		before := ts.Stats()
		r, _ := natBrowserPlay(t, web, player, &netcode.ServerConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: game.Net()}}, UDPAddr: addr},
			lobby.TURNConfig{URLs: ts.URLs(), Secret: secret})
		if r.ICE.Local.Type != "relay" || r.ICE.Local.RelayProtocol != "tcp" {
			t.Errorf("Chromium's local candidate %+v: want a relay reached over TCP", r.ICE.Local)
		}
		if s := ts.Stats(); s.TCP == before.TCP || s.UDP != before.UDP {
			t.Errorf("allocations %+v (before %+v): want some over TCP, none over UDP", s, before)
		}
	})
}

// btAddr is a reported candidate's address and port.
func btAddr(c btCandidate) string {
	return netip.AddrPortFrom(netip.MustParseAddr(orZero(c.Address)), uint16(c.Port)).String()
}

func orZero(s string) string {
	if s == "" {
		return "0.0.0.0"
	}
	return s
}
