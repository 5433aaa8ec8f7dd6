//go:build !js

package icemux

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pion/stun/v4"
)

// FuzzSTUN holds the mux's allocation-free STUN reading to pion's decoder,
// which the agent applies afterwards: whatever the mux takes for a binding
// request and its ufrag, pion must read the same way, so that no datagram
// is routed to an agent on a reading the agent does not share.
func FuzzSTUN(f *testing.F) {
	for _, u := range []string{"abc:def", "a:", ":b", "nocolon", strings.Repeat("x", 600) + ":y"} {
		m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(u), stun.Fingerprint)
		if err == nil {
			f.Add(m.Raw)
		}
	}
	m, _ := stun.Build(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{1, 2, 3, 4}, Port: 5})
	f.Add(m.Raw)
	f.Add([]byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 4, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 6, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, body, ok := stunHeader(b)
		if !ok {
			return
		}
		if len(body) != len(b)-stunHeaderLen {
			t.Fatalf("body of %d bytes in a %d-byte message", len(body), len(b))
		}
		uf := localUfrag(body)
		msg := &stun.Message{Raw: append([]byte(nil), b...)}
		if err := msg.Decode(); err != nil {
			return // the agent drops it; whatever the mux did, it was bounded
		}
		if uint16(msg.Type.Value()) != typ {
			t.Fatalf("type %#x, pion reads %#x", typ, msg.Type.Value())
		}
		if uf == nil {
			return
		}
		user, err := msg.Get(stun.AttrUsername)
		if err != nil {
			// pion takes the first USERNAME as well; a message the mux
			// found one in must have one.
			t.Fatalf("mux read ufrag %q, pion finds no USERNAME: %v", uf, err)
		}
		want, _, _ := bytes.Cut(user, []byte(":"))
		if !bytes.Equal(uf, want) {
			t.Fatalf("mux read ufrag %q, pion's USERNAME is %q", uf, user)
		}
	})
}
