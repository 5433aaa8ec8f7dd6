// Playing an entity out between two of its samples (netcode/REPLICATION.md,
// Playout): each numeric field moves as its type's interp says.

import { Ent, put } from "./replica.js";
import type { FieldValue, Interp, Quat } from "./schema.js";

const tau = 2 * Math.PI;

/**
 * mix is entity b's fields a fraction alpha of the way from a's (alpha
 * over 1 extrapolates; the caller bounds it), by b's type. A field whose
 * interp is none, a string or bytes takes a's value while alpha < 1 and
 * b's from 1 on. A value whose shape does not fit its interp (a type id
 * given another type by a full state) takes b's.
 */
export function mix(a: Ent, b: Ent, alpha: number): Ent {
  const fields: Record<string, FieldValue> = { ...(alpha < 1 ? a : b).fields };
  for (const f of b.def.fields) {
    if (f.interp === "none") continue;
    const x = a.fields[f.name];
    const y = b.fields[f.name]!;
    const ok = f.interp === "quat" ? Array.isArray(x) && x.length === 4 && Array.isArray(y) : typeof x === "number" && typeof y === "number";
    put(fields, f.name, ok ? lerp(f.interp, x as number | Quat, y as number | Quat, alpha) : y);
  }
  return new Ent(b.id, b.def, fields, b.origin);
}

/** lerp interpolates one value: linear, the shorter way round for an angle, normalised lerp on the nearer hemisphere for a quaternion. */
export function lerp(how: Exclude<Interp, "none">, x: number | Quat, y: number | Quat, t: number): number | Quat {
  if (typeof x === "number" && typeof y === "number") {
    if (how === "linear") return x * (1 - t) + y * t;
    let d = (y - x) % tau;
    if (d > Math.PI) d -= tau;
    else if (d < -Math.PI) d += tau;
    const r = (x + d * t) % tau;
    return r < 0 ? r + tau : r;
  }
  const p = x as Quat;
  const q = y as Quat;
  const s = p[0] * q[0] + p[1] * q[1] + p[2] * q[2] + p[3] * q[3] < 0 ? -t : t;
  const r = p.map((c, i) => c * (1 - t) + q[i]! * s) as Quat;
  const n = Math.hypot(...r);
  return n > 0 ? (r.map((c) => c / n) as Quat) : q;
}
