//go:build !tickwire_config_v1

package main

import (
	"log/slog"

	"github.com/pion/transport/v5"

	"github.com/tickwire/tickwire/netcode"
)

// The netcode settings the bench uses, made in this one file, so that
// compare can build this tree's bench against a revision from before
// netcode's Config was split into ClientConfig, ServerConfig and
// NativeConfig (issue 16): it builds with the tag tickwire_config_v1 there,
// which swaps this file for netcodecfg_v1.go.

// ncClientConfig is what netcode.Dial and lobby.Client.Connect take.
type ncClientConfig = netcode.ClientConfig

// ncOptions are the settings bench changes from netcode's defaults.
type ncOptions struct {
	// Server side.
	UDPAddr   string
	TCPAddr   string
	UDPBuffer int
	// Client side.
	UDP4Only  bool // gather on UDP over IPv4 only
	RelayOnly bool
	// Either side.
	Net    transport.Net
	Logger *slog.Logger
}

func (o ncOptions) server() *netcode.ServerConfig {
	return &netcode.ServerConfig{
		Config:  netcode.Config{Logger: o.Logger, Native: netcode.NativeConfig{Net: o.Net}},
		UDPAddr: o.UDPAddr, TCPAddr: o.TCPAddr, UDPBuffer: o.UDPBuffer,
	}
}

func (o ncOptions) client() *ncClientConfig {
	c := &netcode.ClientConfig{
		Config:    netcode.Config{Logger: o.Logger, Native: netcode.NativeConfig{Net: o.Net}},
		RelayOnly: o.RelayOnly,
	}
	if o.UDP4Only {
		c.Native.NetworkTypes = []netcode.NetworkType{netcode.NetworkUDP4}
	}
	return c
}
