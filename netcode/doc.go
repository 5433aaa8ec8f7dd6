// Package netcode connects game clients to an authoritative game server
// over WebRTC data channels, so that browser and native clients get
// UDP-like latency without head-of-line blocking.
//
// Each connection has two data channels. Snapshots (server to client) and
// inputs (client to server) ride an unordered channel that never
// retransmits: a lost snapshot is replaced by the next one instead of
// holding it up, as it would on TCP or WebSocket. Events ride a reliable,
// ordered channel, for what must arrive: chat, scores, match results.
//
// The game server embeds a Server and calls Accept once per arriving
// client with that client's Signaler; the game gets a Session, which its
// tick loop reads inputs and events from and sends snapshots and events to
// without ever blocking on a slow client. A player's program calls Dial with
// its Signaler and gets a Client. A Signaler carries the WebRTC offer, answer
// and ICE candidates between the two: the lobby provides one per player,
// SignalPipe connects two in one process.
//
// A game whose state is more than a snapshot holds (more than about fifty
// moving things, or a world each player sees only part of) declares it
// instead: a World per room, of entities whose struct tags say how each
// field travels. World.Tick sends each client the changes since the state
// it acknowledged, within its budget, the most urgent first; the client's
// Replica rebuilds the world and plays it out smoothly a little in the
// past (Replica.At). REPLICATION.md specifies it.
//
// Payloads are the game's own bytes. A snapshot or input must fit
// Config.MaxUnreliableSize (1200 bytes by default) and is refused with
// ErrTooLarge rather than fragmented, since one lost fragment would lose the
// whole message. The wire format is in WIRE.md beside this file.
//
// Settings are grouped by where they apply, so that each build carries
// only what it uses. Config holds what a Client and a Session share: the
// sizes, buffers and timers both ends of a session apply, the ICE servers
// and the logger. ClientConfig (for Dial) and ServerConfig (for NewServer,
// native only) embed it and add one side's own: a client's relay-only mode
// and restart timers; a server's addresses, socket buffers and limits on
// what one client may make it do. Config.Native, a NativeConfig, tunes pion
// (its ICE and SCTP timers, the networks ICE gathers on, a virtual network
// for tests); in the browser build it is an empty struct, since the
// browser's WebRTC stack has its own, so setting one of its fields there
// fails to compile rather than doing nothing. A zero field means its
// documented default, a nil config all defaults.
//
// The Client builds for GOOS=js GOARCH=wasm too, with the same API. There it
// drives the browser's own RTCPeerConnection (rtc_js.go) instead of pion
// (rtc.go): the browser already has ICE, DTLS and SCTP, and pion would
// double the size of the .wasm. The Server is native only.
package netcode
