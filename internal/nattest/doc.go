// Package nattest builds small internets out of Linux network namespaces,
// for tests that must prove a connection works through real NATs: real
// kernel sockets, real conntrack, real address-and-port-dependent
// filtering, which pion's vnet only imitates.
//
// A Lab is one such internet: a bridge on 203.0.113.0/24 (TEST-NET-3) in a
// namespace of its own, public hosts attached to it, and private hosts each
// on a LAN of its own behind a NAT router of a chosen kind. Everything lives
// in namespaces the Lab creates with unique names and deletes when the test
// ends; the host's own namespace is never configured, so no address, route
// or rule of the machine changes and no packet leaves the Lab.
//
// Go code of the test process runs in a host's namespace through Host.Net,
// a transport.Net for pion (netcode.NativeConfig.Net, lobby.TURNServerConfig.Net)
// whose sockets are created on a thread switched into the namespace, or
// Host.Do, Host.Listen and Host.ListenPacket; a process (Chromium, a
// server binary) runs in it through Host.Command or Host.InNamespace:
//
//	lab := nattest.New(t) // skips without root, ip and nft; fails under CI=true
//	turnHost := lab.Public("turn")
//	server := lab.Private("server", nattest.NAT{Kind: nattest.OneToOne, Forward: []nattest.Port{nattest.UDP(7777), nattest.TCP(7777)}})
//	player := lab.Private("player", nattest.NAT{Kind: nattest.Filtering})
//
//	srv, err := netcode.NewServer(&netcode.ServerConfig{
//		Config:  netcode.Config{Native: netcode.NativeConfig{Net: server.Net()}},
//		UDPAddr: server.IP.String() + ":7777",
//	})
//	// ... it is reachable at server.PublicIP:7777
//	c, err := netcode.Dial(ctx, sig, &netcode.ClientConfig{Config: netcode.Config{Native: netcode.NativeConfig{Net: player.Net()}}})
//
//	ln, err := turnHost.Listen("tcp", turnHost.IP.String()+":8080") // an HTTP lobby for a browser
//	alloc, cancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath("/usr/bin/chromium"), ...,
//		chromedp.ModifyCmdFunc(player.InNamespace)) // chromedp talks to it through pipes
//
// Sockets a Host makes are in its namespace for their whole life, whatever
// thread later uses them; only their creation needs the switch. Goroutines
// started inside Do do not run in the namespace.
//
// The Lab needs root, ip (iproute2) and nft (nftables). Without them New
// skips the test, saying what to install, or fails it when CI=true.
package nattest
