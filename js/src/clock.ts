// The server's clock, from the server's pings: the twin of
// netcode/internal/repl/clock.go, specified in netcode/REPLICATION.md
// ("Playout (client)").

/** How many of the server's pings the clock remembers: 8 s at the default 500 ms ping interval. */
const SAMPLES = 16;

/**
 * Clock estimates the server's clock with NTP's clock filter: of the last 16
 * pings it trusts the one that was delayed least, because queueing only ever
 * delays a ping, so a late ping is an outlier and none is ever early.
 *
 * Its estimate is the filter's, unsmoothed: when the best sample ages out or
 * the RTT moves, serverTime can step by a few milliseconds either way.
 * Rendering does not depend on it (Playout keeps its own monotonic render
 * time from the states' arrivals), so a step never moves the picture
 * backwards; a caller that needs a reading that never decreases keeps the
 * largest it has seen.
 *
 * All times are in milliseconds: the server's (its ping's nanoseconds / 1e6)
 * and the local clock's (performance.now(), say).
 */
export class Clock {
  private readonly lead: number[] = []; // server time − arrival: larger is less delayed
  private readonly offset: number[] = []; // lead + rtt / 2: server time − local time
  private next = 0;

  /** Takes one server ping: its time, its local arrival and the current smoothed RTT of the client's own pings. */
  observe(serverTimeMs: number, arrivalMs: number, rttMs: number): void {
    const lead = serverTimeMs - arrivalMs;
    this.lead[this.next] = lead;
    this.offset[this.next] = lead + Math.max(rttMs, 0) / 2;
    this.next = (this.next + 1) % SAMPLES;
  }

  /** The server's clock at local time localMs, or undefined before the first ping. */
  serverTime(localMs: number): number | undefined {
    const n = this.lead.length;
    if (n === 0) return undefined;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.next - 1 - k + SAMPLES) % SAMPLES; // newest first: ties go to the freshest RTT
      if (best < 0 || this.lead[i]! > this.lead[best]!) best = i;
    }
    return localMs + this.offset[best]!;
  }
}
