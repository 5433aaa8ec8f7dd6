//go:build !linux

package main

import (
	"context"
	"errors"
)

const pathPlayerCommand = "path-player"

func cmdPaths(context.Context, []string, *env) error {
	return errors.New("paths needs Linux network namespaces")
}

func cmdPathPlayer(context.Context, []string, *env) error { return cmdPaths(nil, nil, nil) }
