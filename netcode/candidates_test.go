//go:build !js

package netcode

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func testPolicy(local bool) *candidatePolicy {
	return &candidatePolicy{
		local: local,
		own:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("2001:db8::/64")},
		max:   3,
	}
}

func TestCandidatePolicy(t *testing.T) {
	tests := []struct {
		cand  string
		ok    bool // on a server on the internet
		local bool // with AllowLocalCandidates
	}{
		{"candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host", true, true},
		{"a=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host", true, true},
		{"candidate:1 1 udp 1694498815 203.0.113.9 51000 typ srflx raddr 0.0.0.0 rport 0", true, true},
		{"candidate:1 1 udp 16777215 203.0.113.10 60000 typ relay raddr 203.0.113.9 rport 51000", true, true},
		{"candidate:1 1 udp 2130706431 2001:db9::1 40000 typ host", true, true},
		{"candidate:1 1 udp 2130706431 10.0.0.7 40000 typ host", false, true},    // the server's network
		{"candidate:1 1 udp 2130706431 2001:db8::7 40000 typ host", false, true}, // the server's network
		{"candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", false, true},   // loopback
		{"candidate:1 1 udp 2130706431 ::ffff:127.0.0.1 40000 typ host", false, true},
		{"candidate:1 1 udp 2130706431 169.254.3.4 40000 typ host", false, true}, // link-local
		{"candidate:1 1 udp 2130706431 fe80::1 40000 typ host", false, true},
		{"candidate:1 1 udp 2130706431 224.0.0.251 5353 typ host", false, false}, // multicast
		{"candidate:1 1 udp 2130706431 ff02::1 40000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 255.255.255.255 40000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 0.0.0.0 40000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 0.1.2.3 40000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 240.0.0.1 40000 typ host", false, false},
		{"candidate:1 1 udp 2130706431 198.51.100.7 53 typ host", false, false}, // a DNS server
		{"candidate:1 1 udp 2130706431 198.51.100.7 123 typ host", false, false},
		// An active TCP candidate is dialled from, never to: port 9 is
		// its convention, and the server never dials.
		{"candidate:1 1 tcp 1518280447 198.51.100.7 9 typ host tcptype active", true, true},
		{"candidate:1 1 tcp 1518280447 10.0.0.7 9 typ host tcptype active", true, true},
		{"candidate:1 1 tcp 1518280447 10.0.0.7 9000 typ host tcptype passive", false, true},
		{"candidate:1 1 udp 2130706431 a.example.com 40000 typ host", false, false}, // names are never looked up
		{"candidate:garbage", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		for _, local := range []bool{false, true} {
			want := tt.ok || (local && tt.local)
			err := testPolicy(local).check(tt.cand)
			if (err == nil) != want {
				t.Errorf("local %v: %q: %v, want allowed %v", local, tt.cand, err, want)
			}
			if err != nil && !errors.Is(err, errCandidateRefused) {
				t.Errorf("%q: %v is not errCandidateRefused", tt.cand, err)
			}
		}
	}
	// Browsers' mDNS names: not resolved, dropped quietly.
	if err := testPolicy(false).check("candidate:1 1 udp 2130706431 0c4f6d9e-2a1b.local 40000 typ host"); !errors.Is(err, errCandidateMDNS) {
		t.Errorf("mDNS candidate: %v", err)
	}
}

func TestFilterSDP(t *testing.T) {
	const head = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
	good := "a=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host\r\n"
	local := "a=candidate:2 1 udp 2130706431 10.0.0.7 40000 typ host\r\n"
	mdns := "a=candidate:3 1 udp 2130706431 x.local 40000 typ host\r\n"
	tail := "a=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\n"

	p := testPolicy(false)
	accepted := 0
	out, refused, err := p.filterSDP(head+good+local+mdns+good+tail, &accepted)
	if err != nil || refused != 1 || accepted != 2 {
		t.Fatalf("filterSDP: refused %d, accepted %d, %v", refused, accepted, err)
	}
	if want := head + good + good + tail; out != want {
		t.Fatalf("filtered SDP:\n%q\nwant\n%q", out, want)
	}
	// No candidates: untouched, even without a final line break.
	if out, _, _ := p.filterSDP("v=0\r\nm=x", &accepted); out != "v=0\r\nm=x" {
		t.Fatalf("SDP without candidates changed: %q", out)
	}
	// Past the limit, the whole offer is refused.
	accepted = 0
	if _, _, err := p.filterSDP(head+strings.Repeat(good, 4)+tail, &accepted); !errors.Is(err, ErrLimit) {
		t.Fatalf("four candidates, limit 3: %v", err)
	}
}

func TestScreen(t *testing.T) {
	var refused atomic.Uint64
	s := newScreen(&config{SignalRate: 1, SignalBurst: 3}, testPolicy(false), &refused)
	for i := range 3 {
		if err := s.signal(); err != nil {
			t.Fatalf("signal %d of a burst of 3: %v", i, err)
		}
	}
	if err := s.signal(); !errors.Is(err, ErrLimit) {
		t.Fatalf("fourth signal: %v", err)
	}
	// Candidates count per connection attempt; an offer starts one.
	good := ICECandidate{Candidate: "candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host"}
	for i := range 3 {
		if use, err := s.candidate(good); !use || err != nil {
			t.Fatalf("candidate %d: %v, %v", i, use, err)
		}
	}
	if use, _ := s.candidate(ICECandidate{Candidate: "candidate:1 1 udp 1 10.0.0.7 40000 typ host"}); use || refused.Load() != 1 {
		t.Fatalf("a local candidate used %v, refused %d", use, refused.Load())
	}
	if _, err := s.candidate(good); !errors.Is(err, ErrLimit) {
		t.Fatalf("fourth candidate: %v", err)
	}
	if _, err := s.offer("v=0\r\n"); err != nil {
		t.Fatal(err)
	}
	if use, err := s.candidate(good); !use || err != nil {
		t.Fatalf("after a new offer: %v, %v", use, err)
	}
}

// FuzzCandidates holds the policy to its promises on any input a client
// can send: no panic, an offer loses only candidate lines, never gains
// any, keeps none the policy refuses, and keeps within the limit.
func FuzzCandidates(f *testing.F) {
	f.Add("v=0\r\na=candidate:1 1 udp 2130706431 198.51.100.7 40000 typ host\r\na=ice-ufrag:x\r\n")
	f.Add("a=candidate:1 1 udp 2130706431 10.0.0.7 40000 typ host\na=candidate:2 1 tcp 1 ::1 9 typ host tcptype active")
	f.Add("a=candidate:\r\na=candidate:1 1 udp 1 x.local 1 typ host\r\n\r\n")
	f.Add("a=candidate:1 65536 udp 99999999999 1.2.3.4 99999 typ relay raddr")
	f.Fuzz(func(t *testing.T, sdp string) {
		for _, local := range []bool{false, true} {
			p := testPolicy(local)
			accepted := 0
			out, refused, err := p.filterSDP(sdp, &accepted)
			if err != nil {
				if !errors.Is(err, ErrLimit) || accepted <= p.max {
					t.Fatalf("error %v with %d accepted", err, accepted)
				}
				continue
			}
			if accepted > p.max || refused < 0 {
				t.Fatalf("accepted %d (max %d), refused %d", accepted, p.max, refused)
			}
			in, kept := lines(sdp), lines(out)
			if len(kept) > len(in) {
				t.Fatalf("%d lines out of %d", len(kept), len(in))
			}
			// Every output line is an input line, in order; the lines
			// dropped are candidates.
			j := 0
			for _, line := range in {
				if j < len(kept) && kept[j] == line {
					j++
					continue
				}
				if !strings.HasPrefix(line, "a=candidate:") {
					t.Fatalf("non-candidate line %q dropped", line)
				}
			}
			if j != len(kept) {
				t.Fatalf("output has lines not in the input: %q", out)
			}
			for _, line := range kept {
				if attr := strings.TrimRight(line, "\r\n"); strings.HasPrefix(attr, "a=candidate:") && p.check(attr) != nil {
					t.Fatalf("kept a refused candidate %q", line)
				}
			}
		}
	})
}

// lines splits s after each line break, so that a line keeps its own.
func lines(s string) []string {
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
