// The world a game reads: the newest state, its changes as events, and
// the world at a render time, each entity played out from the values
// states carried for it (REPLICATION.md, Playout, "Per entity").
import assert from "node:assert/strict";
import { test } from "node:test";
import { lerp } from "../src/interp.js";
import type { Playout } from "../src/playout.js";
import type { Entity, StateChange } from "../src/replica.js";
import type { Quat } from "../src/schema.js";
import { World } from "../src/world.js";
import { At } from "./fakes.js";
import { type FieldSpec, type Op, type TypeSpec, encodePayload } from "./replgen.js";

const deg = (d: number): number => (d * Math.PI) / 180;
const near = (a: number, b: number, what = ""): void => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} is not ${b}`);
/** nearAngle compares angles round the circle: just under 2π is near 0. */
const nearAngle = (a: number, b: number, what = ""): void => {
  assert.ok(a >= 0 && a < 2 * Math.PI, `${what}: ${a} outside [0, 2π)`);
  const d = Math.abs(a - b) % (2 * Math.PI);
  assert.ok(Math.min(d, 2 * Math.PI - d) < 1e-9, `${what}: ${a} is not ${b}`);
};
const nearQ = (a: Quat, b: Quat): void => a.forEach((c, i) => near(c, b[i]!, `component ${i} of [${a}]`));

test("linear interpolates and extrapolates; angles go the shorter way round, within [0, 2π)", () => {
  assert.equal(lerp("linear", 10, 20, 0), 10);
  assert.equal(lerp("linear", 10, 20, 1), 20);
  assert.equal(lerp("linear", 10, 20, 0.25), 12.5);
  assert.equal(lerp("linear", 10, 20, 1.5), 25);
  nearAngle(lerp("angle", deg(350), deg(10), 0.5) as number, 0, "350° to 10°, halfway");
  nearAngle(lerp("angle", deg(350), deg(10), 0.25) as number, deg(355), "350° to 10°, a quarter");
  nearAngle(lerp("angle", deg(10), deg(350), 0.25) as number, deg(5), "10° to 350°, a quarter");
  nearAngle(lerp("angle", deg(10), deg(350), 0.75) as number, deg(355), "10° to 350°, three quarters");
  nearAngle(lerp("angle", deg(90), deg(180), 0.5) as number, deg(135), "90° to 180°");
  nearAngle(lerp("angle", deg(350), deg(10), 1.5) as number, deg(20), "extrapolated past 0");
});

test("quaternions: normalised lerp on the nearer hemisphere", () => {
  const id: Quat = [0, 0, 0, 1];
  // -q is the same rotation: halfway between q and -q is q, not zero.
  nearQ(lerp("quat", id, [0, 0, 0, -1], 0.5) as Quat, id);
  const s = Math.sin(deg(45));
  const c = Math.cos(deg(45));
  // 90° about y, given with its sign flipped: halfway is 45° about y, w positive.
  nearQ(lerp("quat", id, [0, -s, 0, -c], 0.5) as Quat, [0, Math.sin(deg(22.5)), 0, Math.cos(deg(22.5))]);
  nearQ(lerp("quat", id, [0, s, 0, c], 1) as Quat, [0, s, 0, c]);
  const q = lerp("quat", id, [0, s, 0, c], 0.3) as Quat;
  near(Math.hypot(...q), 1, "unit length");
});

const thing: TypeSpec = {
  name: "thing",
  fields: [
    { name: "x", kind: "float", min: 0, max: 100, step: 1, bits: 7 },
    { name: "hp", kind: "int", min: 0, max: 100, bits: 7 },
    { name: "heading", kind: "angle", bits: 8 },
    { name: "rot", kind: "quat", bits: 10 },
    { name: "tag", kind: "string", max: 8 },
  ],
};
const fields = (): FieldSpec[] => thing.fields;
const te = new TextEncoder();
const quatW = { largest: 3, q: [511.5, 511.5, 511.5].map(Math.round) as [number, number, number] }; // about [0, 0, 0, 1]

/** world builds tick 1 (entities 1 and 2) and tick 2 (1 moved, 2 removed, 3 created, 4 untouched), 1000 ms apart. */
function world(playout?: Playout): World {
  const w = new World(playout);
  const create = (id: number, x: number): Op => ({ id, op: "create", type: 0, values: [x, 50, 250, quatW, te.encode("a")] });
  w.apply(1, 0, 1e9, encodePayload([[0, thing]], [create(1, 0), create(2, 30), create(4, 7)], fields), 0);
  const p = encodePayload([], [{ id: 1, op: "update", mask: [true, true, true, false, true], values: [10, 40, 6, te.encode("b")] }, { id: 2, op: "remove" }, create(3, 90)], fields);
  w.apply(2, 1, 2e9, p, 0);
  return w;
}

const byID = (es: Entity[]): Map<number, Entity> => new Map(es.map((e) => [e.id, e]));

test("world.at plays each entity out between its samples, each field by its interp", () => {
  const p = new At();
  const w = world(p);
  p.ready = false;
  assert.deepEqual(w.at(0), w.entities(), "before the playout knows the interval: the newest state");
  p.ready = true;
  assert.deepEqual([...byID(w.entities()).keys()].sort(), [1, 3, 4]);

  p.t = 1500; // halfway from tick 1 (1000 ms) to tick 2 (2000 ms)
  const mid = byID(w.at(0));
  assert.deepEqual([...mid.keys()].sort(), [1, 3, 4], "the newest state's entities: 2, removed, is gone");
  const e1 = mid.get(1)!.fields;
  assert.equal(e1.x, 5, "float, linear");
  assert.equal(e1.hp, 50, "int, none by default: the last sample's at or before the moment");
  nearAngle(e1.heading as number, (((250 + (256 + 6 - 250) / 2) % 256) * 2 * Math.PI) / 256, "angle, across 0");
  assert.equal(e1.tag, "a", "a string: the last sample's at or before the moment");
  assert.equal(mid.get(3)?.fields.x, 90, "created at tick 2, one sample: its values hold");
  assert.equal(mid.get(4), w.get(4), "an entity carried once is the newest state's own object");

  p.t = 500;
  assert.equal(byID(w.at(0)).get(1)?.fields.x, 0, "before the first sample: the first sample's values");
  p.t = 2500;
  const late = byID(w.at(0)).get(1)!.fields;
  assert.equal(late.x, 15, "extrapolated past the last sample");
  assert.equal(late.hp, 40);
  assert.equal(late.tag, "b");
  p.t = 3000;
  assert.equal(byID(w.at(0)).get(1)?.fields.x, 20, "for at most the time between the last two samples");
  p.t = 60000;
  assert.equal(byID(w.at(0)).get(1)?.fields.x, 20, "then held");
  p.t = 2000;
  assert.deepEqual(byID(w.at(0)), byID(w.entities()), "at the newest state's time: its values");
});

test("onState: each kept state's changes; a late first callback hears the world so far as created", async () => {
  const w = world();
  const got: StateChange[] = [];
  w.onState((c) => got.push(c));
  assert.deepEqual(got, [], "never inside onState()");
  const c = w.apply(3, 2, 3e9, encodePayload([], [{ id: 3, op: "remove" }], fields), 0);
  assert.ok(c);
  w.deliver(c); // before the first delivery: folded into it
  await Promise.resolve();
  assert.deepEqual(got, [{ tick: 3, created: [1, 4], changed: [], removed: [] }]);
  const d = w.apply(4, 3, 4e9, encodePayload([], [{ id: 4, op: "update", mask: [false, false, false, false, true], values: [te.encode("z")] }], fields), 0)!;
  w.deliver(d);
  assert.deepEqual(got[1], { tick: 4, created: [], changed: [4], removed: [] });
  assert.equal(w.tick, 4);
  assert.equal(w.get(4)?.fields.tag, "z");
  assert.equal(w.get(4)?.type, "thing");
});

test("each state kept feeds the playout, with the server's clock in milliseconds", () => {
  const w = new World();
  w.apply(1, 0, 1_500_000, Uint8Array.of(0, 0), 42);
  w.apply(1, 0, 1_500_000, Uint8Array.of(0, 0), 43); // stale: not kept
  assert.equal(w.playout.interval(), 0);
  w.apply(3, 1, 5_500_000, Uint8Array.of(0, 0), 44);
  assert.equal(w.playout.interval(), 4, "from 1.5 ms to 5.5 ms");
  assert.equal(w.playout.delay(), 0, "not rendered yet");
  w.at(50);
  assert.equal(w.playout.delay(), w.playout.targetDelay());
});

test("fields named like Object.prototype's members are plain fields", () => {
  const odd: TypeSpec = { name: "odd", fields: [{ name: "__proto__", kind: "quat", bits: 10 }, { name: "constructor", kind: "float", min: 0, max: 100, step: 1, bits: 7 }] };
  const p = new At();
  const w = new World(p);
  const f = (): FieldSpec[] => odd.fields;
  w.apply(1, 0, 0, encodePayload([[0, odd]], [{ id: 1, op: "create", type: 0, values: [quatW, 10] }], f), 0);
  w.apply(2, 1, 1e9, encodePayload([], [{ id: 1, op: "update", mask: [false, true], values: [20] }], f), 0);
  p.t = 500;
  for (const e of [w.get(1)!, w.at(0)[0]!]) {
    assert.deepEqual(Object.keys(e.fields), ["__proto__", "constructor"]);
    assert.ok(Array.isArray(e.fields["__proto__"]));
    assert.equal(Object.getPrototypeOf(e.fields), Object.prototype);
  }
  assert.equal(w.at(0)[0]!.fields.constructor, 15);
});
