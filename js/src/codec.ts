// How payloads travel between the game and the wire: plain JS values as
// MessagePack ("msgpack", the default), or Uint8Array both ways ("raw", for
// games with an encoding of their own).

import { badArgument } from "./errors.js";
import { Writer, decode } from "./msgpack.js";

export interface Codec {
  readonly name: "msgpack" | "raw";
  encode(v: unknown): Uint8Array;
  /** decode throws for a payload that does not decode. */
  decode(b: Uint8Array): unknown;
}

const writer = new Writer(1024);

export const msgpackCodec: Codec = {
  name: "msgpack",
  encode(v) {
    writer.reset();
    writer.value(v);
    return writer.bytes();
  },
  decode,
};

export const rawCodec: Codec = {
  name: "raw",
  encode(v) {
    if (v instanceof Uint8Array) return v;
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    throw badArgument('codec "raw" sends a Uint8Array');
  },
  decode: (b) => b.slice(),
};

export function codecNamed(name: unknown): Codec {
  if (name === undefined || name === null || name === "" || name === "msgpack") return msgpackCodec;
  if (name === "raw") return rawCodec;
  throw badArgument(`unknown codec ${JSON.stringify(name)} (want "msgpack" or "raw")`);
}
