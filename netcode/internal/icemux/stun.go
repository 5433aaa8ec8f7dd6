//go:build !js

package icemux

import "encoding/binary"

// STUN framing (RFC 8489 section 5): a 20-byte header of type, length and
// magic cookie, then attributes of type, length and value padded to 4 bytes.
const (
	stunHeaderLen   = 20
	stunMagicCookie = 0x2112A442

	stunBindingRequest = 0x0001
	stunBindingSuccess = 0x0101
	stunBindingError   = 0x0111

	stunAttrUsername = 0x0006

	// maxUsernameLen is RFC 8489's bound on USERNAME (513 bytes).
	maxUsernameLen = 513
)

// stunHeader reads a STUN header without allocating: ok is false for
// anything that is not one (most of what arrives on a game server's port is
// DTLS). The length is checked against the datagram, so a caller may walk
// the attributes within it.
func stunHeader(b []byte) (typ uint16, body []byte, ok bool) {
	if len(b) < stunHeaderLen || b[0]&0xC0 != 0 {
		return 0, nil, false
	}
	if binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n%4 != 0 || stunHeaderLen+n != len(b) {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(b[0:2]), b[stunHeaderLen:], true
}

// localUfrag returns the local half of a binding request's USERNAME
// ("local:remote" as the receiver sees it, RFC 8445 section 7.2.2), or ""
// when the message has none. It allocates nothing: the mux looks it up in
// a map keyed by string, which Go does without converting.
func localUfrag(body []byte) []byte {
	for len(body) >= 4 {
		typ := binary.BigEndian.Uint16(body[0:2])
		n := int(binary.BigEndian.Uint16(body[2:4]))
		padded := (n + 3) &^ 3
		if 4+padded > len(body) {
			return nil
		}
		if typ == stunAttrUsername {
			v := body[4 : 4+n]
			if n > maxUsernameLen {
				return nil
			}
			for i, c := range v {
				if c == ':' {
					return v[:i]
				}
			}
			return nil
		}
		body = body[4+padded:]
	}
	return nil
}

// transactionID is a STUN message's 12-byte transaction id.
func transactionID(b []byte) (id [12]byte) {
	copy(id[:], b[8:20])
	return id
}
