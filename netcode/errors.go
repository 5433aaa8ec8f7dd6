package netcode

import (
	"errors"
	"fmt"

	"github.com/tickwire/tickwire/netcode/internal/wire"
)

var (
	// ErrClosed is returned by calls on a closed Client or Session. The error
	// returned by Err is a *CloseError that matches ErrClosed with errors.Is
	// and says who closed it and why.
	ErrClosed = errors.New("netcode: closed")
	// ErrServerClosed is returned by Accept after Shutdown or Close.
	ErrServerClosed = errors.New("netcode: server closed")
	// ErrTooLarge is returned when a message is over its size budget
	// (Config.MaxUnreliableSize for snapshots and inputs, Config.MaxEventSize
	// for events). Nothing is sent: Tickwire never fragments an unreliable
	// message behind the caller's back.
	ErrTooLarge = errors.New("netcode: message too large")
	// ErrCongested is returned by unreliable sends when the transport already
	// holds Config.UnreliableBuffer bytes: the message is dropped, as a
	// snapshot that would arrive late is worth less than the next one.
	ErrCongested = errors.New("netcode: unreliable channel congested, message dropped")
	// ErrEventBufferFull is returned by SendEvent when Config.EventBuffer bytes
	// of events are waiting for the peer. The event was not sent; the caller
	// may retry later or give up on the peer.
	ErrEventBufferFull = errors.New("netcode: event send buffer full")
	// ErrProtocol means the peer broke the wire protocol (WIRE.md).
	ErrProtocol = errors.New("netcode: protocol violation")
	// ErrSlowReader means more than Config.EventQueue received events were
	// left unread; the session is closed rather than stalling the network or
	// dropping a reliable event.
	ErrSlowReader = errors.New("netcode: received events not read")
	// ErrSignaling means the offer/answer exchange failed.
	ErrSignaling = errors.New("netcode: signaling failed")
	// ErrConnectionLost means the transport failed underneath the session.
	ErrConnectionLost = errors.New("netcode: connection lost")
	// ErrResumeRejected means the server refused to resume the session on a
	// new PeerConnection: its resume token was forged, already used or
	// expired (the server gave up waiting), or the session is gone. The
	// CloseError's reason says which.
	ErrResumeRejected = errors.New("netcode: resume rejected")
	// ErrLimit means a client went past one of the server's limits on what
	// one client may make it hold or do (ServerConfig.MaxCandidates, SignalRate,
	// ...; SECURITY.md): its handshake fails, or its session closes with
	// CloseProtocolError.
	ErrLimit = errors.New("netcode: limit exceeded")
	// ErrNotConnected is returned by Path while no connection carries the
	// session: before it opens, and while it reconnects.
	ErrNotConnected = errors.New("netcode: not connected")
	// ErrInvalidType is returned for an entity type a World cannot
	// replicate (a field without a tag saying how it travels, a range
	// that does not fit 32 bits, ...), and for a value of a type never
	// registered.
	ErrInvalidType = errors.New("netcode: invalid entity type")
	// ErrNoEntity is returned for an entity id the world or replica does
	// not have.
	ErrNoEntity = errors.New("netcode: no such entity")
	// ErrInvalidConfig is returned for a Config that cannot work.
	ErrInvalidConfig = errors.New("netcode: invalid config")
	// ErrRefused means the server refused the session before it opened:
	// its channels were not Tickwire's, it went past a limit, or its
	// handshake failed on the server. The CloseError's code and reason are
	// the server's.
	ErrRefused = errors.New("netcode: session refused")
	// ErrCloseCode is returned by CloseWithError for a code outside the
	// applications' range, CloseApplicationMin to CloseApplicationMax.
	ErrCloseCode = errors.New("netcode: close code not in the applications' range")
	// ErrSignalingClosed means WebSocket signaling (DialSignaler,
	// SignalHandler) has no WebSocket to use: the other side closed it,
	// with the status and reason the error carries (the session ended, or
	// the server refused what it was sent), or it broke and is not back
	// yet. SIGNALING.md lists the statuses.
	ErrSignalingClosed = errors.New("netcode: signaling WebSocket closed")
)

// CloseCode says why a session ended. It travels in the close message
// (WIRE.md), so both ends report the same reason.
type CloseCode uint16

const (
	CloseNormal          CloseCode = 0 // the application closed it
	CloseShutdown        CloseCode = 1 // the server is shutting down
	CloseProtocolError   CloseCode = 2 // malformed or out-of-sequence message
	CloseVersionMismatch CloseCode = 3 // peer speaks another wire version
	CloseTooLarge        CloseCode = 4 // peer sent a message over the size budget
	CloseSlowReader      CloseCode = 5 // the application did not read its events
	CloseConnectionLost  CloseCode = 6 // the transport failed; never sent on the wire
	// CloseBufferOverflow: while reconnecting, more than Config.EventBuffer
	// bytes of events waited for the peer's acknowledgement. Local only.
	CloseBufferOverflow CloseCode = 7

	// CloseApplicationMin to CloseApplicationMax are the game's own codes,
	// for CloseWithError: Tickwire never uses them, and the peer sees them
	// as sent (as WebSocket reserves 4000-4999 for applications).
	CloseApplicationMin CloseCode = 4000
	CloseApplicationMax CloseCode = 4999
)

func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal"
	case CloseShutdown:
		return "shutdown"
	case CloseProtocolError:
		return "protocol error"
	case CloseVersionMismatch:
		return "version mismatch"
	case CloseTooLarge:
		return "message too large"
	case CloseSlowReader:
		return "slow reader"
	case CloseConnectionLost:
		return "connection lost"
	case CloseBufferOverflow:
		return "resend buffer overflow"
	}
	if c >= CloseApplicationMin && c <= CloseApplicationMax {
		return fmt.Sprintf("application code %d", uint16(c))
	}
	return fmt.Sprintf("code %d", uint16(c))
}

// checkAppCode says whether code is the application's to send.
func checkAppCode(code CloseCode) error {
	if code < CloseApplicationMin || code > CloseApplicationMax {
		return fmt.Errorf("%w: %d", ErrCloseCode, uint16(code))
	}
	return nil
}

// CloseError tells why a Client or Session ended.
type CloseError struct {
	Code   CloseCode
	Reason string
	// Remote is true when the peer closed the session and told us why.
	Remote bool
	// Err is the local cause, if any (for example ErrProtocol or ErrConnectionLost).
	Err error
}

func (e *CloseError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by peer"
	}
	s := fmt.Sprintf("netcode: closed %s: %s", who, e.Code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes every CloseError match ErrClosed.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the local cause.
func (e *CloseError) Unwrap() error { return e.Err }

// WireVersion is the version of WIRE.md this package speaks; a peer with
// another one is disconnected with CloseVersionMismatch.
const WireVersion = wire.Version
