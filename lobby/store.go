//go:build !js

package lobby

// Store is where a lobby keeps the state players and game servers rely on:
// queues, parties, rooms, seats, the game-server registry and the nonces
// of spent tokens. It also decides how much of it one lobby process holds.
//
//   - NewMemoryStore (the default) keeps it all in the lobby's process, in
//     its hub: one lobby, nothing to run beside it. A restart forgets it.
//   - NewRedisStore keeps it in Redis, shared by several lobby nodes behind
//     one address: a player or game server connects to any node, and a node
//     that stops or dies loses only its connections (docs/scaling.md).
//
// A Store serves one Server; it is not closed by the Server.
type Store interface {
	NonceStore
	// engine returns the lobby's state owner. Only this package's stores
	// implement Store.
	engine(s *Server) (engine, error)
}
