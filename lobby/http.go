//go:build !js

package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// GuestToken asks the lobby at lobbyURL (such as "http://127.0.0.1:8080")
// for a guest token, for lobbies that allow guests. Natively it posts with
// http.DefaultClient; in the browser (http_js.go) with fetch, so there the
// lobby must allow the page's origin (OriginPatterns) unless it serves the
// page itself.
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
