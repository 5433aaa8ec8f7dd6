// The payload codec: what a Go server's vmihailenco/msgpack reads and
// writes, byte for byte where it matters, and hostile input refused
// without allocating what it announces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode } from "../src/msgpack.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));

test("integers take the shortest encoding, as Go's UseCompactInts", () => {
  const cases: [number | bigint, string][] = [
    [0, "00"],
    [127, "7f"],
    [128, "cc80"],
    [255, "ccff"],
    [256, "cd0100"],
    [65536, "ce00010000"],
    [2 ** 32, "cf0000000100000000"],
    [-1, "ff"],
    [-32, "e0"],
    [-33, "d0df"],
    [-129, "d1ff7f"],
    [-32769, "d2ffff7fff"],
    [-(2 ** 31) - 1, "d3ffffffff7fffffff"],
    [Number.MAX_SAFE_INTEGER, "cf001fffffffffffff"],
    [2n ** 64n - 1n, "cfffffffffffffffff"],
    [-(2n ** 63n), "d38000000000000000"],
    [5n, "05"],
  ];
  for (const [v, want] of cases) assert.equal(hex(encode(v)), want, `encode(${v})`);
  for (const [v, h] of cases) if (typeof v === "number") assert.equal(decode(bytes(h)), v, `decode(${h})`);
});

test("non-integers, -0 and unsafe integers are float64", () => {
  assert.equal(hex(encode(1.5)), "cb3ff8000000000000");
  assert.equal(hex(encode(-0)), "cb8000000000000000");
  assert.equal(hex(encode(2 ** 53)), "cb4340000000000000");
  assert.ok(Number.isNaN(decode(encode(NaN)) as number));
  assert.equal(decode(bytes("ca3fc00000")), 1.5); // float32 from a server
});

test("values round trip", () => {
  const v = {
    kind: "hello", n: 42, pi: 3.5, neg: -7, big: 2 ** 40, ok: true, no: false, nothing: null,
    list: [1, "two", false], nested: { deep: { x: 1 } }, bin: new Uint8Array([0, 1, 254, 255]),
    text: "héllo ✓", long: "x".repeat(300), when: new Date(1767225600123),
  };
  assert.deepEqual(decode(encode(v)), v);
  assert.deepEqual(decode(encode(new Array(70000).fill(1))), new Array(70000).fill(1));
});

test("a Go struct's map encodes as Go's msgpack.Marshal of map[string]any does", () => {
  // msgpack.Marshal(map[string]any{"dx": 1}) = 81 a2 64 78 01
  assert.equal(hex(encode({ dx: 1 })), "81a2647801");
  // undefined is nil, as is null; a Map's keys become strings.
  assert.equal(hex(encode({ a: undefined })), "81a161c0");
  assert.equal(hex(encode(new Map([[1, true]]))), "81a131c3");
});

test("binary of every kind is bin", () => {
  const want = "c403010203";
  assert.equal(hex(encode(new Uint8Array([1, 2, 3]))), want);
  assert.equal(hex(encode(new Uint8Array([1, 2, 3]).buffer)), want);
  assert.equal(hex(encode(new DataView(new Uint8Array([9, 1, 2, 3]).buffer, 1))), want);
  assert.equal(hex(encode(new Uint8Array(300))).slice(0, 6), "c5012c");
});

test("dates are the timestamp extension, in the three sizes", () => {
  assert.equal(hex(encode(new Date(1000))), "d6ff00000001");
  for (const d of [new Date(1000), new Date(1767225600123), new Date(-5000), new Date(2 ** 35 * 1000)]) {
    assert.equal((decode(encode(d)) as Date).getTime(), d.getTime());
  }
  assert.equal(hex(encode(new Date(-5000))).slice(0, 6), "c70cff");
});

test("what cannot be sent is refused with bad_argument", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  for (const v of [() => 1, { s: Symbol("x") }, cyclic, new Date(NaN), 2n ** 64n]) {
    assert.throws(() => encode(v), (e: { code?: string }) => e.code === "bad_argument", String(v));
  }
});

test("received maps keep string keys in arrival order, numbers as strings", () => {
  // {2: "b", 1: "a"} keyed by integers, then "__proto__" as a plain key
  const m = decode(bytes("82 02 a162 01 a161")) as Record<string, unknown>;
  assert.deepEqual(Object.entries(m).sort(), [["1", "a"], ["2", "b"]]);
  const p = decode(bytes("81 a95f5f70726f746f5f5f 81 a178 01")) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(p), Object.prototype);
  assert.deepEqual(Object.keys(p), ["__proto__"]);
});

test("hostile payloads fail without allocating what they announce", () => {
  const bad = [
    "dd7fffffff00", // array32 of 2^31-1 in one byte
    "df7fffffff00", // map32
    "c6ffffffff00", // bin32 of 4 GiB
    "dbffffffff00", // str32
    "c7ff0500", // ext8 that runs past the end
    "c1", // never used
    "d4 05 00", // an unknown ext type
    "92 01", // truncated
    "01 02", // trailing bytes
    "91".repeat(70) + "01", // nested too deep
  ];
  for (const h of bad) assert.throws(() => decode(bytes(h)), (e: { code?: string }) => e.code === "protocol", h);
});
