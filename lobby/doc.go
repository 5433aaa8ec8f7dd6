// Package lobby is where players meet before they play: it authenticates
// them, matches them (queues with rating windows that widen with waiting,
// parties, private and public rooms with join codes, backfill), places each
// room on the least-loaded game server, and brokers the WebRTC signaling
// between each player and its game server, with ICE servers and short-lived
// TURN credentials per player.
//
// Three roles speak the protocol of PROTOCOL.md, JSON over WebSocket:
//
//   - Server is the lobby, an http.Handler: mount it on your http.Server.
//   - Client is a player. Client.Connect opens the netcode channels to the
//     game server, with the lobby carrying the signaling. It builds for the
//     browser too (GOOS=js GOARCH=wasm).
//   - GameServer wraps a netcode.Server: Server.AttachGameServer in the
//     lobby's own process (the embedded default), DialGameServer from
//     another. GameServer.Accept returns each matched player with its open
//     netcode.Session.
//
// All of a lobby's state lives in one goroutine, fed by a reader goroutine
// per connection; each connection also has a writer with a bounded queue,
// so a player that stops reading is disconnected instead of holding up the
// others. A game server's link is flow-controlled instead: the lobby waits
// for it (and makes what feeds it wait) rather than drop every room on it,
// and a GameServer whose link drops registers again and resumes. Every
// limit on what players and game servers may do is a Config field;
// SECURITY.md lists them. Matchmaking is deterministic given its clock
// (Config.Now).
//
// That one goroutine is the MemoryStore, the default Config.Store. With a
// RedisStore, several lobby nodes share the lobby's state in Redis instead
// (docs/scaling.md): each request is one atomic operation there
// (store.lua), a node keeps only its connections, one node at a time
// matches each mode and region, and signals cross from node to node through
// Redis streams. Players and game servers connect to any node and speak the
// same protocol.
package lobby
