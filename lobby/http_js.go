//go:build js

package lobby

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"syscall/js"

	"github.com/tickwire/tickwire/internal/browser"
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
	b, status, statusText, err := fetchPost(ctx, u, string(body))
	if err != nil {
		return "", fmt.Errorf("lobby: guest token: %w", err)
	}
	return guestAnswer(status, statusText, b)
}

// fetchPost posts a JSON body with fetch, aborted when ctx ends, and
// returns the answer's first maxGuestAnswer bytes.
func fetchPost(ctx context.Context, u, body string) ([]byte, int, string, error) {
	if _, err := browser.Global("fetch"); err != nil {
		return nil, 0, "", err
	}
	init := map[string]any{
		"method":  "POST",
		"headers": map[string]any{"Content-Type": "application/json"},
		"body":    body,
	}
	if ac, err := browser.Global("AbortController"); err == nil {
		if ac, err = browser.New(ac); err == nil {
			init["signal"] = ac.Get("signal")
			stop := context.AfterFunc(ctx, func() { ac.Call("abort") })
			defer stop()
		}
	}
	p, err := browser.Call(js.Global(), "fetch", u, init)
	if err != nil {
		return nil, 0, "", err
	}
	resp, err := browser.Await(ctx, p)
	if err != nil {
		return nil, 0, "", err
	}
	if p, err = browser.Call(resp, "text"); err == nil {
		p, err = browser.Await(ctx, p)
	}
	if err != nil {
		return nil, 0, "", err
	}
	b := []byte(p.String())
	if len(b) > maxGuestAnswer {
		b = b[:maxGuestAnswer]
	}
	status := resp.Get("status").Int()
	return b, status, strconv.Itoa(status) + " " + resp.Get("statusText").String(), nil
}
