package lobby

import (
	"errors"
	"fmt"

	"github.com/tickwire/tickwire/lobby/internal/proto"
)

var (
	// ErrClosed is returned by calls on a closed Client, GameServer or Server.
	ErrClosed = errors.New("lobby: closed")
	// ErrUnauthorized is returned for a token the Authenticator refuses;
	// the *Error that wraps it says whether it was forged, expired or replayed.
	ErrUnauthorized = errors.New("lobby: unauthorized")
	// ErrRefused is matched by every *Error: the lobby answered a request
	// with an error code (PROTOCOL.md lists them).
	ErrRefused = errors.New("lobby: request refused")
	// ErrInvalidConfig is returned for a Config that cannot work.
	ErrInvalidConfig = errors.New("lobby: invalid config")
	// ErrProtocol means the other side broke PROTOCOL.md.
	ErrProtocol = errors.New("lobby: protocol violation")
	// ErrUnavailable is matched by an *Error with CodeUnavailable: the
	// lobby's shared store (Redis) cannot be reached, so it takes no new
	// work. Try again later; running games are not affected.
	ErrUnavailable = errors.New("lobby: unavailable")
)

// Error codes a lobby answers with; PROTOCOL.md describes when each is sent.
const (
	CodeMalformed     = proto.CodeMalformed
	CodeBadRequest    = proto.CodeBadRequest
	CodeUnknownType   = proto.CodeUnknownType
	CodeTooLarge      = proto.CodeTooLarge
	CodeRateLimited   = proto.CodeRateLimited
	CodeUnauthorized  = proto.CodeUnauthorized
	CodeTokenInvalid  = proto.CodeTokenInvalid
	CodeTokenExpired  = proto.CodeTokenExpired
	CodeTokenReplayed = proto.CodeTokenReplayed
	CodeVersion       = proto.CodeVersion
	CodeUnknownMode   = proto.CodeUnknownMode
	CodeBusy          = proto.CodeBusy
	CodeNotLeader     = proto.CodeNotLeader
	CodePartyFull     = proto.CodePartyFull
	CodePartyNotFound = proto.CodePartyNotFound
	CodeRoomNotFound  = proto.CodeRoomNotFound
	CodeRoomFull      = proto.CodeRoomFull
	CodeNotInRoom     = proto.CodeNotInRoom
	CodeBadSeat       = proto.CodeBadSeat
	CodeNoServer      = proto.CodeNoServer
	CodeNotYourRoom   = proto.CodeNotYourRoom
	CodeNotYourPlayer = proto.CodeNotYourPlayer
	CodeForbidden     = proto.CodeForbidden
	CodeInternal      = proto.CodeInternal
	CodeSignalLimited = proto.CodeSignalLimited
	CodeTooManyRooms  = proto.CodeTooManyRooms
	CodeUnavailable   = proto.CodeUnavailable
)

// Error is a lobby's answer of refusal: a code from PROTOCOL.md and a
// human-readable message. It matches ErrRefused, and ErrUnauthorized for the
// token codes.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("lobby: %s", e.Code)
	}
	return fmt.Sprintf("lobby: %s: %s", e.Code, e.Message)
}

// Is lets errors.Is match the sentinels by the code's meaning.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrRefused:
		return true
	case ErrUnavailable:
		return e.Code == CodeUnavailable
	case ErrUnauthorized:
		switch e.Code {
		case CodeUnauthorized, CodeTokenInvalid, CodeTokenExpired, CodeTokenReplayed, CodeForbidden:
			return true
		}
	}
	return false
}

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Reasons in Notice.Reason (left) that a game may want to tell apart;
// PROTOCOL.md lists them all.
const (
	// ReasonLost: the lobby's shared store lost the queue or room (Redis
	// restarted empty). A game running on it is not affected; queue again.
	ReasonLost = proto.ReasonLost
)

// ProtocolVersion is the version of PROTOCOL.md this package speaks, sent
// in hello and register.
const ProtocolVersion = proto.Version
