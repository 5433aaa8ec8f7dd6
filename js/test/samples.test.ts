// Each entity played out from the values states carried for it
// (REPLICATION.md, "Origins" and Playout's "Per entity"), without a
// network: chains of states against alternating bases, as a server sends
// them when acks come back a few ticks late, where a state can hold an
// older value of an entity than the state before it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KEEP, RECENT } from "../src/samples.js";
import { World } from "../src/world.js";
import { At } from "./fakes.js";
import { type FieldSpec, type Op, type TypeSpec, encodePayload } from "./replgen.js";

const dot: TypeSpec = {
  name: "dot",
  fields: [
    { name: "x", kind: "float", min: 0, max: 1000, step: 1, bits: 10 },
    { name: "tag", kind: "string", max: 8 },
  ],
};
const other: TypeSpec = { name: "other", fields: [{ name: "hp", kind: "int", min: 0, max: 100, bits: 7 }] };
const te = new TextEncoder();
const fieldsOf = (o: Op): FieldSpec[] => (o.op === "create" && o.type === 1 ? other.fields : dot.fields);
const create = (id: number, x: number, tag = "c"): Op => ({ id, op: "create", type: 0, values: [x, te.encode(tag)] });
const move = (id: number, x: number, tag: string): Op => ({ id, op: "update", mask: [true, true], values: [x, te.encode(tag)] });
const ms = 1e6;

/** A world fed by hand: state k is at k × 100 ms on the server's clock. */
function setup(): { w: World; p: At; send: (tick: number, base: number, ops: Op[], types?: [number, TypeSpec][]) => void; x: (id: number) => number | undefined } {
  const p = new At();
  const w = new World(p);
  const send = (tick: number, base: number, ops: Op[], types: [number, TypeSpec][] = []): void => {
    assert.ok(w.apply(tick, base, tick * 100 * ms, encodePayload(types, ops, fieldsOf), 0), `state ${tick} against ${base} kept`);
  };
  const x = (id: number): number | undefined => w.at(0).find((e) => e.id === id)?.fields.x as number | undefined;
  return { w, p, send, x };
}

test("origins: each entity's is the tick of the state that carried its value, through alternating bases", () => {
  const { w, send } = setup();
  const origins = (): Record<number, number> => Object.fromEntries([...w.replica.newest!.entities].map(([id, e]) => [id, e.origin]));
  send(1, 0, [create(1, 0), create(2, 500)], [[0, dot]]);
  assert.deepEqual(origins(), { 1: 1, 2: 1 });
  send(2, 1, [move(1, 2, "b")]);
  assert.deepEqual(origins(), { 1: 2, 2: 1 });
  send(3, 1, [move(2, 510, "c")]); // against 1: entity 1 back at its value of tick 1
  assert.deepEqual(origins(), { 1: 1, 2: 3 });
  send(4, 2, [create(5, 7)]);
  assert.deepEqual(origins(), { 1: 2, 2: 1, 5: 4 });
  send(5, 3, [{ id: 2, op: "remove" }]);
  assert.deepEqual(origins(), { 1: 1 });
});

test("a chain against alternating bases: an entity never steps back, and moves between the values carried for it", () => {
  const { w, p, send, x } = setup();
  // The server's entity 1 moves 0, 2, 4, 8, 10, 12 (x = 2 per tick, and
  // then faster); acks are late, so each state is against the one two
  // before, and within its budget not every state carries entity 1.
  const plan: [number, number, Op[]][] = [
    [1, 0, [create(1, 0, "t1"), create(2, 500)]],
    [2, 1, [move(1, 2, "t2")]],
    [3, 1, [move(2, 510, "x")]], // entity 1 at its tick-1 value 0: older than state 2's 2
    [4, 2, [move(1, 8, "t4")]],
    [5, 3, [move(1, 10, "t5")]],
    [6, 3, []], // entity 1 at 0 again (origin 1)
    [7, 4, []], // at 8 (origin 4)
  ];
  const shown: number[] = [];
  let t = 50;
  for (const [tick, base, ops] of plan) {
    send(tick, base, ops, tick === 1 ? [[0, dot]] : []);
    // Rendered an interval behind the newest state, as a playout would.
    for (; t <= (tick - 1) * 100; t += 10) {
      p.t = t;
      shown.push(x(1)!);
    }
  }
  for (let i = 1; i < shown.length; i++) assert.ok(shown[i]! >= shown[i - 1]!, `step ${i}: x went back from ${shown[i - 1]} to ${shown[i]}`);
  assert.equal(w.get(1)?.fields.x, 8, "the newest state holds tick 4's value");
  assert.deepEqual(
    w.samples.samples(1).map((s) => s.tick),
    [1, 2, 4, 5],
    "samples: the states that carried entity 1",
  );

  const at = (ms: number): Record<string, unknown> => {
    p.t = ms;
    return { ...w.at(0).find((e) => e.id === 1)!.fields };
  };
  // The newest state is 7 (origin 4): samples up to 4 are its history, and
  // 5 is used too: the value 10 it carried is newer than the newest state's 8.
  assert.deepEqual(at(50), { x: 0, tag: "t1" }, "before the first sample: its values");
  assert.deepEqual(at(350), { x: 6.5, tag: "t2" }, "between samples 2 and 4");
  assert.deepEqual(at(450), { x: 9, tag: "t4" }, "halfway between 4 and 5; a string is the last sample's at or before t");
  assert.deepEqual(at(550), { x: 11, tag: "t5" }, "extrapolated past the last sample");
  assert.deepEqual(at(600), { x: 12, tag: "t5" });
  assert.deepEqual(at(650), { x: 12, tag: "t5" }, "for at most the time between the last two, then held");
  assert.deepEqual(at(10_000), { x: 12, tag: "t5" });

  // With the newest state at origin 1 (state 6), every sample from 1 on is used.
  const { w: w2, p: p2, send: send2 } = setup();
  for (const [tick, base, ops] of plan.slice(0, 6)) send2(tick, base, ops, tick === 1 ? [[0, dot]] : []);
  p2.t = 150;
  assert.equal(w2.at(0).find((e) => e.id === 1)?.fields.x, 1, "between samples 1 and 2, although state 3 and 6 hold 0");
  p2.t = 300;
  assert.equal(w2.at(0).find((e) => e.id === 1)?.fields.x, 5, "between 2 (at 200 ms) and 4 (at 400 ms)");
  assert.equal(w2.get(1)?.fields.x, 0);
});

test("an entity that went back to an older value is shown at the newest state's once the newer sample is over 16 ticks old", () => {
  const { w, p, send, x } = setup();
  send(1, 0, [create(1, 100)], [[0, dot]]);
  send(2, 1, [move(1, 200, "b")]);
  // The server's entity goes back to 100; the acked base 1 has it at 100
  // already, so nothing is sent for it.
  p.t = 10_000;
  for (let tick = 3; tick <= 2 + RECENT; tick++) {
    send(tick, 1, []);
    assert.equal(x(1), 300, `newest ${tick}: sample 2 is within ${RECENT} ticks, extrapolated and held`);
  }
  assert.equal(w.get(1)?.fields.x, 100);
  send(3 + RECENT, 1, []);
  assert.equal(x(1), 100, "sample 2 too old: the newest state's value");
  p.t = 150;
  assert.equal(x(1), 100, "at any moment");
});

test("an entity keeps its last 8 samples; it forgets them when the newest state lacks it or its type changes", () => {
  const { w, p, send, x } = setup();
  send(1, 0, [create(1, 0), create(2, 0)], [[0, dot], [1, other]]);
  for (let tick = 2; tick <= 12; tick++) send(tick, tick - 1, [move(1, tick, "m")]);
  assert.deepEqual(
    w.samples.samples(1).map((s) => s.tick),
    [5, 6, 7, 8, 9, 10, 11, 12],
  );
  assert.equal(KEEP, 8);

  // Gone from the newest state (removed by 13), and back in 14 from base 12:
  // its samples start again from the state that carried what 14 holds.
  send(13, 12, [{ id: 1, op: "remove" }]);
  assert.deepEqual(w.samples.samples(1), []);
  send(14, 12, []);
  assert.deepEqual(
    w.samples.samples(1).map((s) => s.tick),
    [12],
  );
  p.t = 1250;
  assert.equal(x(1), 12);

  // Entity 2 becomes another type (a full state): its old samples go.
  send(15, 14, [move(2, 50, "y")]);
  send(16, 0, [create(1, 12), { id: 2, op: "create", type: 1, values: [7] }], [[0, dot], [1, other]]);
  assert.deepEqual(
    w.samples.samples(2).map((s) => s.tick),
    [16],
  );
  p.t = 1550;
  assert.deepEqual(w.at(0).find((e) => e.id === 2)?.fields, { hp: 7 });
});

test("steady: each state against the one before carries the entity, and world.at interpolates up to the newest", () => {
  const { w, p, send, x } = setup();
  send(1, 0, [create(1, 0)], [[0, dot]]);
  for (let tick = 2; tick <= 5; tick++) send(tick, tick - 1, [move(1, 10 * tick, "m")]);
  assert.equal(w.replica.newest!.entities.get(1)!.origin, 5);
  p.t = 450;
  assert.equal(x(1), 45, "between samples 4 and 5, although the newest state's origin is 5");
  p.t = 300;
  assert.equal(x(1), 30);
});
