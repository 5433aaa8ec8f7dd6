// The replicated world as a game sees it (netcode/REPLICATION.md): the
// newest state's entities, what each state changed, and the world at a
// render time, each entity played out from the values states carried for
// it at the moment a Playout chooses.

import { Clock } from "./clock.js";
import { report } from "./errors.js";
import { Playout } from "./playout.js";
import { type Entity, Replica, type StateChange } from "./replica.js";
import { Samples } from "./samples.js";

/** The playout's figures, in milliseconds, for a debug overlay (as the wasm client's tickwire.d.ts has them). */
export interface PlayoutInfo {
  /** How far behind the least delayed state's arrival render time ran at the last world.at. */
  delay(): number;
  /** The delay the playout moves towards: two intervals, the jitter, and an interval for each state of the longest recent run of losses. */
  targetDelay(): number;
  /** How much later than the least delayed state states arrive. */
  jitter(): number;
  /** The usual interval between the states the server sends; 0 until two states. */
  interval(): number;
}

/**
 * World is the game's replicated world. Callbacks run in order of
 * arrival, never inside the call that sets them; what they throw is
 * reported (window "error").
 */
export class World {
  /** How far behind the newest arrivals the render time runs, and what it follows. */
  readonly playout: PlayoutInfo;
  /** @internal The server's clock, from its pings. */
  readonly clock = new Clock();
  /** @internal */
  readonly replica = new Replica();
  /** @internal Each entity's samples. */
  readonly samples = new Samples();
  readonly #player: Playout;
  #onState: ((change: StateChange) => void) | null = null;
  #priming = false;

  /** @internal */
  constructor(player: Playout = new Playout()) {
    this.playout = this.#player = player;
  }

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
   * The entities to draw at local time localMs (performance.now(), as
   * requestAnimationFrame gives it), in no particular order: those of the
   * newest state, each played out at the playout's render time from the
   * values states carried for it (REPLICATION.md, "Per entity"), so that
   * none ever steps back to an older value. Numeric fields move by their
   * type's interp (linear; angle the shorter way round; quat normalised
   * lerp) between the two values around that moment, and past the last
   * one are extrapolated for at most the time between the last two, then
   * held; a field whose interp is none, strings and bytes take the last
   * value at or before it. Before the playout knows the interval between
   * states (two states), the newest state's entities.
   */
  at(localMs: number): Entity[] {
    const s = this.replica.newest;
    if (!s) return [];
    if (!this.#player.sample(localMs) || this.#player.interval() === 0) return this.entities();
    const t = this.#player.time();
    const out: Entity[] = [];
    for (const e of s.entities.values()) out.push(this.samples.play(e, s.tick, t));
    return out;
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
    if (c) {
      this.samples.record(this.replica, c);
      this.#player.onState(tick, time / 1e6, arrivalMs);
    }
    return c;
  }

  /** @internal ping takes a ping of the server: its clock (ms), its arrival (performance.now()) and the smoothed RTT (ms, 0 until measured). */
  ping(serverMs: number, arrivalMs: number, rttMs: number): void {
    this.clock.observe(serverMs, arrivalMs, rttMs);
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
