//go:build !js

package netcode

import (
	"errors"
	"testing"
)

// FuzzResumeToken: whatever a client presents as a resume token, the
// server answers with an error (never a panic), and only the one token it
// issued for the session resumes it, once.
func FuzzResumeToken(f *testing.F) {
	tokens := newResumeTokens()
	p, other := &peer{}, &peer{}
	good := tokens.issue(p)
	_ = tokens.issue(other)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("")
	f.Add("not a token")
	f.Add(good + "=")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == good {
			return // the one valid token; redeeming it would spend it
		}
		if _, err := tokens.redeem(tok, p); err == nil {
			t.Fatalf("token %q resumed the session", tok)
		}
		if err := tokens.check(tok); err == nil {
			t.Fatalf("check(%q) = nil", tok)
		}
	})
}

// TestResumeTokenLifecycle: one token per session at a time, spent by a
// resume, explained after the session ends.
func TestResumeTokenLifecycle(t *testing.T) {
	tokens := newResumeTokens()
	p, q := &peer{}, &peer{}
	t1 := tokens.issue(p)
	tq := tokens.issue(q)
	if _, err := tokens.redeem(tq, p); !errors.Is(err, errTokenOther) {
		t.Fatalf("another session's token: %v", err)
	}
	t2, err := tokens.redeem(t1, p)
	if err != nil || t2 == t1 {
		t.Fatalf("redeem: %q, %v", t2, err)
	}
	if _, err := tokens.redeem(t1, p); !errors.Is(err, errTokenUsed) {
		t.Fatalf("spent token: %v", err)
	}
	tokens.retire(p, &CloseError{Code: CloseConnectionLost, Err: ErrConnectionLost})
	if _, err := tokens.redeem(t2, p); !errors.Is(err, errTokenExpired) {
		t.Fatalf("token of a session that gave up: %v", err)
	}
	tokens.retire(q, &CloseError{Code: CloseNormal, Reason: "bye"})
	if err := tokens.check(tq); !errors.Is(err, errTokenClosed) {
		t.Fatalf("token of a closed session: %v", err)
	}
	if len(tokens.current) != 0 {
		t.Fatalf("%d current tokens left", len(tokens.current))
	}
}
