//go:build !js

package netcode

import (
	"testing"
	"time"
)

func TestRTTEstimator(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	tests := []struct {
		name    string
		samples []time.Duration
		want    time.Duration
	}{
		{"one sample", []time.Duration{ms(10)}, ms(10)},
		// A slow first ping (the peer still starting) does not linger.
		{"slow start", []time.Duration{ms(60), ms(1.2), ms(1.2), ms(1.2)}, ms(1.2)},
		// Past the seed samples, a drop is smoothed like any change.
		{"smoothed after seeding", []time.Duration{ms(8), ms(8), ms(8), ms(8), ms(0)}, ms(7)},
		{"rises are smoothed", []time.Duration{ms(8), ms(16)}, ms(9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r rttEstimator
			for _, s := range tt.samples {
				r.add(s)
			}
			if got, _ := r.get(); got != tt.want {
				t.Fatalf("srtt %v, want %v", got, tt.want)
			}
		})
	}
}
