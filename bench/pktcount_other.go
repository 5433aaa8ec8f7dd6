//go:build !linux

package main

import (
	"context"
	"errors"
)

type udpPortCounter struct{}

func countUDPPort(context.Context, int) (*udpPortCounter, error) {
	return nil, errors.New("counting packets needs Linux's nftables")
}

func (*udpPortCounter) read(context.Context) (in, out int64, err error) {
	return 0, 0, errors.New("counting packets needs Linux's nftables")
}

func (*udpPortCounter) stop() {}
