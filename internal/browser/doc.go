// Package browser calls the browser's JavaScript APIs from Go compiled to
// WebAssembly: exceptions and rejected promises come back as errors, and
// event handlers are released once, safely. netcode's RTCPeerConnection
// binding and the lobby client's WebSocket and fetch use it, so that the
// browser build needs neither pion nor net/http (each adds megabytes to the
// .wasm). Every other file is js only.
package browser
