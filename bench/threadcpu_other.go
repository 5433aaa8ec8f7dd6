//go:build !linux

package main

import "time"

// threadCPU needs Linux's RUSAGE_THREAD; elsewhere there is no figure.
func threadCPU() (time.Duration, bool) { return 0, false }
