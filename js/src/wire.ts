// The netcode wire format (netcode/WIRE.md), version 1: each data channel
// message is one MessagePack array [version, kind, ...].

import { fail } from "./errors.js";
import { Reader, Writer } from "./msgpack.js";

export const wireVersion = 1;

export const Kind = {
  snapshot: 1,
  input: 2,
  ping: 3,
  pong: 4,
  /** REPLICATION.md: a tick of the world, as a delta against an acknowledged state. */
  state: 5,
  stateAck: 6,
  event: 16,
  ack: 17,
  close: 18,
} as const;

/** The receive limit of a snapshots message (WIRE.md, Limits). */
export const maxUnreliableMessage = 1400;
/** The default send budget of an input, payload included. */
export const maxUnreliableSize = 1200;
/** The default limit of an event payload. */
export const maxEventSize = 16 << 10;
/** The longest close reason, in bytes. */
export const maxReasonLength = 256;

export type Message =
  | { kind: typeof Kind.snapshot; seq: number; payload: Uint8Array }
  /** stateAck: a state ack riding on the input (REPLICATION.md, "Acks"); 0 or absent: none. */
  | { kind: typeof Kind.input; seq: number; payload: Uint8Array; stateAck?: number }
  | { kind: typeof Kind.ping | typeof Kind.pong; id: number; time: number }
  | { kind: typeof Kind.state; tick: number; base: number; time: number; payload: Uint8Array }
  | { kind: typeof Kind.stateAck; tick: number }
  | { kind: typeof Kind.event; seq: number; ack: number; payload: Uint8Array }
  | { kind: typeof Kind.ack; ack: number }
  | { kind: typeof Kind.close; code: number; reason: string }
  | { kind: "unknown"; value: number };

/** The close codes of WIRE.md, by the names the API reports. */
export const CloseCode = {
  normal: 0,
  shutdown: 1,
  protocolError: 2,
  versionMismatch: 3,
  tooLarge: 4,
  slowReader: 5,
  connectionLost: 6,
  bufferOverflow: 7,
  /** The game's own codes (closeWithError) are applicationMin to applicationMax. */
  applicationMin: 4000,
  applicationMax: 4999,
} as const;

const closeNames = ["normal", "shutdown", "protocol error", "version mismatch", "message too large", "slow reader", "connection lost", "resend buffer overflow"];

/** closeName is a close code's name, as the Go CloseCode.String has it. */
export function closeName(code: number): string {
  if (code >= CloseCode.applicationMin && code <= CloseCode.applicationMax) return `application code ${code}`;
  return closeNames[code] ?? `code ${code}`;
}

/** WireError is a message the receiver refuses; code is the close code it calls for. */
export class WireError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
  }
}

const w = new Writer(2048);

/** encode encodes m; the result is a copy the caller owns. */
export function encode(m: Message): Uint8Array {
  w.reset();
  switch (m.kind) {
    case Kind.snapshot:
      w.u8u8(0x94, wireVersion);
      w.u8(m.kind);
      w.uint(m.seq);
      w.bin(m.payload);
      break;
    case Kind.input:
      w.u8u8(m.stateAck ? 0x95 : 0x94, wireVersion);
      w.u8(m.kind);
      w.uint(m.seq);
      w.bin(m.payload);
      if (m.stateAck) w.uint(m.stateAck);
      break;
    case Kind.ping:
    case Kind.pong:
      w.u8u8(0x94, wireVersion);
      w.u8(m.kind);
      w.uint(m.id);
      w.int(m.time);
      break;
    case Kind.state:
      w.u8u8(0x96, wireVersion);
      w.u8(m.kind);
      w.uint(m.tick);
      w.uint(m.base);
      w.uint(m.time);
      w.bin(m.payload);
      break;
    case Kind.stateAck:
      w.u8u8(0x93, wireVersion);
      w.u8(m.kind);
      w.uint(m.tick);
      break;
    case Kind.event:
      w.u8u8(0x95, wireVersion);
      w.u8(m.kind);
      w.uint(m.seq);
      w.uint(m.ack);
      w.bin(m.payload);
      break;
    case Kind.ack:
      w.u8u8(0x93, wireVersion);
      w.u8(m.kind);
      w.uint(m.ack);
      break;
    case Kind.close: {
      w.u8u8(0x94, wireVersion);
      w.u8(m.kind);
      w.uint(m.code);
      w.str(truncate(m.reason, maxReasonLength));
      break;
    }
    default:
      throw fail("bad_argument", `tickwire: cannot encode a message of kind ${m.kind}`);
  }
  return w.bytes();
}

/** truncate cuts s to at most n bytes of UTF-8, at a character boundary. */
export function truncate(s: string, n: number): string {
  const b = new TextEncoder().encode(s);
  if (b.length <= n) return s;
  let end = n;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(b.subarray(0, end));
}

/**
 * decode reads one message. Malformed input throws a WireError with close
 * code 2, another version one with code 3; a well-formed message of an
 * unknown kind comes back as kind "unknown", for the caller to count and
 * skip. Elements after the known ones are skipped.
 */
export function decode(b: Uint8Array): Message {
  const r = new Reader(b);
  try {
    const n = r.arrayLen();
    if (n < 2) throw new WireError(CloseCode.protocolError, `array of ${n} elements`);
    const version = r.uint();
    if (version !== wireVersion) throw new WireError(CloseCode.versionMismatch, `wire version ${version}, want ${wireVersion}`);
    const kind = r.uint();
    let m: Message;
    let used: number;
    switch (kind) {
      case Kind.snapshot:
      case Kind.input: {
        need(n, 4);
        const seq = r.uint();
        const payload = r.take(r.binLen());
        used = 4;
        if (kind === Kind.input && n > 4) {
          // The optional fifth element: a state ack riding on the input.
          m = { kind, seq, payload, stateAck: r.uint() };
          used = 5;
        } else m = { kind, seq, payload };
        break;
      }
      case Kind.ping:
      case Kind.pong: {
        need(n, 4);
        const id = r.uint();
        const time = r.int();
        m = { kind, id, time };
        used = 4;
        break;
      }
      case Kind.state: {
        need(n, 6);
        const tick = r.uint();
        const base = r.uint();
        const time = r.uint();
        m = { kind, tick, base, time, payload: r.take(r.binLen()) };
        used = 6;
        break;
      }
      case Kind.stateAck:
        need(n, 3);
        m = { kind, tick: r.uint() };
        used = 3;
        break;
      case Kind.event: {
        need(n, 5);
        const seq = r.uint();
        const ack = r.uint();
        const payload = r.take(r.binLen());
        m = { kind, seq, ack, payload };
        used = 5;
        break;
      }
      case Kind.ack:
        need(n, 3);
        m = { kind, ack: r.uint() };
        used = 3;
        break;
      case Kind.close: {
        need(n, 4);
        const code = r.uint();
        if (code > 0xffff) throw new WireError(CloseCode.protocolError, `close code ${code}`);
        const len = r.strLen();
        if (len > maxReasonLength) throw new WireError(CloseCode.protocolError, `close reason of ${len} bytes`);
        m = { kind, code, reason: r.string(len) };
        used = 4;
        break;
      }
      default:
        for (let i = 2; i < n; i++) r.skip(1);
        if (r.left > 0) throw new WireError(CloseCode.protocolError, `${r.left} bytes after the message`);
        return { kind: "unknown", value: kind };
    }
    for (let i = used; i < n; i++) r.skip(1);
    if (r.left > 0) throw new WireError(CloseCode.protocolError, `${r.left} bytes after the message`);
    return m;
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(CloseCode.protocolError, err instanceof Error ? err.message : String(err));
  }
}

function need(n: number, want: number): void {
  if (n < want) throw new WireError(CloseCode.protocolError, `array of ${n} elements, want ${want}`);
}
