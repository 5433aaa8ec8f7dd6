// The shapes the API hands to a game, as the wasm client's tickwire.d.ts
// has them, so that a page moves from one client to the other unchanged.

export interface Player {
  id: string;
  name?: string;
}

/** An RTCIceServer, as the lobby hands them out with each match. */
export interface ICEServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface Match {
  room: string;
  /** The join code of a created room; absent for matchmade rooms. */
  code?: string;
  mode: string;
  region?: string;
  server: string;
  /** The seat token, presented with every signal: keep it secret. */
  seat: string;
  players: Player[];
  iceServers: ICEServer[];
  /** Milliseconds since the epoch: connect before this or lose the seat. */
  expires: number;
}

export interface RoomInfo {
  room: string;
  code: string;
  name?: string;
  mode: string;
  region?: string;
  players: number;
  max: number;
}

export interface Party {
  code: string;
  leader: string;
  members: Player[];
}

export interface Notice {
  /**
   * "disconnected" and "reconnected" bracket a dropped lobby connection
   * that is redialed; "match" then reminds of the seat still held (room).
   * "closed" comes last, when the lobby connection ends for good (reason
   * says why).
   */
  type: "queued" | "room" | "party" | "left" | "error" | "disconnected" | "reconnected" | "match" | "closed";
  room?: string;
  reason?: string;
  players?: Player[];
  party?: Party;
  error?: { code: string; message: string };
}

export interface QueueOptions {
  mode: string;
  region?: string;
  rating?: number;
}

export interface RoomOptions {
  mode: string;
  region?: string;
  name?: string;
  public?: boolean;
  max?: number;
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

export interface ChannelInfo {
  label: string;
  protocol: string;
  ordered: boolean;
  /** null for a reliable channel. */
  maxRetransmits: number | null;
}

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
  /** Replicated states kept (REPLICATION.md), and those dropped: stale (not newer than the newest), or against a base no longer kept. */
  statesReceived: number;
  statesStale: number;
  statesUnknownBase: number;
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
}
