// The bit stream of a state payload (netcode/REPLICATION.md, Payload): bit i
// is bit i mod 8 (least significant first) of byte i div 8, and an n-bit
// value is written least significant bit first.

import { CloseCode, WireError } from "./wire.js";

/**
 * MalformedState is a state message that breaks REPLICATION.md's rules:
 * the session closes with code 2 (protocol error), as for any malformed
 * message.
 */
export class MalformedState extends WireError {
  constructor(message: string) {
    super(CloseCode.protocolError, "state: " + message);
  }
}

export const malformed = (message: string): MalformedState => new MalformedState(message);

/** Groups of varbits: 8 × 4 value bits hold 2³² − 1. */
const maxGroups = 8;

/** BitReader reads a payload; reading past its end throws MalformedState. */
export class BitReader {
  #b: Uint8Array;
  #pos = 0;

  constructor(b: Uint8Array) {
    this.#b = b;
  }

  /** left is the number of bits not read yet. */
  get left(): number {
    return this.#b.length * 8 - this.#pos;
  }

  /** read reads an n-bit unsigned value, n from 0 to 32. */
  read(n: number): number {
    if (n > this.left) throw malformed(`payload ends early: ${n} bits wanted, ${this.left} left`);
    let v = 0;
    let got = 0;
    let p = this.#pos;
    while (got < n) {
      const off = p & 7;
      const take = Math.min(8 - off, n - got);
      // Multiplying rather than shifting keeps bit 31 positive.
      v += ((this.#b[p >> 3]! >> off) & ((1 << take) - 1)) * 2 ** got;
      got += take;
      p += take;
    }
    this.#pos = p;
    return v;
  }

  bool(): boolean {
    return this.read(1) === 1;
  }

  /** varbits reads groups of four value bits, each followed by a bit that says another follows. */
  varbits(): number {
    let v = 0;
    for (let g = 0; g < maxGroups; g++) {
      v += this.read(4) * 2 ** (4 * g);
      if (!this.read(1)) return v;
    }
    throw malformed(`varbits of more than ${maxGroups} groups`);
  }

  /** bytes reads n whole bytes (8 bits each, at any bit position), checking they are there first. */
  bytes(n: number): Uint8Array {
    if (n * 8 > this.left) throw malformed(`payload ends early: ${n} bytes wanted, ${this.left} bits left`);
    const out = new Uint8Array(n);
    if ((this.#pos & 7) === 0) {
      out.set(this.#b.subarray(this.#pos >> 3, (this.#pos >> 3) + n));
      this.#pos += n * 8;
    } else for (let i = 0; i < n; i++) out[i] = this.read(8);
    return out;
  }

  /** end checks that the rest of the current byte is zero padding and that no byte follows it. */
  end(): void {
    const pad = (8 - (this.#pos & 7)) & 7;
    if (this.read(pad) !== 0) throw malformed("padding bits are not zero");
    if (this.left > 0) throw malformed(`${this.left / 8} bytes after the padding`);
  }
}

/** BitWriter writes a payload as BitReader reads it (for tests and tools; the client only reads). */
export class BitWriter {
  #b = new Uint8Array(64);
  #pos = 0;

  /** write writes the low n bits of v (an unsigned value below 2³²), n from 0 to 32. */
  write(v: number, n: number): this {
    if (this.#b.length * 8 < this.#pos + n) {
      const b = new Uint8Array(Math.max(this.#b.length * 2, (this.#pos + n + 7) >> 3));
      b.set(this.#b);
      this.#b = b;
    }
    for (let i = 0; i < n; ) {
      const p = this.#pos + i;
      const take = Math.min(8 - (p & 7), n - i);
      const bits = Math.floor(v / 2 ** i) & ((1 << take) - 1);
      this.#b[p >> 3]! |= bits << (p & 7);
      i += take;
    }
    this.#pos += n;
    return this;
  }

  bool(v: boolean): this {
    return this.write(v ? 1 : 0, 1);
  }

  varbits(v: number): this {
    do {
      const low = v % 16;
      v = Math.floor(v / 16);
      this.write(low, 4).write(v > 0 ? 1 : 0, 1);
    } while (v > 0);
    return this;
  }

  bytes(b: Uint8Array): this {
    for (const x of b) this.write(x, 8);
    return this;
  }

  /** bits is the number of bits written. */
  get bits(): number {
    return this.#pos;
  }

  /** finish returns the stream padded with zero bits to a whole byte. */
  finish(): Uint8Array {
    return this.#b.slice(0, (this.#pos + 7) >> 3);
  }
}
