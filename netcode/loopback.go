//go:build !js

package netcode

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// loopbackLast is the machine's network as a client's pion sees it, with
// the loopback interfaces listed after every other.
//
// A client gathers a loopback candidate so that it can reach a server on
// the same machine. Its pairs with any other server never succeed, and
// they tie in priority with the real interface's pairs: a host candidate's
// priority does not depend on its interface. pion's controlling agent
// nominates a pair that succeeded at once only if no pair it has not given
// up on ranks above it, ties going to the pair formed first; otherwise it
// nominates on its next 200 ms check tick. pion forms pairs in the order
// it gathered the local candidates, and it gathers host candidates in the
// order the network lists its interfaces, loopback first on Linux. So with
// loopback first, every connect to a server elsewhere waited for that
// tick (measured in network namespaces, go run ./bench paths: match to
// open 207 ms against 6 ms with loopback last). A server on this machine
// is still reached over loopback when nothing else works, on that tick.
type loopbackLast struct{ *stdnet.Net }

func newLoopbackLast() (loopbackLast, error) {
	n, err := stdnet.NewNet()
	return loopbackLast{n}, err
}

func (n loopbackLast) Interfaces() ([]*transport.Interface, error) {
	ifs, err := n.Net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]*transport.Interface, 0, len(ifs))
	var lo []*transport.Interface
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			lo = append(lo, i)
		} else {
			out = append(out, i)
		}
	}
	return append(out, lo...), nil
}
