// When to render what: the twin of netcode/internal/repl/playout.go, which
// follows the rule in netcode/REPLICATION.md ("Playout (client)").

/** How many states' times are remembered to interpolate between. */
const KEEP = 64;
/** How many of the newest states the estimates look at: about a second at 30 a second. */
const WINDOW = 32;
/** The delay's bound, in intervals; the least is one. */
const MAX_DELAY = 8;
/**
 * Render time runs at most 1/SLOWER slower than the local clock (the delay
 * grows quickly when the path gets worse) and 1/FASTER faster (it shrinks
 * without hurry): motion changes speed by a few percent and never jumps back.
 */
const SLOWER = 10;
const FASTER = 20;

/** What to render: interpolate the states of ticks from and to by alpha (0 is from, 1 is to; above 1 extrapolates). */
export interface Frame {
  from: number;
  to: number;
  alpha: number;
}

interface StateTime {
  tick: number;
  time: number; // the server's clock
  arrival: number; // local, since the first state's arrival
}

const median = (s: number[]): number => {
  s.sort((a, b) => a - b);
  return s[s.length >> 1]!;
};

/**
 * Playout decides, for each frame, which two kept states to render between,
 * so that the world moves smoothly although states arrive unevenly and some
 * never arrive. It works from the states' own times and arrivals rather than
 * the Clock: when states arrive is what decides whether they are there in
 * time, and the server's "now" also includes the one-way travel time.
 *
 * Times are in milliseconds: the server's (the state's time / 1e6) and the
 * local clock's (performance.now(), say).
 */
export class Playout {
  private base = 0;
  private readonly states: StateTime[] = [];
  private head = 0; // index of the oldest once KEEP are kept

  private intervalMs = 0;
  private jitterMs = 0;
  private lead = 0;
  private targetMs = 0;

  private started = false;
  private render = 0;
  private local = 0;
  private shown = 0;
  private delayMs = 0;

  private at(i: number): StateTime {
    return this.states[(this.head + i) % KEEP]!;
  }

  /** Records a state the client kept. One whose tick or time is not above the newest's is ignored. */
  onState(tick: number, serverTimeMs: number, arrivalMs: number): void {
    const n = this.states.length;
    if (n === 0) this.base = arrivalMs;
    else {
      const last = this.at(n - 1);
      if (tick <= last.tick || serverTimeMs <= last.time) return;
    }
    const s: StateTime = { tick, time: serverTimeMs, arrival: arrivalMs - this.base };
    if (n < KEEP) this.states.push(s);
    else {
      this.states[this.head] = s;
      this.head = (this.head + 1) % KEEP;
    }
    this.estimate();
  }

  // The interval, lateness, losses and target delay from the newest WINDOW
  // states, with medians so that losses and a server sending every k-th tick
  // are read right while fewer than half the gaps are losses.
  private estimate(): void {
    const n = this.states.length;
    const w = Math.min(n, WINDOW);
    if (w < 2) return;
    const first = n - w;
    const ticks: number[] = [];
    const perTick: number[] = [];
    let lead = this.at(first).time - this.at(first).arrival;
    for (let i = 1; i < w; i++) {
      const a = this.at(first + i - 1);
      const b = this.at(first + i);
      ticks.push(b.tick - a.tick);
      perTick.push((b.time - a.time) / (b.tick - a.tick));
      lead = Math.max(lead, b.time - b.arrival);
    }
    const step = median(ticks);
    this.intervalMs = step * median(perTick);
    let losses = 0;
    // Gaps in units of the usual step, rounded half up: 2 steps is one lost state.
    for (const dt of ticks) losses = Math.max(losses, Math.floor((dt + Math.floor(step / 2)) / step) - 1);
    this.lead = lead;
    const late: number[] = [];
    for (let i = 0; i < w; i++) {
      const s = this.at(first + i);
      late.push(lead - (s.time - s.arrival));
    }
    late.sort((a, b) => a - b);
    this.jitterMs = late[w - 2]!; // the largest lateness but one: one outlier is ignored
    const I = this.intervalMs;
    this.targetMs = Math.min(Math.max(2 * I + this.jitterMs + Math.min(losses, MAX_DELAY) * I, I), MAX_DELAY * I);
  }

  /**
   * Advances render time to local time localMs and says what to render, or
   * undefined before the first state. Past the newest state, to is the
   * newest and alpha above 1 (extrapolate, at most one interval, then hold).
   * Before the oldest kept state, and while only one is kept, from and to
   * are that state and alpha is 0. The moment rendered never goes
   * backwards; a localMs earlier than the last is taken as the last.
   */
  sample(localMs: number): Frame | undefined {
    const n = this.states.length;
    if (n === 0) return undefined;
    const newest = this.at(n - 1);
    if (this.intervalMs === 0) return { from: newest.tick, to: newest.tick, alpha: 0 };
    const I = this.intervalMs;
    const l = localMs - this.base;
    const target = l + this.lead - this.targetMs;
    const first = !this.started;
    if (first) {
      this.started = true;
      this.render = target;
      this.local = l;
    } else {
      const dt = Math.max(l - this.local, 0);
      this.local += dt;
      const next = this.render + dt;
      const e = target - next;
      if (e > MAX_DELAY * I) this.render = target; // far behind (a long stall, a shorter path): catch up at once
      else if (e < -MAX_DELAY * I) {
        // far ahead (a longer path): stop until the target is near
      } else this.render = next + Math.min(Math.max(e, -dt / SLOWER), dt / FASTER);
    }
    this.delayMs = this.local + this.lead - this.render;
    const shown = Math.min(this.render, newest.time + I);
    if (first || shown > this.shown) this.shown = shown;

    const t = this.shown;
    const oldest = this.at(0);
    if (t <= oldest.time) return { from: oldest.tick, to: oldest.tick, alpha: 0 };
    if (t >= newest.time) {
      const prev = this.at(n - 2);
      return { from: prev.tick, to: newest.tick, alpha: (t - prev.time) / (newest.time - prev.time) };
    }
    // The first kept state after t; states are in time order.
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.at(m + 1).time > t) hi = m;
      else lo = m + 1;
    }
    const a = this.at(lo);
    const b = this.at(lo + 1);
    return { from: a.tick, to: b.tick, alpha: (t - a.time) / (b.time - a.time) };
  }

  /** The moment last sampled, on the server's clock (ms): render time, held at one interval past the newest state. */
  time(): number {
    return this.shown;
  }
  /** How far behind the least delayed state's arrival render time ran at the last sample (ms). */
  delay(): number {
    return this.delayMs;
  }
  /** The delay the playout moves towards (ms). */
  targetDelay(): number {
    return this.targetMs;
  }
  /** How much later than the least delayed state states arrive (ms): the window's largest lateness but one. */
  jitter(): number {
    return this.jitterMs;
  }
  /** The usual interval between the states the server sends (ms), 0 until two states. */
  interval(): number {
    return this.intervalMs;
  }
}
