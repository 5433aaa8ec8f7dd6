//go:build tickwire_config_v1

package main

import (
	"log/slog"

	"github.com/pion/transport/v5"

	"github.com/tickwire/tickwire/netcode"
)

// netcodecfg.go for a library from before netcode's Config split: compare
// builds with it (tag tickwire_config_v1) against such a revision, so that
// both sides are measured by the same bench code.

type ncClientConfig = netcode.Config

type ncOptions struct {
	UDPAddr   string
	TCPAddr   string
	UDPBuffer int
	UDP4Only  bool
	RelayOnly bool
	Net       transport.Net
	Logger    *slog.Logger
}

func (o ncOptions) server() *netcode.Config {
	return &netcode.Config{UDPAddr: o.UDPAddr, TCPAddr: o.TCPAddr, UDPBuffer: o.UDPBuffer, Net: o.Net, Logger: o.Logger}
}

func (o ncOptions) client() *ncClientConfig {
	c := &netcode.Config{RelayOnly: o.RelayOnly, Net: o.Net, Logger: o.Logger}
	if o.UDP4Only {
		c.NetworkTypes = []netcode.NetworkType{netcode.NetworkUDP4}
	}
	return c
}
