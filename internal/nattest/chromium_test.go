//go:build linux

package nattest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChromiumInNamespace: Chromium started through InNamespace (as
// chromedp.ModifyCmdFunc) runs behind the host's NAT: it loads a page from
// a server listening (Listen) on a public host, which sees the request come
// from the NAT's public address. chromedp drives it through pipes, which
// need no network between the test and the namespace.
func TestChromiumInNamespace(t *testing.T) {
	t.Parallel()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is missing and CI=true: apt-get install -y chromium")
		}
		t.Skip("chromium is missing: apt-get install -y chromium")
	}
	lab := New(t)
	web := lab.Public("web")
	player := lab.Private("player", NAT{Kind: Filtering})

	ln, err := web.Listen("tcp4", web.IP.String()+":8080")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><title>lab</title><p id=from>" + host + "</p>"))
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.ModifyCmdFunc(player.InNamespace),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 60*time.Second)
	defer cancelRun()
	if _, err := chromedp.Run(ctx, chromedp.Navigate("http://"+web.IP.String()+":8080/")); err != nil {
		t.Fatal(err)
	}
	from, err := chromedp.Run(ctx, chromedp.Text("#from"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(from) != player.PublicIP.String() {
		t.Fatalf("the page was fetched from %q, want the NAT's public address %s", from, player.PublicIP)
	}
}
