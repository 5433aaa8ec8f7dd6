//go:build linux

package main

import (
	"os"
	"testing"
)

// TestPathsSmoke: paths in network namespaces, two connections a path,
// each selecting the pair its path is about (the command reports any
// other as an error).
func TestPathsSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("paths needs root on Linux, which CI has")
		}
		t.Skip("paths needs root on Linux (network namespaces)")
	}
	var r pathsReport
	decodeOne(t, runBench(t, "paths", "-n", "2", "-json"), &r)
	if len(r.Results) != len(pathCases()) {
		t.Fatalf("%d paths, want %d", len(r.Results), len(pathCases()))
	}
	for _, p := range r.Results {
		if p.Error != "" || p.N != 2 || !(0 < p.P50MS && p.P50MS <= p.P99MS && p.P99MS <= p.MaxMS) {
			t.Errorf("%s: %+v", p.Path, p)
		}
	}
}
