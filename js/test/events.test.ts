// The resend buffer and exactly-once delivery (WIRE.md, Events and acks),
// with two sides connected by a link that a test can cut: what each side
// sent before a cut arrives once, in order, after the resume.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventLog } from "../src/events.js";
import { Kind, WireError, decode } from "../src/wire.js";

const te = new TextEncoder();
const td = new TextDecoder();

test("acks trim the buffer; an ack of events never sent is a protocol error", () => {
  const log = new EventLog();
  for (let i = 1; i <= 5; i++) assert.ok(log.send(te.encode("e" + i)));
  assert.equal(log.unacked, 5);
  const before = log.bufferedBytes;
  log.ack(3);
  assert.equal(log.unacked, 2);
  assert.ok(log.bufferedBytes < before);
  assert.deepEqual(log.pending().map((b) => (decode(b) as { seq: number }).seq), [4, 5]);
  log.ack(2); // an older ack changes nothing
  assert.equal(log.unacked, 2);
  assert.throws(() => log.ack(6), WireError);
});

test("the buffer refuses an event past its bound and uses no number for it", () => {
  const log = new EventLog(100);
  assert.ok(log.send(new Uint8Array(40)));
  assert.ok(log.send(new Uint8Array(40)));
  assert.equal(log.send(new Uint8Array(40)), null);
  assert.equal(log.sent, 2);
  log.ack(1);
  const b = log.send(new Uint8Array(40));
  assert.ok(b);
  assert.equal((decode(b) as { seq: number }).seq, 3);
});

test("receive delivers in order, drops duplicates, and refuses gaps", () => {
  const log = new EventLog();
  assert.equal(log.receive(1), "deliver");
  assert.equal(log.receive(2), "deliver");
  assert.equal(log.receive(1), "duplicate");
  assert.equal(log.receive(2), "duplicate");
  assert.throws(() => log.receive(4), WireError);
  assert.equal(log.received, 2);
});

test("events arrive exactly once and in order across cuts and resumes, both ways", () => {
  // Each side: its log, what it delivered, and the link's queue towards it.
  type Side = { log: EventLog; got: string[]; inbox: Uint8Array[] };
  const a: Side = { log: new EventLog(), got: [], inbox: [] };
  const b: Side = { log: new EventLog(), got: [], inbox: [] };
  let up = true;
  const send = (from: Side, to: Side, text: string): void => {
    const bytes = from.log.send(te.encode(text));
    assert.ok(bytes);
    if (up) to.inbox.push(bytes);
  };
  const deliver = (to: Side, from: Side, n = Infinity): void => {
    while (to.inbox.length > 0 && n-- > 0) {
      const m = decode(to.inbox.shift()!);
      assert.equal(m.kind, Kind.event);
      if (m.kind !== Kind.event) return;
      to.log.ack(m.ack);
      if (to.log.receive(m.seq) === "deliver") to.got.push(td.decode(m.payload));
    }
    void from;
  };
  const resume = (): void => {
    // A new connection: whatever was in flight is gone; each side first
    // sends again every event the other has not acknowledged.
    a.inbox = [];
    b.inbox = [];
    up = true;
    for (const e of a.log.pending()) b.inbox.push(e);
    for (const e of b.log.pending()) a.inbox.push(e);
  };

  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 4; i++) {
      send(a, b, `a${round}.${i}`);
      send(b, a, `b${round}.${i}`);
    }
    deliver(b, a, 2); // part of it arrives before the cut
    deliver(a, b, 1);
    up = false;
    send(a, b, `a${round}.cut`); // sent while the path is down
    send(b, a, `b${round}.cut`);
    resume();
    deliver(a, b);
    deliver(b, a);
  }
  const want = (p: string): string[] => Array.from({ length: 5 }, (_, r) => [0, 1, 2, 3].map((i) => `${p}${r}.${i}`).concat(`${p}${r}.cut`)).flat();
  assert.deepEqual(b.got, want("a"));
  assert.deepEqual(a.got, want("b"));
});
