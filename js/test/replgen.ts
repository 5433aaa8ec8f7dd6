// A reference encoder of state payloads (netcode/REPLICATION.md, Payload),
// written from the spec apart from the client's decoder, so that tests can
// build payloads, good and bad, and know what they must decode to.
import { BitWriter } from "../src/bits.js";
import type { FieldValue, Quat } from "../src/schema.js";
import { mulberry32 } from "./mulberry32.js";

export interface FieldSpec {
  name: string;
  kind: "int" | "float" | "bool" | "angle" | "quat" | "string" | "bytes";
  bits?: number;
  min?: number;
  max?: number;
  step?: number;
  interp?: string;
}
export interface TypeSpec {
  name: string;
  fields: FieldSpec[];
}

/** A value as it travels: q for int, float and angle; 0 or 1 for bool; the quantised components of a quat; the bytes of a string or bytes. */
export type Raw = number | { largest: number; q: [number, number, number] } | Uint8Array;

export type Op =
  | { id: number; op: "create"; type: number; values: Raw[] }
  | { id: number; op: "update"; mask: boolean[]; values: Raw[] }
  | { id: number; op: "remove" };

const te = new TextEncoder();

/** encodePayload writes types (id, then the type or raw JSON text or bytes) and ops (ids ascending) as a payload. */
export function encodePayload(types: [number, TypeSpec | string | Uint8Array][], ops: Op[], fieldsOf: (op: Op) => FieldSpec[] = () => []): Uint8Array {
  const w = new BitWriter();
  w.varbits(types.length);
  for (const [id, t] of types) {
    const json = t instanceof Uint8Array ? t : te.encode(typeof t === "string" ? t : JSON.stringify(t));
    w.write(id, 8).varbits(json.length).bytes(json);
  }
  w.varbits(ops.length);
  let prev = -1;
  for (const o of ops) {
    w.varbits(o.id - prev - 1);
    prev = o.id;
    if (o.op === "remove") {
      w.write(2, 2);
      continue;
    }
    const fs = fieldsOf(o);
    if (o.op === "create") {
      w.write(1, 2).write(o.type, 8);
      fs.forEach((f, i) => writeRaw(w, f, o.values[i]!));
    } else {
      w.write(0, 2);
      for (const m of o.mask) w.bool(m);
      let k = 0;
      fs.forEach((f, i) => {
        if (o.mask[i]) writeRaw(w, f, o.values[k++]!);
      });
    }
  }
  return w.finish();
}

export function writeRaw(w: BitWriter, f: FieldSpec, v: Raw): void {
  switch (f.kind) {
    case "bool":
      w.write(v as number, 1);
      return;
    case "quat": {
      const q = v as { largest: number; q: number[] };
      w.write(q.largest, 2);
      for (const c of q.q) w.write(c, f.bits!);
      return;
    }
    case "string":
    case "bytes": {
      const b = v as Uint8Array;
      w.varbits(b.length).bytes(b);
      return;
    }
    default:
      w.write(v as number, f.bits!);
  }
}

/** expected is what a raw value means, by REPLICATION.md's table. */
export function expected(f: FieldSpec, v: Raw): FieldValue {
  switch (f.kind) {
    case "int":
      return f.min! + (v as number);
    case "float":
      return f.min! + (v as number) * f.step!;
    case "bool":
      return v === 1;
    case "angle":
      return ((v as number) * 2 * Math.PI) / 2 ** f.bits!;
    case "quat": {
      const { largest, q } = v as { largest: number; q: number[] };
      const c = q.map((x) => (x / (2 ** f.bits! - 1)) * Math.SQRT2 - Math.SQRT1_2);
      const rest = 1 - c.reduce((s, x) => s + x * x, 0);
      c.splice(largest, 0, rest > 0 ? Math.sqrt(rest) : 0);
      return c as Quat;
    }
    case "string":
      return new TextDecoder().decode(v as Uint8Array);
    case "bytes":
      return v as Uint8Array;
  }
}

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed from its seed. */
export function rng(seed: number): { int(n: number): number; chance(p: number): boolean } {
  const next = mulberry32(seed);
  return { int: (n) => Math.floor(next() * n), chance: (p) => next() < p };
}

/** randomRaw is a random value of f. */
export function randomRaw(r: ReturnType<typeof rng>, f: FieldSpec): Raw {
  switch (f.kind) {
    case "bool":
      return r.int(2);
    case "quat":
      return { largest: r.int(4), q: [r.int(2 ** f.bits!), r.int(2 ** f.bits!), r.int(2 ** f.bits!)] };
    case "string": {
      const b = te.encode(["", "a", "é", "日本", "ok!"][r.int(5)]!);
      return b.length <= f.max! ? b : new Uint8Array();
    }
    case "bytes":
      return Uint8Array.from({ length: r.int(f.max! + 1) }, () => r.int(256));
    default:
      // Values near the top of 32-bit fields too.
      return f.bits! === 32 && r.chance(0.3) ? 2 ** 32 - 1 - r.int(3) : r.int(2 ** f.bits!);
  }
}
