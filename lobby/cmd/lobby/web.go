package main

import (
	"net/http"
	"path"
	"strings"
)

// webTypes are the Content-Types the page server sets itself rather than
// leave to the mime package, which reads the system's mime.types: browsers
// compile a .wasm with WebAssembly.instantiateStreaming only when it is
// served as application/wasm, and load an ES module only with a JavaScript
// type, and some systems' tables map .js to application/x-javascript or
// lack .wasm.
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".wasm": "application/wasm",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".map":  "application/json",
	".ts":   "text/plain; charset=utf-8", // the .d.ts, for reading
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".txt":  "text/plain; charset=utf-8",
}

// withWeb serves the static files of dir at "/" and the lobby's own
// routes (/healthz, /readyz and everything under /v1/) from lobbyHandler, which
// keeps priority: a file named v1/guest in dir is never served.
//
// It is a development server for a browser game next to its lobby: files
// are read at each request (rebuild and reload), with Cache-Control
// no-cache so that the browser asks again too.
func withWeb(lobbyHandler http.Handler, dir string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", lobbyHandler)
	mux.Handle("/readyz", lobbyHandler)
	mux.Handle("/v1/", lobbyHandler)
	files := http.FileServer(http.Dir(dir))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/") {
			p += "index.html"
		}
		if ct, ok := webTypes[strings.ToLower(path.Ext(p))]; ok {
			// http.FileServer keeps a Content-Type already set.
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
	return mux
}
