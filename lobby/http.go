//go:build !js

package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

// ClientConfig configures a player's lobby Client. The browser build's
// (http_js.go) has no HTTPClient: the browser makes the handshake.
type ClientConfig struct {
	// HTTPClient makes the WebSocket handshake (http.DefaultClient by
	// default).
	HTTPClient *http.Client
	// Logger receives the client's logs. Nothing is logged by default.
	Logger *slog.Logger
	// ReconnectAttempts bounds how often a dropped lobby connection is
	// redialed, with the token from the last welcome, waiting 250 ms and
	// then twice as long each time up to 4 s, with jitter (8 by default,
	// about 20 s; negative: never). Games go on meanwhile: a connected
	// netcode client needs the lobby only to resume a connection that fails.
	ReconnectAttempts int
}

// GuestToken asks the lobby at lobbyURL (such as "http://127.0.0.1:8080")
// for a guest token, for lobbies that allow guests.
func GuestToken(ctx context.Context, lobbyURL, name string) (string, error) {
	u, err := httpURL(lobbyURL, "/v1/guest")
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("lobby: guest token: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("lobby: guest token: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGuestAnswer))
	if err != nil {
		return "", fmt.Errorf("lobby: guest token: %w", err)
	}
	return guestAnswer(resp.StatusCode, resp.Status, b)
}
