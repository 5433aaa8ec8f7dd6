//go:build !linux

package main

import (
	"context"
	"errors"
)

const pathPlayerCommand = "path-player"

func init() {
	register(
		subcommand{"paths", "match to channels open by path (UDP, NAT, ICE-TCP, TURN over UDP/TCP/TLS); root, Linux", cmdPaths},
		subcommand{pathPlayerCommand, "", cmdPathPlayer},
	)
}

func cmdPaths(context.Context, []string, *env) error {
	return errors.New("paths needs Linux network namespaces")
}

func cmdPathPlayer(context.Context, []string, *env) error { return cmdPaths(nil, nil, nil) }
