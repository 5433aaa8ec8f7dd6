// Entity types (netcode/REPLICATION.md, Types): the JSON a typeDef
// carries, checked against the spec's rules, and each field's value as it
// travels in the bit stream.

import { type BitReader, malformed } from "./bits.js";

export type FieldKind = "int" | "float" | "bool" | "angle" | "quat" | "string" | "bytes";
export type Interp = "linear" | "angle" | "quat" | "none";
/** A unit quaternion, [x, y, z, w]. */
export type Quat = [number, number, number, number];
/** A field's value: int, float and angle (radians) are numbers. */
export type FieldValue = number | boolean | string | Uint8Array | Quat;

export interface FieldDef {
  readonly name: string;
  readonly kind: FieldKind;
  readonly interp: Interp;
  /** Bits of an int, float, angle or quat component; 0 for the rest. */
  readonly bits: number;
  /** int and float: the value of q = 0; string and bytes: 0. */
  readonly min: number;
  /** int and float: the top of the range; string and bytes: the most bytes. */
  readonly max: number;
  /** float: the quantum. */
  readonly step: number;
}

export interface TypeDef {
  readonly id: number;
  readonly name: string;
  readonly fields: readonly FieldDef[];
}

export const maxTypeJSON = 4096;
export const maxFields = 64;
const maxName = 64;
const maxLength = 65535;

const defaultInterp: Record<FieldKind, Interp> = { int: "none", float: "linear", bool: "none", angle: "angle", quat: "quat", string: "none", bytes: "none" };
/** The interps each kind may ask for besides "none". */
const interpOf: Partial<Record<FieldKind, Interp>> = { int: "linear", float: "linear", angle: "angle", quat: "quat" };
const bitsRange: Partial<Record<FieldKind, [number, number]>> = { int: [1, 32], float: [1, 32], angle: [1, 32], quat: [2, 20] };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const te = new TextEncoder();

function text(b: Uint8Array, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw malformed(`${what} is not UTF-8`);
  }
}

function name(v: unknown, what: string): string {
  if (typeof v !== "string") throw malformed(`${what} has no name`);
  const n = te.encode(v).length;
  if (n < 1 || n > maxName) throw malformed(`${what} has a name of ${n} bytes (1 to ${maxName})`);
  return v;
}

function num(o: Record<string, unknown>, key: string, what: string, ok: (v: number) => boolean): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw malformed(`${what}: ${key} ${JSON.stringify(v)} not allowed`);
  return v;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: number): boolean => Number.isInteger(v) && Math.abs(v) <= 2 ** 53;

/** parseType checks a typeDef's JSON (bytes as they came) and returns the type; what breaks a rule throws MalformedState. */
export function parseType(id: number, json: Uint8Array): TypeDef {
  if (json.length > maxTypeJSON) throw malformed(`type ${id}: JSON of ${json.length} bytes, limit ${maxTypeJSON}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text(json, `type ${id}'s JSON`));
  } catch (err) {
    throw err instanceof Error && err.name !== "SyntaxError" ? err : malformed(`type ${id}: JSON does not parse`);
  }
  if (!isObject(doc)) throw malformed(`type ${id}: JSON is not an object`);
  const typeName = name(doc.name, `type ${id}`);
  const raw = doc.fields;
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > maxFields) throw malformed(`type ${id}: fields must be an array of 1 to ${maxFields}`);
  const seen = new Set<string>();
  const fields = raw.map((f: unknown, i): FieldDef => {
    if (!isObject(f)) throw malformed(`type ${id}: field ${i} is not an object`);
    const fname = name(f.name, `type ${id} field ${i}`);
    const what = `type ${id} field ${JSON.stringify(fname)}`;
    if (seen.has(fname)) throw malformed(`${what} named twice`);
    seen.add(fname);
    const kind = f.kind as FieldKind;
    if (typeof kind !== "string" || !(kind in defaultInterp)) throw malformed(`${what}: kind ${JSON.stringify(f.kind)} unknown`);
    let interp = defaultInterp[kind];
    if (f.interp !== undefined) {
      if (f.interp !== "none" && f.interp !== interpOf[kind]) throw malformed(`${what}: interp ${JSON.stringify(f.interp)} not allowed for ${kind}`);
      interp = f.interp as Interp;
    }
    const range = bitsRange[kind];
    const bits = range ? num(f, "bits", what, (v) => Number.isInteger(v) && v >= range[0] && v <= range[1]) : 0;
    let min = 0;
    let max = 0;
    let step = 0;
    if (kind === "int") {
      min = num(f, "min", what, isInt);
      max = num(f, "max", what, (v) => isInt(v) && v >= min);
    } else if (kind === "float") {
      min = num(f, "min", what, () => true);
      max = num(f, "max", what, (v) => v >= min);
      step = num(f, "step", what, (v) => v > 0);
    } else if (kind === "string" || kind === "bytes") {
      max = num(f, "max", what, (v) => Number.isInteger(v) && v >= 0 && v <= maxLength);
    }
    return { name: fname, kind, interp, bits, min, max, step };
  });
  return { id, name: typeName, fields };
}

const sqrt1_2 = Math.SQRT1_2;

/** readValue reads one value of field f. */
export function readValue(r: BitReader, f: FieldDef): FieldValue {
  switch (f.kind) {
    case "int":
      return f.min + r.read(f.bits);
    case "float":
      return f.min + r.read(f.bits) * f.step;
    case "bool":
      return r.bool();
    case "angle":
      return (r.read(f.bits) * 2 * Math.PI) / 2 ** f.bits;
    case "quat": {
      const largest = r.read(2);
      const scale = 2 ** f.bits - 1;
      const q: Quat = [0, 0, 0, 0];
      let sum = 0;
      for (let i = 0; i < 4; i++) {
        if (i === largest) continue;
        const c = (r.read(f.bits) / scale) * Math.SQRT2 - sqrt1_2;
        q[i] = c;
        sum += c * c;
      }
      q[largest] = sum < 1 ? Math.sqrt(1 - sum) : 0;
      return q;
    }
    case "string":
    case "bytes": {
      const n = r.varbits();
      if (n > f.max) throw malformed(`${f.kind} field ${JSON.stringify(f.name)} of ${n} bytes, max ${f.max}`);
      const b = r.bytes(n);
      return f.kind === "bytes" ? b : text(b, `string field ${JSON.stringify(f.name)}`);
    }
  }
}
