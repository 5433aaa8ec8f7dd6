// MessagePack for payloads (https://github.com/msgpack/msgpack/blob/master/spec.md),
// with the rules of the wasm client, so that a Go server decoding with
// vmihailenco/msgpack sees the same bytes from either client.
//
// Sent: objects (own enumerable string keys; a Map too, keys as strings),
// arrays, numbers (integers within 2^53 as the shortest msgpack integer, so
// that a Go server decodes them into any integer field; others as float64),
// BigInt (64-bit), strings, booleans, null and undefined (nil), any
// ArrayBuffer view or ArrayBuffer (bin), Date (the timestamp extension).
// Functions, symbols and values nested over 64 deep (or cyclic) are
// refused with "bad_argument".
//
// Received: maps as objects with string keys, in the order they arrive;
// every integer as a number (precision lost past 2^53); bin as Uint8Array;
// the timestamp extension as Date. Every length is checked against the
// bytes left before anything is allocated, and nesting is bounded, so a
// hostile payload costs no more than its own size.

import { badArgument, fail } from "./errors.js";

/** maxDepth bounds nesting both ways. */
export const maxDepth = 64;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder(); // replaces invalid UTF-8, as Go's string conversion does

/** Writer is a growable byte buffer with MessagePack's primitives. */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  len = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): void {
    this.len = 0;
  }

  /** bytes is a copy of what was written. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u8u8(a: number, b: number): void {
    this.ensure(2);
    this.buf[this.len++] = a;
    this.buf[this.len++] = b;
  }

  u16(tag: number, v: number): void {
    this.ensure(3);
    this.buf[this.len] = tag;
    this.view.setUint16(this.len + 1, v);
    this.len += 3;
  }

  u32(tag: number, v: number): void {
    this.ensure(5);
    this.buf[this.len] = tag;
    this.view.setUint32(this.len + 1, v);
    this.len += 5;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** uint writes a non-negative safe integer in the shortest encoding. */
  uint(v: number): void {
    if (v < 0x80) this.u8(v);
    else if (v < 0x100) this.u8u8(0xcc, v);
    else if (v < 0x10000) this.u16(0xcd, v);
    else if (v < 0x100000000) this.u32(0xce, v);
    else {
      this.ensure(9);
      this.buf[this.len] = 0xcf;
      this.view.setBigUint64(this.len + 1, BigInt(v));
      this.len += 9;
    }
  }

  /** int writes a safe integer in the shortest encoding. */
  int(v: number): void {
    if (v >= 0) return this.uint(v);
    if (v >= -32) this.u8(v & 0xff);
    else if (v >= -0x80) this.u8u8(0xd0, v & 0xff);
    else if (v >= -0x8000) {
      this.ensure(3);
      this.buf[this.len] = 0xd1;
      this.view.setInt16(this.len + 1, v);
      this.len += 3;
    } else if (v >= -0x80000000) {
      this.ensure(5);
      this.buf[this.len] = 0xd2;
      this.view.setInt32(this.len + 1, v);
      this.len += 5;
    } else {
      this.ensure(9);
      this.buf[this.len] = 0xd3;
      this.view.setBigInt64(this.len + 1, BigInt(v));
      this.len += 9;
    }
  }

  float(v: number): void {
    this.ensure(9);
    this.buf[this.len] = 0xcb;
    this.view.setFloat64(this.len + 1, v);
    this.len += 9;
  }

  binHeader(n: number): void {
    if (n < 0x100) this.u8u8(0xc4, n);
    else if (n < 0x10000) this.u16(0xc5, n);
    else this.u32(0xc6, n);
  }

  bin(b: Uint8Array): void {
    this.binHeader(b.length);
    this.raw(b);
  }

  str(s: string): void {
    // Short ASCII strings (keys, mostly) without TextEncoder.
    const n = s.length;
    if (n < 32) {
      let ascii = true;
      for (let i = 0; i < n; i++) {
        if (s.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.ensure(1 + n);
        this.buf[this.len++] = 0xa0 | n;
        for (let i = 0; i < n; i++) this.buf[this.len++] = s.charCodeAt(i);
        return;
      }
    }
    const b = textEncoder.encode(s);
    if (b.length < 32) this.u8(0xa0 | b.length);
    else if (b.length < 0x100) this.u8u8(0xd9, b.length);
    else if (b.length < 0x10000) this.u16(0xda, b.length);
    else this.u32(0xdb, b.length);
    this.raw(b);
  }

  arrayHeader(n: number): void {
    if (n < 16) this.u8(0x90 | n);
    else if (n < 0x10000) this.u16(0xdc, n);
    else this.u32(0xdd, n);
  }

  mapHeader(n: number): void {
    if (n < 16) this.u8(0x80 | n);
    else if (n < 0x10000) this.u16(0xde, n);
    else this.u32(0xdf, n);
  }

  /** value encodes any value a game may send. */
  value(v: unknown, depth = 0): void {
    if (depth > maxDepth) throw badArgument(`value nested deeper than ${maxDepth} levels (or cyclic)`);
    switch (typeof v) {
      case "number":
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
        else this.float(v);
        return;
      case "string":
        this.str(v);
        return;
      case "boolean":
        this.u8(v ? 0xc3 : 0xc2);
        return;
      case "undefined":
        this.u8(0xc0);
        return;
      case "bigint":
        this.bigint(v);
        return;
      case "function":
        throw badArgument("a function cannot be sent");
      case "symbol":
        throw badArgument("a symbol cannot be sent");
    }
    if (v === null) return this.u8(0xc0);
    if (v instanceof Uint8Array) return this.bin(v);
    if (ArrayBuffer.isView(v)) return this.bin(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (v instanceof ArrayBuffer) return this.bin(new Uint8Array(v));
    if (Array.isArray(v)) {
      this.arrayHeader(v.length);
      for (const e of v) this.value(e, depth + 1);
      return;
    }
    if (v instanceof Date) return this.date(v);
    if (v instanceof Map) {
      this.mapHeader(v.size);
      for (const [k, e] of v) {
        this.str(keyString(k));
        this.value(e, depth + 1);
      }
      return;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    this.mapHeader(keys.length);
    for (const k of keys) {
      this.str(k);
      this.value(o[k], depth + 1);
    }
  }

  bigint(v: bigint): void {
    this.ensure(9);
    if (v >= 0n) {
      if (v > 0xffffffffffffffffn) throw badArgument(`BigInt ${v} out of 64-bit range`);
      if (v <= BigInt(Number.MAX_SAFE_INTEGER)) return this.uint(Number(v));
      this.buf[this.len] = 0xcf;
      this.view.setBigUint64(this.len + 1, v);
    } else {
      if (v < -0x8000000000000000n) throw badArgument(`BigInt ${v} out of 64-bit range`);
      if (v >= BigInt(Number.MIN_SAFE_INTEGER)) return this.int(Number(v));
      this.buf[this.len] = 0xd3;
      this.view.setBigInt64(this.len + 1, v);
    }
    this.len += 9;
  }

  /** date writes the timestamp extension (type -1), as Go's msgpack does: 32, 64 or 96 bits. */
  date(d: Date): void {
    const ms = d.getTime();
    if (Number.isNaN(ms)) throw badArgument("invalid Date");
    const sec = Math.floor(ms / 1000);
    const nsec = (ms - sec * 1000) * 1e6;
    if (sec >= 0 && sec < 2 ** 34) {
      if (nsec === 0 && sec < 2 ** 32) {
        this.u8u8(0xd6, 0xff);
        this.ensure(4);
        this.view.setUint32(this.len, sec);
        this.len += 4;
        return;
      }
      this.u8u8(0xd7, 0xff);
      this.ensure(8);
      this.view.setUint32(this.len, nsec * 4 + Math.floor(sec / 2 ** 32));
      this.view.setUint32(this.len + 4, sec >>> 0);
      this.len += 8;
      return;
    }
    this.u8(0xc7);
    this.u8u8(12, 0xff);
    this.ensure(12);
    this.view.setUint32(this.len, nsec);
    this.view.setBigInt64(this.len + 4, BigInt(sec));
    this.len += 12;
  }
}

/** keyString is a Map key as a JS object would hold it. */
function keyString(k: unknown): string {
  if (typeof k === "string") return k;
  if (typeof k === "function" || typeof k === "symbol") throw badArgument(`a ${typeof k} cannot be a key`);
  return String(k);
}

/** encode encodes v as one MessagePack value. */
export function encode(v: unknown, w: Writer = new Writer()): Uint8Array {
  w.reset();
  w.value(v);
  return w.bytes();
}

/** Reader decodes MessagePack from a byte array, checking every length. */
export class Reader {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(b: Uint8Array) {
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  need(n: number): void {
    if (n > this.buf.length - this.pos) throw malformed(`${n} bytes announced, ${this.buf.length - this.pos} left`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  take(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** uint reads an unsigned integer: positive fixint or uint 8/16/32/64 (WIRE.md refuses signed encodings). */
  uint(): number {
    const c = this.byte();
    if (c < 0x80) return c;
    switch (c) {
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const hi = this.u32();
        return hi * 2 ** 32 + this.u32();
      }
    }
    throw malformed(`want an unsigned integer, have 0x${c.toString(16)}`);
  }

  /** int reads any integer encoding. */
  int(): number {
    const c = this.buf[this.pos];
    if (c !== undefined && (c >= 0xe0 || (c >= 0xd0 && c <= 0xd3))) {
      const v = this.value(0);
      return v as number;
    }
    return this.uint();
  }

  /** sized reads a length of 1, 2 or 4 bytes (k = 0, 1, 2), as the 8/16/32 variants of a type carry it. */
  sized(k: number): number {
    return k === 0 ? this.byte() : k === 1 ? this.u16() : this.u32();
  }

  /** binLen reads a bin 8/16/32 header. */
  binLen(): number {
    const c = this.byte();
    if (c >= 0xc4 && c <= 0xc6) return this.sized(c - 0xc4);
    throw malformed(`want bin, have 0x${c.toString(16)}`);
  }

  /** strLen reads a str header. */
  strLen(): number {
    const c = this.byte();
    if ((c & 0xe0) === 0xa0) return c & 0x1f;
    if (c >= 0xd9 && c <= 0xdb) return this.sized(c - 0xd9);
    throw malformed(`want str, have 0x${c.toString(16)}`);
  }

  /** arrayLen reads an array header, whose elements must fit what is left (each takes a byte at least). */
  arrayLen(): number {
    const c = this.byte();
    let n: number;
    if ((c & 0xf0) === 0x90) n = c & 0x0f;
    else if (c === 0xdc) n = this.u16();
    else if (c === 0xdd) n = this.u32();
    else throw malformed(`want an array, have 0x${c.toString(16)}`);
    if (n > this.left) throw malformed(`array of ${n} elements in ${this.left} bytes`);
    return n;
  }

  string(n: number): string {
    const b = this.take(n);
    if (n < 16) {
      let s = "";
      for (let i = 0; i < n; i++) {
        const ch = b[i]!;
        if (ch > 0x7f) return textDecoder.decode(b);
        s += String.fromCharCode(ch);
      }
      return s;
    }
    return textDecoder.decode(b);
  }

  /** skip passes over one value of any type, for the extra elements WIRE.md lets a later revision append. */
  skip(depth = 0): void {
    this.value(depth);
  }

  /** value decodes one value into what a game receives. */
  value(depth = 0): unknown {
    if (depth > maxDepth) throw malformed(`value nested deeper than ${maxDepth} levels`);
    const c = this.byte();
    if (c < 0x80) return c;
    if (c >= 0xe0) return c - 0x100;
    if ((c & 0xf0) === 0x80) return this.map(c & 0x0f, depth);
    if ((c & 0xf0) === 0x90) return this.array(c & 0x0f, depth);
    if ((c & 0xe0) === 0xa0) return this.string(c & 0x1f);
    if (c >= 0xc4 && c <= 0xc6) return this.take(this.sized(c - 0xc4)).slice(); // bin
    if (c >= 0xc7 && c <= 0xc9) return this.ext(this.sized(c - 0xc7));
    if (c >= 0xd4 && c <= 0xd8) return this.ext(1 << (c - 0xd4)); // fixext 1..16
    if (c >= 0xd9 && c <= 0xdb) return this.string(this.sized(c - 0xd9));
    switch (c) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        const hi = this.u32();
        return hi * 2 ** 32 + this.u32();
      }
      case 0xd0: {
        const v = this.byte();
        return v > 0x7f ? v - 0x100 : v;
      }
      case 0xd1: {
        this.need(2);
        const v = this.view.getInt16(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xd3: {
        this.need(8);
        const v = Number(this.view.getBigInt64(this.pos));
        this.pos += 8;
        return v;
      }
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
    }
    throw malformed(`unknown type 0x${c.toString(16)}`);
  }

  array(n: number, depth: number): unknown[] {
    if (n > this.left) throw malformed(`array of ${n} elements in ${this.left} bytes`);
    const a = new Array<unknown>(n);
    for (let i = 0; i < n; i++) a[i] = this.value(depth + 1);
    return a;
  }

  map(n: number, depth: number): Record<string, unknown> {
    if (n > this.left / 2) throw malformed(`map of ${n} entries in ${this.left} bytes`);
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.value(depth + 1);
      const key = typeof k === "string" ? k : k instanceof Uint8Array ? textDecoder.decode(k) : String(k);
      const v = this.value(depth + 1);
      if (key === "__proto__") Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
      else o[key] = v;
    }
    return o;
  }

  ext(n: number): Date {
    const type = this.byte();
    this.need(n);
    if (type !== 0xff) throw malformed(`unknown ext type ${type > 0x7f ? type - 0x100 : type}`);
    const p = this.pos;
    this.pos += n;
    switch (n) {
      case 4:
        return new Date(this.view.getUint32(p) * 1000);
      case 8: {
        const hi = this.view.getUint32(p);
        const lo = this.view.getUint32(p + 4);
        const nsec = Math.floor(hi / 4);
        const sec = (hi & 3) * 2 ** 32 + lo;
        return new Date(sec * 1000 + nsec / 1e6);
      }
      case 12: {
        const nsec = this.view.getUint32(p);
        const sec = Number(this.view.getBigInt64(p + 4));
        return new Date(sec * 1000 + nsec / 1e6);
      }
    }
    throw malformed(`timestamp of ${n} bytes`);
  }
}

function malformed(why: string): Error {
  return fail("protocol", "tickwire: msgpack: " + why);
}

/** decode decodes one MessagePack value that fills b exactly. */
export function decode(b: Uint8Array): unknown {
  const r = new Reader(b);
  const v = r.value();
  if (r.left > 0) throw malformed(`${r.left} bytes after the value`);
  return v;
}
