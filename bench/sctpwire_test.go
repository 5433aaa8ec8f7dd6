package main

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

// sctpPacket builds an SCTP packet (common header, zero checksum) from
// chunks given as type and value, each padded to 4 bytes.
func sctpPacket(chunks ...[]byte) []byte {
	b := make([]byte, 12)
	for _, c := range chunks {
		b = append(b, c...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

func sctpChunk(typ byte, value []byte) []byte {
	c := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(c[2:], uint16(4+len(value)))
	return append(c, value...)
}

func dataChunk(tsn uint32) []byte {
	v := make([]byte, 13) // TSN, stream, SSN, PPID, one byte of payload
	binary.BigEndian.PutUint32(v, tsn)
	return sctpChunk(0, v)
}

func TestClassifySCTP(t *testing.T) {
	sack := sctpChunk(3, make([]byte, 12))
	fwd := sctpChunk(192, make([]byte, 4))
	for _, tc := range []struct {
		name string
		pkts [][]byte
		want []string
	}{
		{"data", [][]byte{sctpPacket(dataChunk(1))}, []string{"DATA"}},
		{"a run of data is named once", [][]byte{sctpPacket(dataChunk(1), dataChunk(2))}, []string{"DATA"}},
		{"bundle in order", [][]byte{sctpPacket(sack, fwd, dataChunk(1))}, []string{"SACK+FORWARD-TSN+DATA"}},
		{"retransmission", [][]byte{sctpPacket(dataChunk(7)), sctpPacket(dataChunk(8)), sctpPacket(dataChunk(7))},
			[]string{"DATA", "DATA", "DATA(rtx)"}},
		{"I-DATA and I-FORWARD-TSN", [][]byte{sctpPacket(sctpChunk(64, make([]byte, 16))), sctpPacket(sctpChunk(194, make([]byte, 4)))},
			[]string{"I-DATA", "I-FORWARD-TSN"}},
		{"unknown type", [][]byte{sctpPacket(sctpChunk(99, nil))}, []string{"type99"}},
		{"header only", [][]byte{make([]byte, 12)}, []string{"malformed"}},
		{"length past the end", [][]byte{append(make([]byte, 12), 0, 0, 0, 40)}, []string{"malformed"}},
		{"length under a chunk header", [][]byte{append(make([]byte, 12), 3, 0, 0, 2)}, []string{"malformed"}},
		{"truncated second chunk", [][]byte{append(sctpPacket(sack), 3, 0)}, []string{"malformed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[uint32]bool{}
			var got []string
			for _, p := range tc.pkts {
				got = append(got, classifySCTP(p, seen))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPacketKindsByDirection(t *testing.T) {
	k := newPacketKinds()
	k.add(sctpPacket(dataChunk(1)), true, false)
	k.add(sctpPacket(dataChunk(1)), false, true) // the same TSN the other way is no retransmission
	k.add(sctpPacket(dataChunk(1)), true, false)
	total, byKind := k.snapshot()
	want := map[string]int{"out DATA": 1, "back DATA": 1, "out DATA(rtx)": 1}
	if total != 3 || len(byKind) != len(want) {
		t.Fatalf("total %d, kinds %v; want 3, %v", total, byKind, want)
	}
	for name, n := range want {
		if byKind[name] != n {
			t.Errorf("%s: %d, want %d", name, byKind[name], n)
		}
	}
}

func TestSCTPSmoke(t *testing.T) {
	var r sctpWireReport
	decodeOne(t, runBench(t, "sctp", "-losses", "0", "-delays", "5ms", "-duration", "500ms", "-drain", "500ms",
		"-back-hz", "20", "-json"), &r)
	if r.Scenario != "sctp" || len(r.Cells) != 1 || r.Params.BackHz != 20 {
		t.Fatalf("scenario %q, %d cells, params %+v", r.Scenario, len(r.Cells), r.Params)
	}
	results := r.Cells[0].Results
	want := []string{"sctp-unreliable", "sctp-rexmit1", "sctp-reliable"}
	if got := transportNames(results, func(r lossResult) string { return r.Transport }); !slices.Equal(got, want) {
		t.Fatalf("transports %v, want %v", got, want)
	}
	for _, res := range results {
		checkResult(t, res.result, 30)
		if res.Lost != 0 {
			t.Errorf("%s lost %d without loss", res.Transport, res.Lost)
		}
		if res.BackSent == 0 {
			t.Errorf("%s: nothing sent back", res.Transport)
		}
		// Every packet is in one kind, and the kinds add up to the total.
		sum := 0.0
		for name, v := range res.Kinds {
			sum += v
			if strings.Contains(name, "malformed") {
				t.Errorf("%s: %v %s packets per message", res.Transport, v, name)
			}
			// Without loss nothing is retransmitted, and only a stream
			// that abandons chunks has a TSN to skip.
			if strings.Contains(name, "(rtx)") || (res.Transport != "sctp-unreliable" && strings.Contains(name, "FORWARD-TSN")) {
				t.Errorf("%s: %v %s packets per message without loss", res.Transport, v, name)
			}
		}
		if math.Abs(sum-res.WirePacketsPerMsg) > 1e-9 {
			t.Errorf("%s: kinds add up to %v packets per message, total %v", res.Transport, sum, res.WirePacketsPerMsg)
		}
		// Each message sent either way is one DATA chunk of its own.
		data := res.Kinds["out I-DATA"] + res.Kinds["back I-DATA"] + res.Kinds["out DATA"] + res.Kinds["back DATA"]
		if data <= 0 || data > 1+1e-9 {
			t.Errorf("%s: %v DATA packets per message", res.Transport, data)
		}
	}
}
