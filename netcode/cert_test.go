//go:build !js

package netcode

import (
	"regexp"
	"testing"
	"time"
)

// TestCertStore: one certificate for every session, replaced once it
// comes within certRenew of its expiry.
func TestCertStore(t *testing.T) {
	now := time.Now()
	c := certStore{now: func() time.Time { return now }}
	a, err := c.get()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get()
	if !a.Equals(b) {
		t.Fatal("a second get made a new certificate")
	}
	now = a.Expires().Add(-certRenew + time.Minute)
	b, _ = c.get()
	if a.Equals(b) {
		t.Fatalf("near its expiry (%v) the certificate was kept", a.Expires())
	}
	now = time.Now() // pion dates its certificates by the real clock
	if c2, _ := c.get(); !b.Equals(c2) {
		t.Fatal("the new certificate was replaced at once")
	}
}

// TestServerCertificate: a server answers every client with the same
// certificate.
func TestServerCertificate(t *testing.T) {
	srv := newTestServer(t, nil)
	fp := regexp.MustCompile(`a=fingerprint:\S+ \S+`)
	var prints []string
	for range 2 {
		_, s := connect(t, srv, nil)
		prints = append(prints, fp.FindString(s.p.link.Load().rc.pc.LocalDescription().SDP))
	}
	if prints[0] == "" || prints[0] != prints[1] {
		t.Fatalf("the answers' fingerprints: %q", prints)
	}
}
