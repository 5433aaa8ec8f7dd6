// The payload bit stream (REPLICATION.md, Payload): bit order, varbits,
// bytes at any bit position, padding, and reads past the end.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BitReader, BitWriter, MalformedState } from "../src/bits.js";
import { rng } from "./replgen.js";

const isMalformed = (e: unknown): boolean => e instanceof MalformedState && e.closeCode === 2;

test("bits are least significant first within a byte and a value", () => {
  assert.deepEqual(new BitWriter().write(1, 1).write(0, 1).write(0b101, 3).finish(), Uint8Array.of(0b10101));
  assert.deepEqual(new BitWriter().write(0x1ff, 9).finish(), Uint8Array.of(0xff, 0x01));
  const r = new BitReader(Uint8Array.of(0b10101, 0));
  assert.equal(r.read(1), 1);
  assert.equal(r.read(1), 0);
  assert.equal(r.read(3), 0b101);
  assert.equal(r.left, 11);
  // REPLICATION.md: 0–15 take 5 bits, 16–255 take 10, 2³² − 1 takes 40.
  for (const [v, n] of [[0, 5], [15, 5], [16, 10], [255, 10], [256, 15], [2 ** 32 - 1, 40]] as const) assert.equal(new BitWriter().varbits(v).bits, n, `varbits(${v})`);
  assert.deepEqual(new BitWriter().varbits(16).finish(), Uint8Array.of(0b110000, 0b00)); // 0000 1, 0001 0
});

test("random values, varbits and bytes round trip at every bit position", () => {
  const r = rng(1);
  for (let round = 0; round < 200; round++) {
    const w = new BitWriter();
    const items: [string, number | Uint8Array, number][] = [];
    for (let i = 0; i < 50; i++) {
      const what = r.int(3);
      if (what === 0) {
        const n = r.int(33);
        const v = n === 32 && r.chance(0.5) ? 2 ** 32 - 1 : r.int(2 ** n);
        w.write(v, n);
        items.push(["read", v, n]);
      } else if (what === 1) {
        const v = r.chance(0.2) ? 2 ** 32 - 1 - r.int(4) : r.int(2 ** r.int(33));
        w.varbits(v);
        items.push(["varbits", v, 0]);
      } else {
        const b = Uint8Array.from({ length: r.int(5) }, () => r.int(256));
        w.bytes(b);
        items.push(["bytes", b, b.length]);
      }
    }
    const rd = new BitReader(w.finish());
    for (const [what, v, n] of items) {
      if (what === "read") assert.equal(rd.read(n), v);
      else if (what === "varbits") assert.equal(rd.varbits(), v);
      else assert.deepEqual(rd.bytes(n), v);
    }
    rd.end();
  }
});

test("reading past the end, bad padding, bytes after it and long varbits are malformed", () => {
  assert.throws(() => new BitReader(Uint8Array.of(1)).read(9), isMalformed);
  assert.throws(() => new BitReader(new Uint8Array()).bool(), isMalformed);
  assert.throws(() => new BitReader(Uint8Array.of(0xff)).varbits(), isMalformed); // continues past the end
  assert.throws(() => new BitReader(new Uint8Array(3)).bytes(4), isMalformed);
  assert.throws(() => new BitReader(new Uint8Array(2)).bytes(2 ** 31), isMalformed, "a length is checked before allocating");
  const nine = new BitWriter();
  for (let i = 0; i < 8; i++) nine.write(0xf, 4).write(1, 1);
  nine.write(0, 5);
  assert.throws(() => new BitReader(nine.finish()).varbits(), isMalformed);
  const pad = new BitReader(Uint8Array.of(0b1000_0001));
  pad.read(1);
  assert.throws(() => pad.end(), isMalformed);
  const extra = new BitReader(Uint8Array.of(1, 0));
  extra.read(1);
  assert.throws(() => extra.end(), isMalformed);
  const ok = new BitReader(Uint8Array.of(1, 0));
  ok.read(9);
  ok.end();
});
