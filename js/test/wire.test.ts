// The wire format against netcode/WIRE.md: its example bytes are read from
// the document itself, so the two cannot drift apart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CloseCode, Kind, type Message, WireError, closeName, decode, encode } from "../src/wire.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
const te = new TextEncoder();

// The "Examples (hex)" list of WIRE.md: "- description: `hex`".
function wireExamples(): Map<string, string> {
  const doc = readFileSync(new URL("../../../netcode/WIRE.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("Examples (hex):"));
  const out = new Map<string, string>();
  for (const m of section.matchAll(/^- ([^:\n]+): `([0-9a-f ]+)`$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

test("WIRE.md's examples encode and decode byte for byte", () => {
  const examples = wireExamples();
  const want: [string, Message][] = [
    ["snapshot seq 5, payload `AA`", { kind: Kind.snapshot, seq: 5, payload: bytes("aa") }],
    ["input seq 300, empty payload", { kind: Kind.input, seq: 300, payload: new Uint8Array() }],
    ["input seq 2, payload `AA`, state ack 7", { kind: Kind.input, seq: 2, payload: bytes("aa"), stateAck: 7 }],
    ["event seq 1, ack 0, payload `hi`", { kind: Kind.event, seq: 1, ack: 0, payload: te.encode("hi") }],
    ["ack 3", { kind: Kind.ack, ack: 3 }],
    ["close code 1, reason `bye`", { kind: Kind.close, code: 1, reason: "bye" }],
  ];
  assert.equal(examples.size, want.length, `WIRE.md has ${[...examples.keys()].join("; ")}`);
  for (const [name, m] of want) {
    const h = examples.get(name);
    assert.ok(h, `WIRE.md has no example "${name}"`);
    assert.equal(hex(encode(m)), h.replace(/ /g, ""), name);
    assert.deepEqual(decode(bytes(h)), m, name);
  }
});

test("pings carry any integer time", () => {
  for (const time of [1, 1_000_000, 2 ** 40]) {
    assert.deepEqual(decode(encode({ kind: Kind.ping, id: 7, time })), { kind: Kind.ping, id: 7, time });
  }
  assert.deepEqual(decode(bytes("94 01 04 01 d0 ff")), { kind: Kind.pong, id: 1, time: -1 });
});

test("state messages carry any unsigned width, and extra elements", () => {
  assert.deepEqual(decode(bytes("97 01 05 cf0000000100000000 00 cf0000100000000000 c40100 c0")), { kind: Kind.state, tick: 2 ** 32, base: 0, time: 2 ** 44, payload: bytes("00") });
  assert.deepEqual(decode(encode({ kind: Kind.stateAck, tick: 70000 })), { kind: Kind.stateAck, tick: 70000 });
});

test("an input's state ack is optional, and elements after it are skipped", () => {
  assert.deepEqual(decode(bytes("94 01 02 02 c400")), { kind: Kind.input, seq: 2, payload: new Uint8Array() });
  assert.deepEqual(decode(bytes("96 01 02 02 c400 cd012c a178")), { kind: Kind.input, seq: 2, payload: new Uint8Array(), stateAck: 300 });
  assert.deepEqual(decode(encode({ kind: Kind.input, seq: 9, payload: bytes("01"), stateAck: 2 ** 40 })), { kind: Kind.input, seq: 9, payload: bytes("01"), stateAck: 2 ** 40 });
});

test("receivers accept any integer width and skip extra elements", () => {
  assert.deepEqual(decode(bytes("94 cc01 cd0001 ce00000005 c401aa")), { kind: Kind.snapshot, seq: 5, payload: bytes("aa") });
  assert.deepEqual(decode(bytes("95 01 11 03 a3616263 92c0c0")), { kind: Kind.ack, ack: 3 });
  assert.deepEqual(decode(bytes("93 01 63 00")), { kind: "unknown", value: 0x63 });
});

test("bad messages call for the close code WIRE.md gives them", () => {
  const cases: [string, number][] = [
    ["94 02 01 05 c401aa", CloseCode.versionMismatch],
    ["c0", CloseCode.protocolError], // not an array
    ["91 01", CloseCode.protocolError], // too few elements
    ["93 01 01 05", CloseCode.protocolError], // snapshot without payload
    ["94 01 01 ff c401aa", CloseCode.protocolError], // a signed seq
    ["94 01 01 05 a1aa", CloseCode.protocolError], // a str payload
    ["94 01 01 05 c405aa", CloseCode.protocolError], // truncated payload
    ["94 01 01 05 c401aa 00", CloseCode.protocolError], // trailing bytes
    ["94 01 12 01 da0101" + "61".repeat(257), CloseCode.protocolError], // reason over 256 bytes
    ["95 01 05 07 05 cd03e8", CloseCode.protocolError], // state without payload
    ["96 01 05 07 05 d0ff c40100", CloseCode.protocolError], // state with a signed time
    ["96 01 05 07 05 cd03e8 a100", CloseCode.protocolError], // state with a str payload
    ["92 01 06", CloseCode.protocolError], // state ack without tick
  ];
  for (const [h, code] of cases) {
    assert.throws(() => decode(bytes(h)), (e: unknown) => e instanceof WireError && e.closeCode === code, h);
  }
});

test("close reasons are cut at 256 bytes on a character boundary", () => {
  const m = decode(encode({ kind: Kind.close, code: 0, reason: "é".repeat(200) })) as { reason: string };
  assert.equal(m.reason, "é".repeat(128));
  assert.equal(closeName(6), "connection lost");
  assert.equal(closeName(99), "code 99");
});
