//go:build !js

package netcode

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/transport/v5/vnet"
	"github.com/tickwire/tickwire/internal/vnetpair"
)

// TestDTLSHandshakeHasNoCookie checks that a connect spends no round trip
// on DTLS's cookie exchange: the client, the DTLS server, answers the
// server's first ClientHello with its ServerHello (settings.go says why
// that is safe under ICE). With the exchange, the server sends ClientHello
// twice and the client a HelloVerifyRequest between them.
func TestDTLSHandshakeHasNoCookie(t *testing.T) {
	var mu sync.Mutex
	sent := map[string]map[byte]int{} // source host, handshake type: DTLS records
	filter := func(c vnet.Chunk) bool {
		b := c.UserData()
		// A DTLS 1.2 handshake record: content type 22, a 13-byte record
		// header, then the handshake message's type. Only the first
		// flights are in the clear, and those are what this test reads.
		if len(b) > 13 && b[0] == 22 {
			src := c.SourceAddr().(*net.UDPAddr).IP.String()
			mu.Lock()
			if sent[src] == nil {
				sent[src] = map[byte]int{}
			}
			sent[src][b[13]]++
			mu.Unlock()
		}
		return true
	}
	serverNet, clientNet, stop, err := vnetpair.New(5*time.Millisecond, filter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	srv := newTestServer(t, vnetServerConfig(serverNet))
	connect(t, srv, vnetClientConfig(clientNet))

	const clientHello, helloVerifyRequest, serverHello = 1, 3, 2
	mu.Lock()
	defer mu.Unlock()
	if n := sent[vnetpair.ClientIP][helloVerifyRequest]; n != 0 {
		t.Errorf("the client sent %d HelloVerifyRequests; want none", n)
	}
	if n := sent[vnetpair.ServerIP][clientHello]; n != 1 {
		t.Errorf("the server sent %d ClientHellos; want 1", n)
	}
	if n := sent[vnetpair.ClientIP][serverHello]; n != 1 {
		t.Errorf("the client sent %d ServerHellos; want 1 (DTLS roles: the server should be the DTLS client)", n)
	}
}
