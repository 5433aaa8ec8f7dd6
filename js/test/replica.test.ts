// The client's replica against netcode/REPLICATION.md: its examples and
// golden payloads (read from the document), every malformed case of
// "Applying a state" step 3, random worlds sent as deltas against acked
// bases over a lossy, reordering, duplicating network, and random bytes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { BitWriter, MalformedState } from "../src/bits.js";
import { type Ent, Replica, type State, type StateChange, decodeState, keptStates } from "../src/replica.js";
import { parseType } from "../src/schema.js";
import { Kind, decode, encode } from "../src/wire.js";
import { type FieldSpec, type Op, type Raw, type TypeSpec, encodePayload, expected, randomRaw, rng } from "./replgen.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ""), "hex"));
const te = new TextEncoder();
const isMalformed = (e: unknown): boolean => e instanceof MalformedState && e.closeCode === 2;
const doc = readFileSync(new URL("../../../netcode/REPLICATION.md", import.meta.url), "utf8");

/** The "- name: `hex`" lines of a part of REPLICATION.md. */
function examples(part: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of part.matchAll(/^- ([^\n]+?): `([0-9a-f ]+)`$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** view is a state's entities as plain values: id → [type, fields]. */
const view = (s: { entities: ReadonlyMap<number, Ent> }): Map<number, [string, object]> => new Map([...s.entities].map(([id, e]) => [id, [e.type, { ...e.fields }]]));

const dot: TypeSpec = {
  name: "dot",
  fields: [
    { name: "x", kind: "float", min: -512, max: 512, step: 0.01, bits: 17 },
    { name: "hp", kind: "int", min: 0, max: 100, bits: 7 },
    { name: "alive", kind: "bool" },
    { name: "name", kind: "string", max: 4 },
  ],
};
const dotFields = (): FieldSpec[] => dot.fields;

test("REPLICATION.md's message examples encode and decode byte for byte, and apply", () => {
  const ex = examples(doc.slice(doc.indexOf("Examples (hex):"), doc.indexOf("## Payload")));
  const want = [
    ["state of tick 7 against tick 5, time 1000, payload `00 00`", { kind: Kind.state, tick: 7, base: 5, time: 1000, payload: bytes("0000") }],
    ["state ack of tick 7", { kind: Kind.stateAck, tick: 7 }],
  ] as const;
  assert.equal(ex.size, want.length, [...ex.keys()].join("; "));
  for (const [name, m] of want) {
    const h = ex.get(name);
    assert.ok(h, `REPLICATION.md has no example "${name}"`);
    assert.equal(hex(encode(m)), h.replace(/ /g, ""));
    assert.deepEqual(decode(bytes(h)), m);
  }
  const r = new Replica();
  assert.equal(r.apply(7, 5, 1000, bytes("0000")), undefined, "base 5 is not kept");
  assert.equal(r.unknownBase, 1);
  assert.deepEqual(r.apply(5, 0, 500, bytes("0000")), { tick: 5, created: [], changed: [], removed: [] });
  assert.deepEqual(r.apply(7, 5, 1000, bytes("0000")), { tick: 7, created: [], changed: [], removed: [] });
  assert.equal(r.apply(7, 5, 1000, bytes("0000")), undefined);
  assert.equal(r.apply(6, 5, 900, bytes("0000")), undefined);
  assert.equal(r.stale, 2);
  assert.equal(r.newest?.time, 1000);
});

test("REPLICATION.md's type example parses, with each kind's default interp", () => {
  const json = /```json\n([\s\S]*?)```/.exec(doc)![1]!;
  const t = parseType(3, te.encode(json));
  assert.equal(t.name, "dot");
  assert.deepEqual(
    t.fields.map((f) => [f.name, f.kind, f.interp, f.bits, f.min, f.max, f.step]),
    [
      ["x", "float", "linear", 17, -512, 512, 0.01],
      ["heading", "angle", "angle", 10, 0, 0, 0],
      ["hp", "int", "none", 7, 0, 100, 0],
      ["alive", "bool", "none", 0, 0, 0, 0],
      ["rot", "quat", "quat", 11, 0, 0, 0],
      ["name", "string", "none", 0, 0, 16, 0],
    ],
  );
  const defaults = JSON.parse(json.replace(/,"interp":"[a-z]+"/g, ""));
  assert.deepEqual(parseType(3, te.encode(JSON.stringify({ ...defaults, extra: 1 }))).fields.map((f) => f.interp), ["linear", "angle", "none", "none", "quat", "none"]);
});

test("REPLICATION.md's golden examples decode, in order on one replica, to the world each gives", () => {
  const at = doc.indexOf("\n## Golden examples\n");
  assert.ok(at >= 0, 'REPLICATION.md has no "## Golden examples" section');
  const end = doc.indexOf("\n## ", at + 1);
  const part = doc.slice(at, end < 0 ? undefined : end);
  // Each is two lines: "- `name`, tick T against B: `hex`" and "  gives `json`".
  const ex = [...part.matchAll(/^- `([^`]+)`, tick (\d+) against (\d+): `([0-9a-f ]+)`\n[ \t]+gives `([^`]+)`$/gm)];
  assert.ok(ex.length > 0, "the golden examples section lists no example");
  assert.equal(ex.length, part.match(/^- /gm)!.length, "every example in the section has the two-line form");
  const r = new Replica();
  for (const [, name, tick, base, h, gives] of ex) {
    const m = decode(bytes(h!));
    assert.equal(m.kind, Kind.state, name);
    if (m.kind !== Kind.state) continue;
    assert.deepEqual([m.tick, m.base], [Number(tick), Number(base)], `${name}: tick and base`);
    assert.ok(r.apply(m.tick, m.base, m.time, m.payload), `${name}: dropped`);
    const world = Object.fromEntries([...r.newest!.entities].map(([id, e]) => [String(id), { type: e.type, ...e.fields }]));
    assert.deepEqual(world, JSON.parse(gives!), `${name}: the world it gives`);
  }
});

test("this client's test encoder's states decode to what they say", () => {
  const full = encodePayload([[0, dot]], [{ id: 3, op: "create", type: 0, values: [51200 + 150, 100, 1, te.encode("ada")] }], dotFields);
  const upd = encodePayload([], [{ id: 3, op: "update", mask: [true, true, false, false], values: [51200 + 250, 99] }], dotFields);
  const rm = encodePayload([], [{ id: 3, op: "remove" }]);
  const r = new Replica();
  assert.deepEqual(r.apply(1, 0, 1e6, full), { tick: 1, created: [3], changed: [], removed: [] });
  assert.deepEqual(view(r.newest!), new Map([[3, ["dot", { x: 1.5, hp: 100, alive: true, name: "ada" }]]]));
  assert.deepEqual(r.apply(2, 1, 2e6, upd), { tick: 2, created: [], changed: [3], removed: [] });
  assert.deepEqual(view(r.newest!), new Map([[3, ["dot", { x: 2.5, hp: 99, alive: true, name: "ada" }]]]));
  assert.deepEqual(r.apply(3, 2, 3e6, rm), { tick: 3, created: [], changed: [], removed: [3] });
});

// --- malformed payloads ---------------------------------------------------------

/** base is a state with type 0 (dot) and entities 3 and 2³² − 1. */
function base(): State {
  const p = encodePayload(
    [[0, dot]],
    [
      { id: 3, op: "create", type: 0, values: [0, 1, 0, te.encode("")] },
      { id: 2 ** 32 - 1, op: "create", type: 0, values: [0, 1, 0, te.encode("")] },
    ],
    dotFields,
  );
  return decodeState(1, 0, { tick: 0, time: 0, types: [], entities: new Map(), named: [] }, p);
}

const typeJSON = (f: object | object[]): string => JSON.stringify({ name: "t", fields: Array.isArray(f) ? f : [f] });
const field = (o: object): string => typeJSON({ name: "f", ...o });

test("each malformed payload of 'Applying a state' step 3 is refused with MalformedState", () => {
  const create = (type: number, values: Raw[], id = 5): Op => ({ id, op: "create", type, values });
  const bad: [string, Uint8Array][] = [
    ["empty payload", new Uint8Array()],
    ["ends early", Uint8Array.of(0)],
    ["ends early in a value", encodePayload([], [{ id: 3, op: "update", mask: [true, false, false, false], values: [1] }], dotFields).subarray(0, 3)],
    ["padding not zero", Uint8Array.of(0, 0b100)],
    ["a byte after the padding", Uint8Array.of(0, 0, 0)],
    ["op 3", new BitWriter().varbits(0).varbits(1).varbits(3).write(3, 2).finish()],
    ["an id over 2³² − 1", encodePayload([], [{ id: 2 ** 32 - 1, op: "remove" }, create(0, [0, 0, 0, new Uint8Array()], 2 ** 32)], dotFields)],
    ["update of an entity the base lacks", encodePayload([], [{ id: 4, op: "update", mask: [true, false, false, false], values: [1] }], dotFields)],
    ["remove of an entity the base lacks", encodePayload([], [{ id: 4, op: "remove" }])],
    ["create of an entity the base has", encodePayload([], [create(0, [0, 0, 0, new Uint8Array()], 3)], dotFields)],
    ["create of an undefined type", encodePayload([], [create(1, [0, 0, 0, new Uint8Array()])], dotFields)],
    ["an empty update mask", encodePayload([], [{ id: 3, op: "update", mask: [false, false, false, false], values: [] }], dotFields)],
    ["a type the base has, again", encodePayload([[0, dot]], [])],
    ["a type twice in a payload", encodePayload([[1, dot], [1, dot]], [])],
    ["a string over its max", encodePayload([], [{ id: 3, op: "update", mask: [false, false, false, true], values: [te.encode("adaaa")] }], dotFields)],
    ["a string not UTF-8", encodePayload([], [{ id: 3, op: "update", mask: [false, false, false, true], values: [Uint8Array.of(0xc3, 0x28)] }], dotFields)],
    ["varbits of nine groups", new BitWriter().write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0x1f, 5).write(0, 5).finish()],
  ];
  const types: [string, string | Uint8Array][] = [
    ["JSON that does not parse", "{"],
    ["JSON not UTF-8", Uint8Array.of(0x7b, 0xff, 0x7d)],
    ["JSON over 4096 bytes", typeJSON({ name: "f", kind: "bool", pad: "x".repeat(4096) })],
    ["JSON not an object", "[]"],
    ["no type name", JSON.stringify({ fields: [{ name: "f", kind: "bool" }] })],
    ["no fields", typeJSON([])],
    ["fields not an array", JSON.stringify({ name: "t", fields: {} })],
    ["65 fields", typeJSON(Array.from({ length: 65 }, (_, i) => ({ name: "f" + i, kind: "bool" })))],
    ["a field not an object", typeJSON(["f"])],
    ["two fields of one name", typeJSON([{ name: "f", kind: "bool" }, { name: "f", kind: "bool" }])],
    ["an empty field name", typeJSON({ name: "", kind: "bool" })],
    ["a field name of 65 bytes", typeJSON({ name: "é".repeat(32) + "x", kind: "bool" })],
    ["an unknown kind", field({ kind: "vec3" })],
    ["int without bits", field({ kind: "int", min: 0, max: 1 })],
    ["int of 0 bits", field({ kind: "int", min: 0, max: 1, bits: 0 })],
    ["int of 33 bits", field({ kind: "int", min: 0, max: 1, bits: 33 })],
    ["int of 1.5 bits", field({ kind: "int", min: 0, max: 1, bits: 1.5 })],
    ["int min not an integer", field({ kind: "int", min: 0.5, max: 1, bits: 1 })],
    ["int max beyond 2⁵³", field({ kind: "int", min: 0, max: 2 ** 54, bits: 32 })],
    ["int max below min", field({ kind: "int", min: 2, max: 1, bits: 1 })],
    ["float step 0", field({ kind: "float", min: 0, max: 1, step: 0, bits: 4 })],
    ["float without min", field({ kind: "float", max: 1, step: 0.1, bits: 4 })],
    ["angle of 33 bits", field({ kind: "angle", bits: 33 })],
    ["quat of 1 bit", field({ kind: "quat", bits: 1 })],
    ["quat of 21 bits", field({ kind: "quat", bits: 21 })],
    ["string without max", field({ kind: "string" })],
    ["bytes max 65536", field({ kind: "bytes", max: 65536 })],
    ["interp unknown", field({ kind: "float", min: 0, max: 1, step: 0.1, bits: 4, interp: "cubic" })],
    ["interp angle for a float", field({ kind: "float", min: 0, max: 1, step: 0.1, bits: 4, interp: "angle" })],
    ["interp linear for a bool", field({ kind: "bool", interp: "linear" })],
  ];
  for (const [name, json] of types) bad.push(["a type breaking the rules: " + name, encodePayload([[1, json]], [])]);
  for (const [name, p] of bad) assert.throws(() => decodeState(2, 0, base(), p), isMalformed, name);

  // A replica refuses them whole: nothing changes, nothing is kept.
  const r = new Replica();
  r.apply(1, 0, 0, encodePayload([[0, dot]], [create(0, [0, 1, 0, te.encode("")], 3)], dotFields));
  for (const [name, p] of bad) {
    assert.throws(() => r.apply(2, 1, 0, p), isMalformed, name);
    assert.equal(r.states.length, 1, name);
  }
  assert.deepEqual(view(r.newest!), new Map([[3, ["dot", { x: -512, hp: 1, alive: false, name: "" }]]]));

  // And what the rules allow goes through: unknown members, the largest sizes.
  const ok: [string, string][] = [
    ["unknown members", JSON.stringify({ name: "t", v: 2, fields: [{ name: "f", kind: "bool", unit: "m" }] })],
    ["64 fields", typeJSON(Array.from({ length: 64 }, (_, i) => ({ name: "f" + i, kind: "bool" })))],
    ["a name of 64 bytes", typeJSON({ name: "é".repeat(32), kind: "bool" })],
    ["interp none for a float", field({ kind: "float", min: 0, max: 1, step: 0.1, bits: 4, interp: "none" })],
    ["int within ±2⁵³", field({ kind: "int", min: -(2 ** 53), max: 2 ** 53, bits: 32 })],
    ["bytes max 65535", field({ kind: "bytes", max: 65535 })],
  ];
  for (const [name, json] of ok) assert.equal(decodeState(2, 0, base(), encodePayload([[1, json]], [])).types[1]?.name, "t", name);
});

test("random bytes are refused with MalformedState or decode, never anything else", () => {
  const r = rng(7);
  const b0 = base();
  const good = encodePayload([[1, dot]], [{ id: 3, op: "update", mask: [true, true, true, true], values: [7, 8, 1, te.encode("é")] }, { id: 9, op: "create", type: 1, values: [1, 2, 0, te.encode("ab")] }], dotFields);
  let decoded = 0;
  for (let i = 0; i < 20000; i++) {
    let p: Uint8Array;
    if (i % 2) p = Uint8Array.from({ length: r.int(24) }, () => r.int(256));
    else {
      p = good.slice(0, r.chance(0.2) ? r.int(good.length) : good.length);
      for (let k = r.int(4); k >= 0; k--) if (p.length) p[r.int(p.length)]! ^= 1 << r.int(8);
    }
    try {
      decodeState(2, 0, b0, p);
      decoded++;
    } catch (e) {
      if (!isMalformed(e)) throw new Error(`payload ${hex(p)} threw ${String(e)}`);
    }
  }
  assert.ok(decoded > 0, "some mutations still decode");
});

// --- random worlds ----------------------------------------------------------------

function randomField(r: ReturnType<typeof rng>, i: number): FieldSpec {
  const kinds = ["int", "float", "bool", "angle", "quat", "string", "bytes"] as const;
  const kind = kinds[r.int(kinds.length)]!;
  const name = "f" + i;
  switch (kind) {
    case "int": {
      const bits = 1 + r.int(32);
      const min = r.int(2001) - 1000;
      return { name, kind, min, max: min + 2 ** bits - 1, bits };
    }
    case "float": {
      const bits = 1 + r.int(20);
      const step = [0.01, 0.5, 1 / 64][r.int(3)]!;
      return { name, kind, min: -512, max: -512 + (2 ** bits - 1) * step, step, bits };
    }
    case "angle":
      return { name, kind, bits: 1 + r.int(32) };
    case "quat":
      return { name, kind, bits: 2 + r.int(19) };
    case "string":
    case "bytes":
      return { name, kind, max: r.int(9) };
    default:
      return { name, kind };
  }
}

interface Thing {
  type: number;
  values: Raw[];
}
type World = Map<number, Thing>;

/** run plays one random session: a server sending the truth of each tick against an acked base, a client applying what arrives. */
function run(seed: number): { stale: number; unknownBase: number; kept: number } {
  const r = rng(seed);
  const types: TypeSpec[] = Array.from({ length: 1 + r.int(4) }, (_, t) => ({ name: "t" + t, fields: Array.from({ length: 1 + (r.chance(0.1) ? 63 : r.int(6)) }, (_, i) => randomField(r, i)) }));
  const fieldsOf = (w: World) => (o: Op): FieldSpec[] => types[o.op === "create" ? o.type : w.get(o.id)!.type]!.fields;
  const truth: World = new Map();
  const sent = new Map<number, { world: World; types: Set<number> }>();
  const acked = new Set<number>();
  const history = new Map<number, World>(); // the truth of every tick
  const typeOf = new Map<number, number>();
  const client = new Replica();
  let inflight: { tick: number; base: number; time: number; payload: Uint8Array }[] = [];
  const expect = (w: World): Map<number, [string, object]> =>
    new Map([...w].map(([id, t]) => [id, [types[t.type]!.name, Object.fromEntries(types[t.type]!.fields.map((f, i) => [f.name, expected(f, t.values[i]!)]))]]));
  const newID = (): number => [r.int(64), r.int(2 ** 32), 2 ** 32 - 1, 0][r.int(4)]!;

  const ticks = 120;
  for (let tick = 1; tick <= ticks; tick++) {
    // The world moves on.
    for (let k = r.int(4); k > 0; k--) {
      const id = newID();
      if (truth.has(id)) continue;
      // An id keeps its type for the session: a server cannot change it in one payload (an id is named once).
      const type = typeOf.get(id) ?? r.int(types.length);
      typeOf.set(id, type);
      truth.set(id, { type, values: types[type]!.fields.map((f) => randomRaw(r, f)) });
    }
    for (const [id, t] of [...truth]) {
      if (r.chance(0.05)) truth.delete(id);
      else if (r.chance(0.3)) {
        const values = t.values.slice();
        types[t.type]!.fields.forEach((f, i) => {
          if (r.chance(0.4)) values[i] = randomRaw(r, f);
        });
        truth.set(id, { type: t.type, values });
      }
    }
    // The server's message: against the newest acked state it keeps (or, at times, an older acked one).
    for (const t of sent.keys()) if (t <= tick - 32) sent.delete(t);
    const bases = [...acked].filter((t) => sent.has(t)).sort((a, b) => b - a);
    const baseTick = bases.length === 0 ? 0 : r.chance(0.8) ? bases[0]! : bases[r.int(bases.length)]!;
    const b = sent.get(baseTick) ?? { world: new Map() as World, types: new Set<number>() };
    const ops: Op[] = [];
    const newTypes = new Set<number>();
    for (const id of [...new Set([...truth.keys(), ...b.world.keys()])].sort((x, y) => x - y)) {
      const now = truth.get(id);
      const was = b.world.get(id);
      if (!now) ops.push({ id, op: "remove" });
      else if (!was) {
        ops.push({ id, op: "create", type: now.type, values: now.values });
        if (!b.types.has(now.type)) newTypes.add(now.type);
      } else {
        const fs = types[now.type]!.fields;
        const mask = fs.map((_, i) => expectedDiffers(fs[i]!, was.values[i]!, now.values[i]!));
        if (mask.includes(true)) ops.push({ id, op: "update", mask, values: now.values.filter((_, i) => mask[i]) });
      }
    }
    if (r.chance(0.1)) for (let t = 0; t < types.length; t++) if (!b.types.has(t)) newTypes.add(t); // types sent before they are used
    const payload = encodePayload(
      [...newTypes].sort((x, y) => x - y).map((t) => [t, types[t]!]),
      ops,
      fieldsOf(new Map([...b.world, ...truth])),
    );
    history.set(tick, new Map(truth));
    sent.set(tick, { world: new Map(truth), types: new Set([...b.types, ...newTypes]) });
    const m = { tick, base: baseTick, time: tick * 50_000_000, payload };
    // The network: loses some, doubles some, and delivers in any order.
    if (!r.chance(0.2)) inflight.push(m);
    if (r.chance(0.1)) inflight.push(m);
    const last = tick === ticks;
    if (last) inflight.push(m); // the last one arrives, last
    const keep: typeof inflight = [];
    const now: typeof inflight = [];
    for (const x of inflight) (last || r.chance(0.6) ? now : keep).push(x);
    for (let i = now.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [now[i], now[j]] = [now[j]!, now[i]!];
    }
    if (last) now.push(now.splice(now.indexOf(m), 1)[0]!);
    inflight = keep;
    for (const x of now) {
      const prev = client.newest;
      const c = client.apply(x.tick, x.base, x.time, x.payload);
      if (!c) continue;
      if (r.chance(0.7)) acked.add(x.tick);
      // The client has exactly the server's truth of that tick, and reports what changed against its previous newest.
      const want = sent.get(x.tick)!.world;
      assert.deepEqual(view(client.newest!), expect(want), `seed ${seed} tick ${x.tick}`);
      assert.deepEqual(c, changes(x.tick, prev ? history.get(prev.tick)! : new Map(), want, types), `seed ${seed} tick ${x.tick}: changes`);
      assert.ok(client.states.length <= keptStates);
    }
  }
  assert.equal(client.newest?.tick, ticks);
  assert.deepEqual(view(client.newest!), expect(truth), `seed ${seed}: the replica is the truth`);
  return { stale: client.stale, unknownBase: client.unknownBase, kept: client.kept };
}

/** expectedDiffers: the server sends a field whose meaning changed. */
function expectedDiffers(f: FieldSpec, a: Raw, b: Raw): boolean {
  return JSON.stringify(expected(f, a), replacer) !== JSON.stringify(expected(f, b), replacer);
}
const replacer = (_: string, v: unknown): unknown => (v instanceof Uint8Array ? [...v] : v);

function changes(tick: number, a: World, b: World, types: TypeSpec[]): StateChange {
  const c: StateChange = { tick, created: [], changed: [], removed: [] };
  for (const [id, t] of b) {
    const o = a.get(id);
    if (!o) c.created.push(id);
    else if (types[t.type]!.fields.some((f, i) => expectedDiffers(f, o.values[i]!, t.values[i]!))) c.changed.push(id);
  }
  for (const id of a.keys()) if (!b.has(id)) c.removed.push(id);
  for (const l of [c.created, c.changed, c.removed]) l.sort((x, y) => x - y);
  return c;
}

test("random worlds, sent as deltas against acked bases with loss, reordering and duplicates, decode to the truth", () => {
  let stale = 0;
  let kept = 0;
  for (let seed = 1; seed <= 24; seed++) {
    const s = run(seed);
    stale += s.stale;
    kept += s.kept;
  }
  assert.ok(stale > 0, "the network reordered or doubled some messages");
  assert.ok(kept > 24 * 40, `only ${kept} states kept`);
});

test("states share unchanged entities; 64 are kept", () => {
  const r = new Replica();
  const many: Op[] = Array.from({ length: 1000 }, (_, i) => ({ id: i, op: "create", type: 0, values: [i, 1, 1, te.encode("")] }));
  r.apply(1, 0, 0, encodePayload([[0, dot]], many, dotFields));
  for (let t = 2; t <= 100; t++) r.apply(t, t - 1, 0, encodePayload([], [{ id: t, op: "update", mask: [true, false, false, false], values: [t * 2] }], dotFields));
  assert.equal(keptStates, 64);
  assert.equal(r.states.length, 64);
  assert.equal(r.states[0]!.tick, 37);
  const [a, b] = [r.states[0]!, r.newest!];
  assert.equal(a.entities.get(999), b.entities.get(999), "an entity no update touched is one object in every state");
  assert.notEqual(a.entities.get(99), b.entities.get(99));
  assert.equal(a.types, b.types, "types are shared too");
  assert.ok(r.apply(101, 37, 0, Uint8Array.of(0, 0)), "the oldest kept state is a base");
  assert.equal(r.apply(102, 37, 0, Uint8Array.of(0, 0)), undefined, "and then no longer");
  assert.equal(r.unknownBase, 1);
});

test("an id whose type differs between the newest state and the next is removed and created", () => {
  const r = new Replica();
  const other: TypeSpec = { name: "other", fields: [{ name: "on", kind: "bool" }] };
  r.apply(1, 0, 0, encodePayload([[0, dot]], [{ id: 3, op: "create", type: 0, values: [0, 1, 0, te.encode("")] }], dotFields));
  // Tick 2 against the empty world, as after a resume: the same type again (no change), and...
  assert.deepEqual(r.apply(2, 0, 0, encodePayload([[0, dot]], [{ id: 3, op: "create", type: 0, values: [0, 1, 0, te.encode("")] }], dotFields)), { tick: 2, created: [], changed: [], removed: [] });
  // ...id 3 now of another type.
  const p = encodePayload([[1, other]], [{ id: 3, op: "create", type: 1, values: [1] }], () => other.fields);
  assert.deepEqual(r.apply(3, 0, 0, p), { tick: 3, created: [3], changed: [], removed: [3] });
  assert.deepEqual({ ...r.newest!.entities.get(3) }, { id: 3, type: "other", fields: { on: true } });
});
