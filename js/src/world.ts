// The replicated world as a game sees it (netcode/REPLICATION.md): the
// newest state's entities, what each state changed, and the world at a
// render time, between two kept states that a Playout chooses.

import { report } from "./errors.js";
import { blend } from "./interp.js";
import { type Entity, Replica, type StateChange } from "./replica.js";

/** Which two kept states (by tick) to render between, and how far along: alpha 0 is from, 1 is to, over 1 extrapolates (the playout bounds it). */
export interface PlayoutSample {
  from: number;
  to: number;
  alpha: number;
}

/** Playout chooses, for a local render time (performance.now() milliseconds), the states to render between. */
export interface Playout {
  /** undefined when it cannot tell yet: world.at then gives the newest state. */
  sample(localMs: number): PlayoutSample | undefined;
}

/**
 * @internal What the session tells the timing side (the clock and the
 * playout): each ping of the server, with the server's clock in
 * milliseconds, when it arrived (performance.now()) and the smoothed RTT
 * (ms, 0 until measured); and each state kept, with the server's clock when
 * it made the tick.
 */
export interface TimingFeed {
  ping(serverMs: number, arrivalMs: number, rttMs: number): void;
  state(tick: number, serverMs: number, arrivalMs: number): void;
}

/**
 * World is the game's replicated world. Callbacks run in order of
 * arrival, never inside the call that sets them; what they throw is
 * reported (window "error").
 */
export class World {
  /** Chooses the states world.at renders between; none: world.at gives the newest state. */
  playout: Playout | null = null;
  /** @internal */
  timing: TimingFeed | null = null;
  /** @internal */
  readonly replica = new Replica();
  #onState: ((change: StateChange) => void) | null = null;
  #priming = false;

  /** The newest state's tick; 0 before the first. */
  get tick(): number {
    return this.replica.newest?.tick ?? 0;
  }

  /** The newest state's entities, in no particular order. */
  entities(): Entity[] {
    return [...(this.replica.newest?.entities.values() ?? [])];
  }

  /** An entity of the newest state. */
  get(id: number): Entity | undefined {
    return this.replica.newest?.entities.get(id);
  }

  /**
   * The entities at local render time localMs (performance.now()
   * milliseconds), in no particular order, between the two kept states the
   * playout chooses: numeric fields move by their type's interp (linear;
   * angle the shorter way round; quat normalised lerp; none takes the newer
   * state's value), extrapolated when alpha is over 1. An entity created
   * between the two states is there throughout, at its newer values; one
   * removed between them is there at its older values until alpha reaches
   * 1. With no playout, no sample yet, or a state no longer kept, the
   * newest state's entities.
   */
  at(localMs: number): Entity[] {
    const s = this.playout?.sample(localMs);
    const to = s && this.replica.state(s.to);
    if (!s || !to) return this.entities();
    const from = this.replica.state(s.from);
    return blend(from ?? to, to, from ? s.alpha : 1);
  }

  /**
   * Called with each state kept, with the entities it created, changed
   * (any field differs) and removed against the state before it. The first
   * call first hears of the world so far, every entity of it created.
   */
  onState(cb: (change: StateChange) => void): void {
    const first = this.#onState === null;
    this.#onState = cb;
    if (!first || !this.replica.newest) return;
    // States that arrive before this runs are in the newest one it reports.
    this.#priming = true;
    queueMicrotask(() => {
      this.#priming = false;
      const s = this.replica.newest!;
      this.deliver({ tick: s.tick, created: [...s.entities.keys()].sort((x, y) => x - y), changed: [], removed: [] });
    });
  }

  /**
   * @internal apply applies a state message: what it changed, for
   * deliver once it is acknowledged, or undefined when it was dropped.
   * Throws MalformedState.
   */
  apply(tick: number, base: number, time: number, payload: Uint8Array, arrivalMs: number): StateChange | undefined {
    const c = this.replica.apply(tick, base, time, payload);
    if (c) this.timing?.state(tick, time / 1e6, arrivalMs);
    return c;
  }

  /** @internal deliver hands a change to the game's callback. */
  deliver(c: StateChange): void {
    if (this.#priming) return;
    try {
      this.#onState?.(c);
    } catch (err) {
      report(err);
    }
  }
}
