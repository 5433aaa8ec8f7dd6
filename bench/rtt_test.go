package main

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRTT is rtt as a Go benchmark, one transport at a time, for
// `go test -bench` and benchstat: the same echo paths, without the
// interleaving that the rtt subcommand adds to compare transports fairly.
func BenchmarkRTT(b *testing.B) {
	for _, tr := range echoTransports() {
		b.Run(tr.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
			ec, err := tr.open(ctx)
			cancel()
			if err != nil {
				b.Fatalf("open: %v", err)
			}
			b.Cleanup(ec.close)
			p := newPayload(64)
			for range warmupTrips {
				if _, _, err := ec.echo(p.next()); err != nil {
					b.Fatalf("warm-up: %v", err)
				}
			}
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				rtt, ok, err := ec.echo(p.next())
				if err != nil {
					b.Fatalf("echo: %v", err)
				}
				if ok {
					samples = append(samples, rtt)
				}
			}
			b.StopTimer()
			r := newResult(tr.name, b.N, samples)
			if r.Lost == r.N {
				b.Fatalf("all %d echoes lost", b.N)
			}
			b.ReportMetric(r.P50, "p50-us")
			b.ReportMetric(r.P99, "p99-us")
			b.ReportMetric(float64(r.Lost), "lost")
		})
	}
}
