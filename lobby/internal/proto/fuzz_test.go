package proto

import (
	"math"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeLimits checks PROTOCOL.md's limits on what Decode accepts from
// players and game servers, the two untrusted directions, with an oracle
// of its own rather than validate's code: every string, at any depth, is
// valid UTF-8 and within its field's bound, and the numbers are within
// theirs. FuzzDecode (proto_test.go) checks the codes and the round trip.
func FuzzDecodeLimits(f *testing.F) {
	for _, s := range samples() {
		if s.side == FromPlayer || s.side == FromServer {
			b, err := Encode(s.typ, s.msg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(s.side == FromServer, b)
		}
	}
	f.Add(false, []byte(`{"type":"signal","room":"r","signal":{"type":"candidate","candidate":{"candidate":"c","sdpMid":"m","usernameFragment":"u"}}}`))
	f.Add(false, []byte(`{"type":"queue","mode":"m","rating":-1e9}`))
	f.Add(true, []byte(`{"type":"register","v":1,"capacity":1048576,"key":"k"}`))
	f.Fuzz(func(t *testing.T, server bool, b []byte) {
		side := FromPlayer
		if server {
			side = FromServer
		}
		msg, err := Decode(side, b)
		if err != nil {
			return
		}
		checkLimits(t, reflect.ValueOf(msg), "", b)
		switch m := msg.(type) {
		case *Queue:
			if math.IsNaN(m.Rating) || math.Abs(m.Rating) > 1e9 {
				t.Fatalf("rating %v accepted from %q", m.Rating, b)
			}
		case *RoomCreate:
			if m.Max < 0 {
				t.Fatalf("max %d accepted from %q", m.Max, b)
			}
		case *Register:
			if m.Capacity < 1 || m.Capacity > 1<<20 || m.V != Version {
				t.Fatalf("register %+v accepted from %q", m, b)
			}
		case *Hello:
			if m.V != Version || m.Token == "" {
				t.Fatalf("hello %+v accepted from %q", m, b)
			}
		case *Signal:
			if m.Signal == nil || m.Room == "" {
				t.Fatalf("signal %+v accepted from %q", m, b)
			}
		}
	})
}

// fieldLimit is the bound of a string field, by its struct field name.
func fieldLimit(field string) int {
	switch field {
	case "SDP":
		return MaxSDPSize
	case "Candidate":
		return MaxCandidateSize
	case "Token", "Key":
		return MaxTokenLen
	case "Resume":
		return MaxResumeLen
	case "Error":
		return MaxSignalErrorLen
	}
	return max(MaxIDLen, MaxNameLen)
}

func checkLimits(t *testing.T, v reflect.Value, field string, in []byte) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			checkLimits(t, v.Elem(), field, in)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			checkLimits(t, v.Field(i), v.Type().Field(i).Name, in)
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkLimits(t, v.Index(i), field, in)
		}
	case reflect.String:
		s := v.String()
		if len(s) > fieldLimit(field) || !utf8.ValidString(s) {
			t.Fatalf("%s of %d bytes (limit %d, UTF-8 %v) accepted from %q", field, len(s), fieldLimit(field), utf8.ValidString(s), in)
		}
	}
}
