// The world a game reads: the newest state, its changes as events, and
// the world at a render time, interpolated per field between two kept
// states a Playout chooses (REPLICATION.md, Playout).
import assert from "node:assert/strict";
import { test } from "node:test";
import { lerp } from "../src/interp.js";
import type { Entity, StateChange } from "../src/replica.js";
import type { Quat } from "../src/schema.js";
import { type PlayoutSample, World } from "../src/world.js";
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

/** world builds tick 1 (entities 1 and 2) and tick 2 (1 moved, 2 removed, 3 created, 4 untouched). */
function world(): World {
  const w = new World();
  const create = (id: number, x: number): Op => ({ id, op: "create", type: 0, values: [x, 50, 250, quatW, te.encode("a")] });
  w.apply(1, 0, 1e9, encodePayload([[0, thing]], [create(1, 0), create(2, 30), create(4, 7)], fields), 0);
  const p = encodePayload([], [{ id: 1, op: "update", mask: [true, true, true, false, true], values: [10, 40, 6, te.encode("b")] }, { id: 2, op: "remove" }, create(3, 90)], fields);
  w.apply(2, 1, 2e9, p, 0);
  return w;
}

const byID = (es: Entity[]): Map<number, Entity> => new Map(es.map((e) => [e.id, e]));

test("world.at interpolates each field by its interp between the two states the playout picks", () => {
  const w = world();
  let sample: PlayoutSample | undefined;
  w.playout = { sample: () => sample };
  assert.deepEqual(w.at(0), w.entities(), "no sample: the newest state");
  assert.deepEqual([...byID(w.entities()).keys()].sort(), [1, 3, 4]);

  sample = { from: 1, to: 2, alpha: 0.5 };
  const mid = byID(w.at(0));
  const e1 = mid.get(1)!.fields;
  assert.equal(e1.x, 5, "float, linear");
  assert.equal(e1.hp, 40, "int, none by default: the newer value");
  nearAngle(e1.heading as number, (((250 + (256 + 6 - 250) / 2) % 256) * 2 * Math.PI) / 256, "angle, across 0");
  assert.equal(e1.tag, "b");
  assert.deepEqual(mid.get(2)?.fields.x, 30, "removed in between: there at its old values until render time reaches the newer state");
  assert.equal(mid.get(3)?.fields.x, 90, "created in between: there at its new values");
  assert.equal(mid.get(4), w.get(4), "an entity equal in both is the newest state's own object");

  sample = { from: 1, to: 2, alpha: 1.5 };
  const late = byID(w.at(0));
  assert.equal(late.get(1)?.fields.x, 15, "extrapolated");
  assert.equal(late.has(2), false);
  sample = { from: 1, to: 2, alpha: 1 };
  assert.deepEqual(byID(w.at(0)), byID(w.entities()));
  sample = { from: 0, to: 2, alpha: 0.5 };
  assert.deepEqual(byID(w.at(0)), byID(w.entities()), "a from state not kept: the to state");
  sample = { from: 1, to: 9, alpha: 0.5 };
  assert.deepEqual(byID(w.at(0)), byID(w.entities()), "a to state not kept: the newest");
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

test("the timing side hears of each state kept, with the server's clock in milliseconds", () => {
  const w = new World();
  const heard: number[][] = [];
  w.timing = { ping: () => {}, state: (tick, ms, at) => heard.push([tick, ms, at]) };
  w.apply(1, 0, 1_500_000, Uint8Array.of(0, 0), 42);
  w.apply(1, 0, 1_500_000, Uint8Array.of(0, 0), 43); // stale: not kept
  assert.deepEqual(heard, [[1, 1.5, 42]]);
});

test("fields named like Object.prototype's members are plain fields", () => {
  const odd: TypeSpec = { name: "odd", fields: [{ name: "__proto__", kind: "quat", bits: 10 }, { name: "constructor", kind: "float", min: 0, max: 100, step: 1, bits: 7 }] };
  const w = new World();
  const f = (): FieldSpec[] => odd.fields;
  w.apply(1, 0, 0, encodePayload([[0, odd]], [{ id: 1, op: "create", type: 0, values: [quatW, 10] }], f), 0);
  w.apply(2, 1, 0, encodePayload([], [{ id: 1, op: "update", mask: [false, true], values: [20] }], f), 0);
  w.playout = { sample: () => ({ from: 1, to: 2, alpha: 0.5 }) };
  for (const e of [w.get(1)!, w.at(0)[0]!]) {
    assert.deepEqual(Object.keys(e.fields), ["__proto__", "constructor"]);
    assert.ok(Array.isArray(e.fields["__proto__"]));
    assert.equal(Object.getPrototypeOf(e.fields), Object.prototype);
  }
  assert.equal(w.at(0)[0]!.fields.constructor, 15);
});
