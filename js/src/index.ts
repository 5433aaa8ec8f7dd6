// @tickwire/client: Tickwire's browser client for JavaScript games. It
// speaks the lobby protocol (lobby/PROTOCOL.md) and the netcode wire format
// (netcode/WIRE.md) directly, over the browser's fetch, WebSocket and
// RTCPeerConnection, with the API of the wasm client's tickwire.js:
//
//   import { guest } from "@tickwire/client";
//   const lobby = await guest(location.origin, "ada");
//   await lobby.queue({ mode: "default" });
//   const game = await lobby.play(await lobby.waitMatch());
//   game.onSnapshot((state, { seq }) => draw(state));
//   game.sendInput({ dx: 1 });
//
// Payloads are plain JS values, MessagePack on the wire (msgpack.ts says
// how each type travels), or Uint8Array both ways with { codec: "raw" }.

import { guestToken } from "./guest.js";
import { type Lobby, type LobbyOptions, connectLobby, lobbyVersion } from "./lobby.js";
import { wireVersion } from "./wire.js";

export { TickwireError, type ErrorCode } from "./errors.js";
export { Game } from "./game.js";
export { Lobby, type LobbyOptions } from "./lobby.js";
export { guestToken } from "./guest.js";
export type { World, PlayoutInfo } from "./world.js";
export type { Entity, StateChange, StateChange as WorldChange } from "./replica.js";
export type { FieldValue, Quat } from "./schema.js";
export type * from "./types.js";

/** The protocol versions this client speaks. */
export const version: { readonly lobby: number; readonly wire: number } = Object.freeze({ lobby: lobbyVersion, wire: wireVersion });

/**
 * Asks the lobby at lobbyURL ("http://host:port"; ws and wss work too) for
 * a guest token (POST /v1/guest) and connects with it.
 */
export async function guest(lobbyURL: string | URL, name = "", opts?: LobbyOptions): Promise<Lobby> {
  return connectLobby(lobbyURL, await guestToken(lobbyURL, name), opts);
}

/** Connects to the lobby with a token the game obtained itself (the last welcome's, or your own authenticator's). */
export function connect(lobbyURL: string | URL, token: string, opts?: LobbyOptions): Promise<Lobby> {
  return connectLobby(lobbyURL, token, opts);
}

/** Tickwire is what load() resolves with, as the wasm client's tickwire.js has it. */
export interface Tickwire {
  readonly version: { readonly lobby: number; readonly wire: number };
  guest(lobbyURL: string | URL, name?: string, opts?: ConnectOptions): Promise<Lobby>;
  connect(lobbyURL: string | URL, token: string, opts?: ConnectOptions): Promise<Lobby>;
}

/** ConnectOptions are what tickwire.js's connect and guest take: the other lobby nodes. */
export type ConnectOptions = Pick<LobbyOptions, "lobbies">;

const tickwire: Tickwire = Object.freeze({
  version,
  guest: (u: string | URL, n?: string, o?: ConnectOptions) => guest(u, n, { lobbies: o?.lobbies }),
  connect: (u: string | URL, t: string, o?: ConnectOptions) => connect(u, t, { lobbies: o?.lobbies }),
});

/**
 * load resolves with the API at once: there is nothing to fetch. It is
 * here so that a page written for the wasm client's tickwire.js
 * (`const tw = await load()`) runs unchanged.
 */
export function load(_wasmURL?: string | URL): Promise<Tickwire> {
  return Promise.resolve(tickwire);
}
