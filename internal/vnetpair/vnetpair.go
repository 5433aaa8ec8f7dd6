// Package vnetpair builds the virtual network most Tickwire network tests
// need: one server host and one client host on a pion vnet router, with a
// fixed one-way delay and a filter that sees (and may drop) every packet.
// Tests then cut, mend or degrade the path without touching the machine's
// network. (The benchmark's lab, with a pair per transport, is in bench.)
package vnetpair

import (
	"fmt"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// The hosts' addresses.
const (
	ServerIP = "10.0.0.1"
	ClientIP = "10.0.0.2"
)

// New starts a router joining a server host and a client host. filter, if
// not nil, decides for each packet whether it goes through. stop stops the
// router.
func New(delay time.Duration, filter vnet.ChunkFilter) (server, client *vnet.Net, stop func() error, err error) {
	return NewJitter(delay, 0, filter)
}

// NewJitter is New on a router that also pauses, at random, up to jitter
// before each batch of packets it forwards (pion's MaxJitter), so that
// packets arrive unevenly and, across batches, out of order.
func NewJitter(delay, jitter time.Duration, filter vnet.ChunkFilter) (server, client *vnet.Net, stop func() error, err error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", MinDelay: delay, MaxJitter: jitter, LoggerFactory: lf})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vnet router: %w", err)
	}
	if server, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ServerIP}}); err != nil {
		return nil, nil, nil, fmt.Errorf("vnet host: %w", err)
	}
	if client, err = vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ClientIP}}); err != nil {
		return nil, nil, nil, fmt.Errorf("vnet host: %w", err)
	}
	for _, n := range []*vnet.Net{server, client} {
		if err := router.AddNet(n); err != nil {
			return nil, nil, nil, fmt.Errorf("vnet add host: %w", err)
		}
	}
	if filter != nil {
		router.AddChunkFilter(filter)
	}
	if err := router.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("vnet start: %w", err)
	}
	return server, client, router.Stop, nil
}
