// Tickwire's browser API: the Go netcode client and lobby client compiled to
// WebAssembly (wasm/main.go), loaded by tickwire.js. Payloads travel as
// msgpack by default: sendInput/sendEvent take plain JS values, and
// snapshots and events arrive as plain JS values (objects, arrays, numbers,
// strings, booleans, null; binary as Uint8Array). With codec "raw" they are
// Uint8Array both ways, for games with their own encoding.
//
// msgpack in detail. Sent: objects (own enumerable keys; a Map too),
// arrays, numbers (integers within 2^53 as msgpack integers, so that a Go
// server decodes them into any integer field; others as float64), BigInt
// (64-bit), strings, booleans, null and undefined (nil), Uint8Array and
// any other ArrayBuffer view or ArrayBuffer (bin), Date (timestamp).
// Functions, symbols and values nested over 64 deep are refused.
// Received: maps as objects with string keys (a map keyed by numbers has
// "1", "2"... as keys; keys in sorted order), structs a Go server encodes
// with as_array as arrays, every integer as a number (precision lost past
// 2^53), bin as Uint8Array, the timestamp extension as Date. A payload
// that does not decode is dropped with a console warning.

/**
 * Loads tickwire.wasm (by default next to tickwire.js, as is Go's
 * wasm_exec.js) once: later calls return the same instance.
 */
export function load(wasmURL?: string | URL): Promise<Tickwire>;

export interface Tickwire {
  /** The protocol versions this build speaks. */
  readonly version: { lobby: number; wire: number };
  /**
   * Asks the lobby at lobbyURL ("http://host:port"; ws and wss work too)
   * for a guest token (POST /v1/guest) and connects with it.
   */
  guest(lobbyURL: string, name?: string, opts?: ConnectOptions): Promise<Lobby>;
  /** Connects to the lobby with a token the game obtained itself. */
  connect(lobbyURL: string, token: string, opts?: ConnectOptions): Promise<Lobby>;
}

/** ConnectOptions: a game whose lobby has one address needs none. */
export interface ConnectOptions {
  /**
   * The base URLs of other nodes of the same lobby (nodes sharing a Redis
   * store), for when they are not behind one address: a dropped connection
   * is redialed to the next of them, then the next, round the list with
   * the URL given to connect. The player finds its queue place, party and
   * seat on any of them.
   */
  lobbies?: string[];
}

export interface Player { id: string; name?: string }

export interface ICEServer { urls: string[]; username?: string; credential?: string }

export interface Match {
  room: string;
  code?: string;
  mode: string;
  region?: string;
  server: string;
  seat: string;
  players: Player[];
  iceServers: ICEServer[];
  /** Milliseconds since the epoch: connect before this or lose the seat. */
  expires: number;
}

export interface RoomInfo { room: string; code: string; name?: string; mode: string; region?: string; players: number; max: number }

export interface Party { code: string; leader: string; members: Player[] }

export interface Notice {
  /** "disconnected" and "reconnected" bracket a dropped lobby connection that is redialed; "match" then reminds of the seat still held (room). "closed" comes last, when the lobby connection ends for good (reason says why). */
  type: "queued" | "room" | "party" | "left" | "error" | "disconnected" | "reconnected" | "match" | "closed";
  room?: string;
  reason?: string;
  players?: Player[];
  party?: Party;
  error?: { code: string; message: string };
}

/**
 * Errors carry a code. A refused lobby request rejects with the lobby's
 * code (PROTOCOL.md: "room_not_found", "busy", "unknown_mode",
 * "bad_request", "token_invalid", "token_expired"...). The others:
 * "closed" (the lobby or game is closed), "timeout", "bad_argument" (a
 * value of the wrong shape, or that cannot be sent), "too_large",
 * "event_buffer_full", "signaling", "protocol"; from play():
 * "connection_lost" (ICE failed before the channels opened); from
 * connect() and guest(): "network" (the lobby cannot be reached); from
 * guest(): "forbidden", "guests_disabled", "rate_limited", "http_error"
 * with the HTTP status. An Error without a code is unexpected (a bug).
 */
export interface LobbyError extends Error { code: string; status?: number }

export interface Lobby {
  readonly player: string;
  readonly name: string;
  /** Resolves with the ticket id once queued; waitMatch then gives the match. */
  queue(opts: { mode: string; region?: string; rating?: number }): Promise<string>;
  waitMatch(): Promise<Match>;
  createRoom(opts: { mode: string; region?: string; name?: string; public?: boolean; max?: number }): Promise<Match>;
  joinRoom(code: string): Promise<Match>;
  rooms(mode?: string): Promise<RoomInfo[]>;
  createParty(): Promise<Party>;
  joinParty(code: string): Promise<Party>;
  leave(): Promise<void>;
  /**
   * Notices wait (up to 64) until the first onNotice; a later call replaces
   * the callback. Set after the connection ended, it hears only "closed".
   */
  onNotice(cb: (n: Notice) => void): void;
  /**
   * Opens both channels to the match's game server, the lobby carrying the
   * signaling. The game outlives the lobby: closing the lobby leaves it up.
   */
  play(match: Match, opts?: PlayOptions): Promise<Game>;
  /** Leaves the lobby; resolves once the connection is down. */
  close(): Promise<void>;
}

export interface PlayOptions {
  /** "msgpack" (default) or "raw". */
  codec?: "msgpack" | "raw";
  /** Connect only through a TURN relay (iceTransportPolicy "relay"). */
  relayOnly?: boolean;
  /** Milliseconds to open both channels before rejecting with code "timeout" (30000). */
  timeout?: number;
}

/**
 * The changes after play() resolved, which is the open: "reconnecting":
 * the path was lost and ICE restarts; "resuming": the same session moves
 * to a new connection (events are resent, none lost or doubled, and the
 * next snapshot is fresh); "connected": back after either; "closed": for
 * good.
 */
export type GameState = "connected" | "reconnecting" | "resuming" | "closed";

export interface CloseInfo {
  /** The close code's name: "normal", "shutdown", "connection lost", "protocol error"... */
  code: string;
  /** True when the server closed the game. */
  remote: boolean;
}

export interface ChannelInfo { label: string; protocol: string; ordered: boolean; maxRetransmits: number | null }

export interface Stats {
  /** Smoothed round-trip time to the game server, and its mean deviation; 0 until measured. */
  rttMs: number;
  rttVarMs: number;
  /** Recent fraction of snapshots lost (0 to 1). */
  loss: number;
  snapshotsReceived: number;
  snapshotsLost: number;
  /** Snapshots that arrived after a newer one, and were dropped. */
  snapshotsStale: number;
  inputsSent: number;
  /** Inputs dropped because the channel was backed up (sendInput returned false). */
  congested: number;
  eventsSent: number;
  eventsReceived: number;
  /** Events sent that the server has not confirmed yet. */
  eventsUnacked: number;
  /** Events sent again after a resume because the server had not confirmed them. */
  eventsResent: number;
  /** ICE restarts, and resumes on a new connection. */
  restarts: number;
  resumes: number;
  bytesIn: number;
  bytesOut: number;
  /** Replicated states kept (netcode/REPLICATION.md), and those dropped: stale (not newer than the newest), or against a base no longer kept. */
  statesReceived: number;
  statesStale: number;
  statesUnknownBase: number;
}

/** A field's value: int, float and angle (radians) fields are numbers, a quat is [x, y, z, w]. */
export type FieldValue = number | boolean | string | Uint8Array | [number, number, number, number];

/** An entity of the replicated world. */
export interface Entity {
  readonly id: number;
  /** Its type's name, as the server registered it. */
  readonly type: string;
  readonly fields: Readonly<Record<string, FieldValue>>;
}

/** What changed in the world: entity ids created, changed (any field differs) and removed. */
export interface WorldChange {
  tick: number;
  created: number[];
  changed: number[];
  removed: number[];
}

/** The playout's figures, in milliseconds, for a debug overlay. */
export interface PlayoutInfo {
  delay(): number;
  targetDelay(): number;
  jitter(): number;
  interval(): number;
}

/**
 * The world the game server replicates (netcode.World): rebuilt from each
 * state, and played out a little in the past so that it moves smoothly.
 */
export interface World {
  /** The newest state's tick; 0 before the first. */
  readonly tick: number;
  /** The newest state's entities. */
  entities(): Entity[];
  /** An entity of the newest state. */
  get(id: number): Entity | undefined;
  /**
   * The entities to draw at local time localMs (performance.now(), as
   * requestAnimationFrame gives it): numeric fields interpolated between
   * the two states around the render time, as their types say.
   */
  at(localMs: number): Entity[];
  /**
   * Called with what changed, as states arrive (several that arrive
   * between two calls come as one). The first call first hears of the
   * world so far, all of it created.
   */
  onState(cb: (change: WorldChange) => void): void;
  /** How far behind the newest arrivals the render time runs, and what it follows. */
  readonly playout: PlayoutInfo;
}

/**
 * Callbacks (onSnapshot, onEvent, onState, onNotice) run in order of
 * arrival, each in a microtask: never inside the call that sets them or
 * any other API call.
 */
export interface Game {
  /** The replicated world, for servers that replicate one (netcode.World). */
  readonly world: World;
  /**
   * Called with each snapshot newer than the last; older ones are dropped.
   * Delivery starts with the first call; a later call replaces the callback.
   * What a callback throws is reported (window "error") and delivery goes on.
   */
  onSnapshot(cb: (state: any, info: { seq: number }) => void): void;
  /**
   * Called with each reliable event, in order. Events wait for the first
   * call, so none is missed, even when it comes after the game closed; a
   * game whose server sends events must set it (over 4096 unread events
   * close the game as a slow reader).
   */
  onEvent(cb: (event: any) => void): void;
  /**
   * Called at each change of the connection, with why: reconnecting,
   * resuming, connected again, and once closed, with info (also when set
   * after that).
   */
  onState(cb: (state: GameState, reason: string, info?: CloseInfo) => void): void;
  /** Unreliable; returns false when the message was dropped (congested). Throws when closed or too large. */
  sendInput(input: any): boolean;
  /** Reliable and ordered; throws when closed, too large, or the send buffer is full. */
  sendEvent(event: any): void;
  /** The counters; after the game closed, their final values. */
  stats(): Stats;
  /** The data channels as the browser's RTCDataChannel reports them. Throws when closed. */
  channels(): ChannelInfo[];
  /** Tells the server and releases the connection; resolves after onState("closed"). */
  close(): Promise<void>;
}
