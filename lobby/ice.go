package lobby

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// ICEServer is a STUN or TURN server as a player receives it in a match, in
// the shape of the browser's RTCIceServer. It is netcode.ICEServer, so a
// match's servers go straight into netcode.Config.ICEServers.
type ICEServer = proto.ICEServer

// TURNConfig has the lobby hand out short-lived TURN credentials in the
// style of the TURN REST API (draft-uberti-behave-turn-rest), which coturn
// implements as use-auth-secret and pion/turn as LongTermTURNRESTAuthHandler:
// the lobby and the TURN server share a secret and never talk to each other.
type TURNConfig struct {
	// URLs are the TURN server's URLs, such as "turn:turn.example.com:3478".
	URLs []string
	// Secret is the secret shared with the TURN server (coturn's
	// static-auth-secret).
	Secret string
	// TTL is how long credentials stay valid (1 h by default). A TURN server
	// refuses new allocations after it, but keeps ones already made.
	TTL time.Duration
}

// TURNCredentials returns a username and password for player that a TURN
// server sharing secret accepts until expiry: the username is
// "EXPIRY_UNIX:player", the password base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret, player string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + player
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(m.Sum(nil))
}
