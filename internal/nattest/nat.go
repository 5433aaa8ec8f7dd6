//go:build linux

package nattest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// NATKind is the behaviour of a NAT router, in RFC 4787's terms: how it
// maps a private host's outbound flows (mapping) and which inbound packets
// it lets through to them (filtering).
type NATKind int

const (
	// Filtering is the NAT of most homes and offices: endpoint-independent
	// mapping (Linux masquerade keeps the source port when it is free) and
	// address-and-port-dependent filtering (only replies from the exact
	// address and port the host sent to come in). STUN finds its mapping;
	// a peer reaches the host only once the host has sent to it.
	Filtering NATKind = iota + 1
	// Symmetric maps every new flow to a random port (address-and-port-
	// dependent mapping), as carrier-grade NATs may: the mapping STUN sees
	// is not the one a peer sees, so only a peer with a reachable address,
	// or a relay, works.
	Symmetric
	// BlockUDP is Filtering that drops every UDP packet, both ways: a
	// network that lets only TCP out (hotels, some offices). ICE-TCP or
	// TURN over TCP or TLS remain.
	BlockUDP
	// OneToOne is a server's NAT, as on a cloud VM or with Docker port
	// mapping: the Forward ports of the router's public address, or every
	// port without Forward (a cloud VM's public IP), go to the host (DNAT),
	// and the host's outbound traffic leaves from the public address (SNAT,
	// keeping the source port when it is free). Nothing else comes in. The
	// host sees only its private address on its interface.
	OneToOne
)

func (k NATKind) String() string {
	switch k {
	case Filtering:
		return "filtering NAT"
	case Symmetric:
		return "symmetric NAT"
	case BlockUDP:
		return "UDP-blocking NAT"
	case OneToOne:
		return "1:1 NAT"
	}
	return "NATKind(" + strconv.Itoa(int(k)) + ")"
}

// NAT describes the router in front of a private host.
type NAT struct {
	Kind NATKind
	// Forward are the ports a OneToOne NAT forwards from its public address
	// to the host, the same port on both sides; none means every port.
	Forward []Port
}

// Port is a transport protocol and port number.
type Port struct {
	Proto string // "udp" or "tcp"
	Num   uint16
}

// UDP and TCP are Ports.
func UDP(n uint16) Port { return Port{"udp", n} }
func TCP(n uint16) Port { return Port{"tcp", n} }

func (n NAT) validate() error {
	switch n.Kind {
	case Filtering, Symmetric, BlockUDP, OneToOne:
	default:
		return fmt.Errorf("nattest: unknown NAT kind %d", n.Kind)
	}
	if n.Kind != OneToOne && len(n.Forward) > 0 {
		return fmt.Errorf("nattest: a %v forwards no ports: Forward is for OneToOne", n.Kind)
	}
	for _, p := range n.Forward {
		if (p.Proto != "udp" && p.Proto != "tcp") || p.Num == 0 {
			return fmt.Errorf("nattest: forwarded port %+v: want udp or tcp and a port number", p)
		}
	}
	return nil
}

// ruleset is the router's nftables ruleset. Every NAT filters with
// conntrack: replies to what the LAN sent (established, related) come in,
// the rest is dropped. The router's own input drops new flows from the WAN
// too: an unsolicited packet answered by the router itself would leave a
// conntrack entry on the very address and port a later mapping needs, and
// the NAT would then pick another port (docs/webrtc-facts.md, "NATs in network namespaces").
// Drops are counted, for the failure log.
func (n NAT) ruleset(wan, host netip.Addr) string {
	var pre, post, fwd []string
	switch n.Kind {
	case Filtering, BlockUDP:
		post = append(post, `oifname "wan0" masquerade`)
	case Symmetric:
		post = append(post, `oifname "wan0" masquerade fully-random`)
	case OneToOne:
		if len(n.Forward) == 0 {
			pre = append(pre, fmt.Sprintf(`iifname "wan0" ip daddr %s dnat to %s`, wan, host))
		}
		for _, proto := range []string{"udp", "tcp"} {
			var ports []string
			for _, p := range n.Forward {
				if p.Proto == proto {
					ports = append(ports, strconv.Itoa(int(p.Num)))
				}
			}
			if len(ports) > 0 {
				pre = append(pre, fmt.Sprintf(`iifname "wan0" ip daddr %s %s dport { %s } dnat to %s`, wan, proto, strings.Join(ports, ", "), host))
			}
		}
		post = append(post, fmt.Sprintf(`oifname "wan0" ip saddr %s snat to %s`, host, wan))
		fwd = append(fwd, `ct status dnat accept`)
	}
	if n.Kind == BlockUDP {
		fwd = append([]string{`meta l4proto udp counter drop comment "UDP blocked"`}, fwd...)
	}
	fwd = append(fwd, `ct state established,related accept`, `iifname "lan0" oifname "wan0" accept`)
	chain := func(typ, hook, prio, policy string, rules ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype %s hook %s priority %s; policy %s;\n", hook, typ, hook, prio, policy)
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
		return b.String()
	}
	return "table ip nattest {\n" +
		chain("nat", "prerouting", "dstnat", "accept", pre...) +
		chain("nat", "postrouting", "srcnat", "accept", post...) +
		chain("filter", "forward", "filter", "drop", append(fwd, `counter comment "unsolicited, dropped"`)...) +
		chain("filter", "input", "filter", "accept", `iifname "wan0" ct state new counter drop comment "new from the WAN"`) +
		"}\n"
}
