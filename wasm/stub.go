//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// main outside the browser: this command only makes sense as WebAssembly.
// The file lets `go build ./...` and `go vet ./...` pass natively and the
// native tests (codec_test.go, the browser tests) build.
func main() {
	fmt.Fprintln(os.Stderr, "tickwire/wasm is the browser client: build it with `make wasm` (GOOS=js GOARCH=wasm)")
	os.Exit(2)
}
