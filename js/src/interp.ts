// Playing the world out between two kept states (netcode/REPLICATION.md,
// Playout): each numeric field moves as its type's interp says.

import { Ent, type Entity, type State, put } from "./replica.js";
import type { FieldValue, Interp, Quat } from "./schema.js";

const tau = 2 * Math.PI;

/**
 * blend is the world a fraction alpha of the way from state a to state b
 * (alpha over 1 extrapolates; whoever chooses it bounds it). An entity in
 * both is interpolated. One only in b (created in between) is there
 * throughout, at its values in b, as a "none" field takes the newer value;
 * one only in a (removed in between) is there at its values in a while
 * alpha < 1, and gone from the moment render time reaches b. An id whose
 * type changed counts as only in b. Entities equal in both are b's own
 * objects.
 */
export function blend(a: State, b: State, alpha: number): Entity[] {
  const out: Entity[] = [];
  const whole = a === b || alpha === 1;
  for (const e of b.entities.values()) {
    const o = a.entities.get(e.id);
    out.push(whole || !o || o === e || o.def.id !== e.def.id ? e : mix(o, e, alpha));
  }
  if (alpha < 1 && a !== b) for (const o of a.entities.values()) if (!b.entities.has(o.id)) out.push(o);
  return out;
}

function mix(o: Ent, e: Ent, t: number): Entity {
  const fields: Record<string, FieldValue> = { ...e.fields };
  for (const f of e.def.fields) {
    if (f.interp !== "none") put(fields, f.name, lerp(f.interp, o.fields[f.name] as number | Quat, e.fields[f.name] as number | Quat, t));
  }
  return new Ent(e.id, e.def, fields);
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
