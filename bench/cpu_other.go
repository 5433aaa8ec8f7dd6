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

// processCPUOf needs Linux's /proc.
func processCPUOf(int) (time.Duration, error) {
	return 0, errors.New("another process's CPU time is only measured on Linux")
}

// lowerPriority needs Unix.
func lowerPriority(int) error {
	return errors.New("priorities are only set on Unix")
}
