//go:build js

package lobby

// The browser transport against a stand-in WebSocket, run by node (make
// test); the browser tests in wasm/ run it against the real one.

import (
	"context"
	"errors"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/tickwire/tickwire/lobby/internal/proto"
)

// fakeWebSocket installs a WebSocket class that records what the transport
// does and lets the test fire its events; it returns the instances.
func fakeWebSocket(t *testing.T, protocol string) js.Value {
	t.Helper()
	setup := js.Global().Get("Function").New("protocol", `
		const made = [];
		globalThis.WebSocket = class {
			constructor(url, protocols) {
				this.url = url; this.protocols = protocols; this.sent = []; this.closed = null;
				this.protocol = protocol;
				made.push(this);
			}
			send(data) { if (this.closed) throw new DOMException("closed", "InvalidStateError"); this.sent.push(data); }
			close(code, reason) {
				if (code !== 1000 && (code < 3000 || code > 4999)) throw new DOMException("bad code " + code, "InvalidAccessError");
				this.closed = {code, reason};
			}
		};
		return made;`)
	made := setup.Invoke(protocol)
	t.Cleanup(func() { js.Global().Delete("WebSocket") })
	return made
}

// waitMade waits for the transport to construct its WebSocket.
func waitMade(t *testing.T, made js.Value) {
	t.Helper()
	for i := 0; made.Length() == 0; i++ {
		if i == 5000 {
			t.Fatal("no WebSocket made in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// fire calls the instance's handler on<name> with an event object.
func fire(ws js.Value, name string, ev map[string]any) {
	if h := ws.Get("on" + name); h.Type() == js.TypeFunction {
		h.Invoke(js.ValueOf(ev))
	}
}

// dialFake dials a stand-in that opens at once.
func dialFake(t *testing.T) (*wsTransport, js.Value) {
	t.Helper()
	made := fakeWebSocket(t, proto.Subprotocol)
	done := make(chan struct{})
	var tr transport
	var err error
	go func() {
		defer close(done)
		tr, err = dialWS(context.Background(), "ws://lobby.test/v1/play")
	}()
	waitMade(t, made)
	ws := made.Index(0)
	fire(ws, "open", nil)
	<-done
	if err != nil {
		t.Fatalf("dialWS: %v", err)
	}
	if got := ws.Get("protocols").Index(0).String(); got != proto.Subprotocol {
		t.Fatalf("asked for subprotocol %q", got)
	}
	return tr.(*wsTransport), ws
}

func TestWSReadWrite(t *testing.T) {
	tr, ws := dialFake(t)
	ctx := context.Background()
	if err := tr.Write(ctx, []byte(`{"type":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if got := ws.Get("sent").Index(0).String(); got != `{"type":"hello"}` {
		t.Fatalf("sent %q", got)
	}
	fire(ws, "message", map[string]any{"data": `{"type":"welcome"}`})
	fire(ws, "message", map[string]any{"data": `{"type":"match"}`})
	fire(ws, "close", map[string]any{"code": proto.CloseUnauthorized, "reason": "token expired"})
	for _, want := range []string{`{"type":"welcome"}`, `{"type":"match"}`} {
		if b, err := tr.Read(ctx); err != nil || string(b) != want {
			t.Fatalf("Read = %q, %v; want %q", b, err, want)
		}
	}
	_, err := tr.Read(ctx)
	if closeCode(err) != proto.CloseUnauthorized || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("Read after the close = %v (code %d)", err, closeCode(err))
	}
	if err := tr.Write(ctx, []byte("{}")); err == nil {
		t.Fatal("Write after the close")
	}
}

func TestWSBadInput(t *testing.T) {
	tests := []struct {
		name string
		data any
	}{
		{"binary", js.Global().Get("Uint8Array").New(3)},
		{"too large", strings.Repeat("x", maxLobbyMessage+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, ws := dialFake(t)
			fire(ws, "message", map[string]any{"data": tt.data})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := tr.Read(ctx); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Read = %v, want ErrProtocol", err)
			}
			if c := ws.Get("closed"); c.IsNull() || c.Get("code").Int() != proto.CloseProtocol {
				t.Fatalf("closed with %v, want code %d", c, proto.CloseProtocol)
			}
			if h := ws.Get("onmessage"); !h.IsNull() {
				t.Fatal("handlers left after the close")
			}
		})
	}
}

func TestWSClose(t *testing.T) {
	tests := []struct {
		code, sent int
	}{
		{proto.CloseNormal, 1000},
		{1011, 1000}, // a page may not send 1011: the browser would throw
		{4000, 4000},
	}
	for _, tt := range tests {
		tr, ws := dialFake(t)
		if err := tr.Close(tt.code, "bye"); err != nil {
			t.Fatalf("Close(%d): %v", tt.code, err)
		}
		if got := ws.Get("closed").Get("code").Int(); got != tt.sent {
			t.Errorf("Close(%d) sent %d, want %d", tt.code, got, tt.sent)
		}
		if _, err := tr.Read(context.Background()); closeCode(err) != tt.code {
			t.Errorf("Read after Close(%d): %v", tt.code, err)
		}
	}
}

// TestWSClosedByLobby: a close the lobby starts ends reads with its code
// and clears the handlers, since the client then dials a new connection
// rather than close this one.
func TestWSClosedByLobby(t *testing.T) {
	tr, ws := dialFake(t)
	fire(ws, "close", map[string]any{"code": 4003, "reason": "replaced"})
	if _, err := tr.Read(context.Background()); closeCode(err) != 4003 {
		t.Fatalf("Read after the lobby closed: %v", err)
	}
	for _, h := range []string{"onopen", "onmessage", "onclose"} {
		if v := ws.Get(h); !v.IsNull() {
			t.Errorf("%s after the close event: %v, want null", h, v.Type())
		}
	}
}

func TestWSDialFails(t *testing.T) {
	made := fakeWebSocket(t, proto.Subprotocol)
	errs := make(chan error, 1)
	go func() {
		_, err := dialWS(context.Background(), "ws://lobby.test/v1/play")
		errs <- err
	}()
	waitMade(t, made)
	fire(made.Index(0), "close", map[string]any{"code": 1006, "reason": ""})
	if err := <-errs; closeCode(err) != 1006 {
		t.Fatalf("dial = %v, want the 1006 close", err)
	}

	// Another subprotocol, or none: refused.
	made = fakeWebSocket(t, "")
	go func() {
		_, err := dialWS(context.Background(), "ws://lobby.test/v1/play")
		errs <- err
	}()
	waitMade(t, made)
	fire(made.Index(0), "open", nil)
	if err := <-errs; !errors.Is(err, ErrProtocol) {
		t.Fatalf("dial = %v, want ErrProtocol", err)
	}

	// The context ends first.
	made = fakeWebSocket(t, proto.Subprotocol)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := dialWS(ctx, "ws://lobby.test/v1/play"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial = %v, want the deadline", err)
	}
	if c := made.Index(0).Get("closed"); c.IsNull() {
		t.Fatal("the WebSocket was left open")
	}
}

func TestGuestTokenFetch(t *testing.T) {
	tests := []struct {
		name, fetch, want, wantErr string
	}{
		{"issued", `async (url, init) => {
			if (url !== "http://lobby.test/v1/guest" || init.method !== "POST" || JSON.parse(init.body).name !== "ada")
				return {status: 400, statusText: "Bad Request", text: async () => url + " " + init.body};
			return {status: 200, statusText: "OK", text: async () => '{"token":"tok.sig","player":"g-1"}'};
		}`, "tok.sig", ""},
		{"refused", `async () => ({status: 404, statusText: "Not Found", text: async () => "guests are disabled\n"})`, "", "404 Not Found: guests are disabled"},
		{"no token", `async () => ({status: 200, statusText: "OK", text: async () => "{}"})`, "", "guest token answer"},
		{"network", `async () => { throw new TypeError("Failed to fetch") }`, "", "TypeError: Failed to fetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js.Global().Set("fetch", js.Global().Get("Function").New("return "+tt.fetch).Invoke())
			t.Cleanup(func() { js.Global().Delete("fetch") })
			tok, err := GuestToken(context.Background(), "http://lobby.test", "ada")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || tok != tt.want {
				t.Fatalf("GuestToken = %q, %v; want %q", tok, err, tt.want)
			}
		})
	}
	if _, err := GuestToken(context.Background(), "http://lobby.test", "ada"); err == nil || !strings.Contains(err.Error(), "no fetch") {
		t.Fatalf("without fetch: %v", err)
	}
}
