// Each entity's samples (netcode/REPLICATION.md, "Playout (client)", Per
// entity): the values kept states carried for it, each at its state's
// time. Acks reach the server late, so successive states are deltas against
// different bases and the newest may hold an older value of an entity than
// the state before it; playing every entity out from what was carried for
// it, rather than between two whole states, never steps it back.

import { mix } from "./interp.js";
import type { Ent, Entity, Replica, StateChange } from "./replica.js";

/** How many samples an entity keeps. */
export const KEEP = 8;
/** A sample after the entity's origin in the newest state is used while it is within this many ticks of the newest state. */
export const RECENT = 16;

/** @internal */
export interface Sample {
  tick: number;
  /** The server's clock when it made the tick, in milliseconds. */
  time: number;
  ent: Ent;
}

/** @internal */
export class Samples {
  /** By entity id, tick ascending, at most KEEP. */
  readonly #rings = new Map<number, Sample[]>();
  readonly #use: Sample[] = [];

  /**
   * record takes the state the replica just kept (its newest) and what it
   * changed against the newest before it. It costs what the state's payload
   * named and what the change lists, never a walk of every entity: an
   * entity the state carried (its origin there is the state's tick) is one
   * its payload created or updated, so one it named.
   */
  record(r: Replica, c: StateChange): void {
    const s = r.newest!;
    // Gone from the newest state, or another entity (its type changed): its samples are history.
    for (const id of c.removed) this.#rings.delete(id);
    for (const id of s.named) {
      const e = s.entities.get(id);
      if (e && e.origin === s.tick) this.#push(e, s.tick, s.time / 1e6);
    }
    // Back in the newest state from a base that still had it: the state
    // that carried what it holds, when it is still kept, is its first sample.
    for (const id of c.created) {
      const e = s.entities.get(id);
      if (!e || e.origin === s.tick || this.#rings.has(id)) continue;
      const o = r.state(e.origin);
      if (o) this.#push(e, o.tick, o.time / 1e6);
    }
  }

  #push(e: Ent, tick: number, time: number): void {
    let ring = this.#rings.get(e.id);
    if (!ring) this.#rings.set(e.id, (ring = []));
    ring.push({ tick, time, ent: e });
    if (ring.length > KEEP) ring.shift();
  }

  /** samples is an entity's kept samples, oldest first (for tests). */
  samples(id: number): readonly Sample[] {
    return this.#rings.get(id) ?? [];
  }

  /**
   * play is entity e of the newest state (of tick newest) at t, on the
   * server's clock in milliseconds, from its samples: those up to its
   * origin there (its history, up to the value the newest state holds),
   * and of those after it only the ones within RECENT ticks of the newest
   * state (a newer one is usually what the newest state's older base
   * lacks; but the newest state is the server's word, and the entity may
   * have gone back to an older value). Samples before the origin are kept
   * in use because the moment shown is a little in the past: when every
   * state carries the entity its origin is the newest state's tick, and
   * interpolating up to it needs the samples before. Between two samples numeric fields
   * are interpolated as their interp says; past the last they are
   * extrapolated from the last two for at most the time between those two,
   * then held; before the first, or with one, that sample holds. Fields
   * whose interp is none take the last sample's at or before t (the
   * first's before it). With no sample to use, e itself.
   */
  play(e: Ent, newest: number, t: number): Entity {
    const ring = this.#rings.get(e.id);
    if (!ring) return e;
    const u = this.#use;
    u.length = 0;
    for (const s of ring) if (s.tick <= e.origin || newest - s.tick <= RECENT) u.push(s);
    const k = u.length;
    if (k === 0) return e;
    let i = k - 1;
    while (i >= 0 && u[i]!.time > t) i--;
    if (i < 0) return u[0]!.ent;
    const a = u[i === k - 1 ? Math.max(k - 2, 0) : i]!;
    const b = u[i === k - 1 ? k - 1 : i + 1]!;
    const d = b.time - a.time;
    if (a === b || d <= 0) return u[i]!.ent;
    // Past the last sample, alpha runs from 1 to at most 2, then holds.
    const alpha = Math.min(t - a.time, 2 * d) / d;
    return alpha === 1 ? b.ent : mix(a.ent, b.ent, alpha);
  }
}
