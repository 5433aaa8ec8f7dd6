//go:build !unix

package main

import (
	"errors"
	"time"
)

// processCPU needs getrusage; ccu reports no CPU figures without it.
func processCPU() (time.Duration, error) {
	return 0, errors.New("process CPU time is only measured on Unix")
}
