// The reliable half of a session (WIRE.md, Events and acks): sequence
// numbers that belong to the session rather than to a connection, the
// resend buffer of events the peer has not acknowledged, and the receive
// side that delivers each event exactly once, in order, across ICE
// restarts and resumes.

import { Kind, encode } from "./wire.js";
import { WireError, CloseCode } from "./wire.js";

/** The default bound of the resend buffer, in encoded bytes (Config.EventBuffer). */
export const defaultEventBuffer = 1 << 20;

export type Received = "deliver" | "duplicate";

export class EventLog {
  /** The highest event seq sent. */
  sent = 0;
  /** The highest of ours the peer confirmed. */
  peerAck = 0;
  /** The highest event seq received in order, which is what we ack. */
  received = 0;
  /** Encoded events the peer has not confirmed, oldest first. */
  private resend: { seq: number; bytes: Uint8Array }[] = [];
  private head = 0;
  private bytes = 0;

  constructor(readonly limit = defaultEventBuffer) {}

  /** bufferedBytes is the size of the resend buffer. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** unacked is how many events sent are not confirmed yet. */
  get unacked(): number {
    return this.sent - this.peerAck;
  }

  /**
   * send numbers and encodes an event, keeping it for resending; null when
   * it would take the buffer past its limit (nothing is kept then, and no
   * number used).
   */
  send(payload: Uint8Array): Uint8Array | null {
    const seq = this.sent + 1;
    const b = encode({ kind: Kind.event, seq, ack: this.received, payload });
    if (this.bytes + b.length > this.limit) return null;
    this.sent = seq;
    this.resend.push({ seq, bytes: b });
    this.bytes += b.length;
    return b;
  }

  /** pending is every event the peer has not confirmed, encoded, in order: what a new connection sends first. */
  pending(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = this.head; i < this.resend.length; i++) out.push(this.resend[i]!.bytes);
    return out;
  }

  /** ack records the peer's ack; it may not cover events never sent. */
  ack(n: number): void {
    if (n > this.sent) throw new WireError(CloseCode.protocolError, `ack ${n} of ${this.sent} events sent`);
    if (n <= this.peerAck) return;
    this.peerAck = n;
    while (this.head < this.resend.length && this.resend[this.head]!.seq <= n) {
      this.bytes -= this.resend[this.head]!.bytes.length;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.resend.length) {
      this.resend = this.resend.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * receive checks an incoming event's seq: "deliver" for the next one in
   * order (and counts it as received), "duplicate" for one already
   * delivered (a resend after a resume); anything else is a protocol error.
   */
  receive(seq: number): Received {
    if (seq <= this.received) return "duplicate";
    if (seq !== this.received + 1) throw new WireError(CloseCode.protocolError, `event seq ${seq} after ${this.received}`);
    this.received = seq;
    return "deliver";
  }
}
