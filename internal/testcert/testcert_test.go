package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// TestCert: a TLS server with the certificate is trusted, for each of its
// hosts, by a client whose roots hold the authority, and refused by one
// checking another name or trusting other roots.
func TestCert(t *testing.T) {
	c := New(t, "127.0.0.1", "turn.test")
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
			}()
		}
	}()
	fromFile := x509.NewCertPool()
	if !fromFile.AppendCertsFromPEM(c.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	for _, tt := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"127.0.0.1", c.Pool, true},
		{"turn.test", fromFile, true},
		{"other.test", c.Pool, false},
		{"127.0.0.1", x509.NewCertPool(), false},
	} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: tt.name, RootCAs: tt.roots})
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s: handshake error %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
