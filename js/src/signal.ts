// The signaling messages the lobby carries between a player and its game
// server (lobby/PROTOCOL.md, "The signal object").

export interface Signal {
  type: "offer" | "answer" | "candidate" | "refused" | "restart";
  sdp?: string;
  /** RTCIceCandidateInit; absent on a candidate signal: no more candidates. */
  candidate?: RTCIceCandidateInit;
  /** The session's PeerConnection it is about: 0 (absent) for the first, one more for each resume. */
  gen?: number;
  /** On an offer, the resume token presented; on the server's answer, the next one. */
  resume?: string;
  /** Why the server refused the session (gen 0) or a resume. */
  error?: string;
  /** On a refused of gen 0, the close code the server ended the session with. */
  code?: number;
}

/** Signaler carries one room's signaling: the lobby gives one to each game. */
export interface Signaler {
  /** send returns false when the lobby connection cannot carry it now (it is redialing, or gone). */
  send(s: Signal): boolean;
  /** close stops delivering this room's signals. */
  close(): void;
  /** ended is true once no signal will ever be carried again (the lobby connection is gone for good). */
  readonly ended: boolean;
}

/** SignalTarget is what a Signaler delivers to: a game. */
export interface SignalTarget {
  signal(s: Signal): void;
  /** checkPath: the lobby connection dropped or came back, so the network may have changed. */
  checkPath(reason: string): void;
  /** signalingEnded: the lobby connection is gone for good. */
  signalingEnded(): void;
}
