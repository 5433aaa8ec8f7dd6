//go:build !js

package netcode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certRenew is how long before its expiry the server's certificate is
// replaced: pion's last a month, and refuses a PeerConnection with one
// that has expired.
const certRenew = 7 * 24 * time.Hour

// certStore holds the DTLS certificate of a server's sessions. pion
// generates one for every PeerConnection otherwise: an ECDSA key and a
// self-signed certificate, 0.28 ms of the server's CPU on each connect and
// resume, on the path of the answer. One per server is what a browser does
// per origin, and it is safe: the peer trusts the certificate because the
// signaling carried its fingerprint, not for being new, and every DTLS
// handshake still makes fresh keys.
type certStore struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
	now  func() time.Time // time.Now; tests move it
}

// get returns the certificate, a new one once the old is within certRenew
// of its expiry.
func (c *certStore) get() (webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if c.cert == nil || c.cert.Expires().Sub(now()) < certRenew {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("netcode: DTLS key: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("netcode: DTLS certificate: %w", err)
		}
		c.cert = cert
	}
	return *c.cert, nil
}
