//go:build ignore

// Command readloop_heap measures the heap a pair of pion PeerConnections holds with
// two open, non-detached data channels (OnMessage), per pair. Run it as
// go run ./docs/upstream/readloop_heap.go, and with GOWORK pointing at a
// go.work that uses a patched copy of pion/webrtc (README.md here).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

func api() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool {
		ifi, err := net.InterfaceByName(name)
		return err == nil && ifi.Flags&net.FlagLoopback != 0
	})
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

func pair(a *webrtc.API, big int) ([2]*webrtc.PeerConnection, error) {
	c, _ := a.NewPeerConnection(webrtc.Configuration{})
	s, _ := a.NewPeerConnection(webrtc.Configuration{})
	got := make(chan int, 16)
	s.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- len(m.Data) })
	})
	unordered, zero := false, uint16(0)
	open := make(chan *webrtc.DataChannel, 2)
	for _, init := range []*webrtc.DataChannelInit{{}, {Ordered: &unordered, MaxRetransmits: &zero}} {
		dc, err := c.CreateDataChannel("x", init)
		if err != nil {
			return [2]*webrtc.PeerConnection{}, err
		}
		dc.OnMessage(func(webrtc.DataChannelMessage) {})
		dc.OnOpen(func() { open <- dc })
	}
	offer, _ := c.CreateOffer(nil)
	g := webrtc.GatheringCompletePromise(c)
	_ = c.SetLocalDescription(offer)
	<-g
	_ = s.SetRemoteDescription(*c.LocalDescription())
	answer, _ := s.CreateAnswer(nil)
	g = webrtc.GatheringCompletePromise(s)
	_ = s.SetLocalDescription(answer)
	<-g
	_ = c.SetRemoteDescription(*s.LocalDescription())
	for range 2 {
		select {
		case dc := <-open:
			// One small message, and one larger than the read buffer's
			// first size, on the reliable channel.
			_ = dc.Send(make([]byte, 200))
			if dc.Ordered() && big > 0 {
				_ = dc.Send(make([]byte, big))
			}
		case <-time.After(20 * time.Second):
			return [2]*webrtc.PeerConnection{c, s}, fmt.Errorf("channel did not open")
		}
	}
	want := 2
	if big > 0 {
		want = 3
	}
	for range want {
		select {
		case n := <-got:
			if n != 200 && n != big {
				return [2]*webrtc.PeerConnection{c, s}, fmt.Errorf("got %d bytes", n)
			}
		case <-time.After(20 * time.Second):
			return [2]*webrtc.PeerConnection{c, s}, fmt.Errorf("message lost")
		}
	}
	return [2]*webrtc.PeerConnection{c, s}, nil
}

func heap() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func main() {
	n := flag.Int("n", 50, "pairs")
	big := flag.Int("big", 100000, "size of one larger message per pair (0: none)")
	flag.Parse()
	a := api()
	before := heap()
	var pcs [][2]*webrtc.PeerConnection
	for range *n {
		p, err := pair(a, *big)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pcs = append(pcs, p)
	}
	time.Sleep(time.Second)
	after := heap()
	fmt.Printf("pairs %d, two channels each, non-detached: heap in use %.1f KiB per pair (%.1f KiB per PeerConnection)\n",
		*n, float64(after-before)/1024/float64(*n), float64(after-before)/2048/float64(*n))
	for _, p := range pcs {
		_ = p[0].Close()
		_ = p[1].Close()
	}
}
