// The clock against the same pings as netcode/internal/repl/clock_test.go.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Clock } from "../src/clock.js";
import { mulberry32 } from "./mulberry32.js";

test("before and after one ping", () => {
  const c = new Clock();
  assert.equal(c.serverTime(0), undefined);
  // Sent at server time 1000 ms, arrived at local 500 after 20 ms of a 40 ms round trip.
  c.observe(1000, 500, 40);
  assert.equal(c.serverTime(700), 1220);
});

interface PingOpts {
  seconds: number;
  delayed: number; // the fraction of pings queued 50–200 ms more
  ppm: number;
  serverStart: number;
  seed: number;
}

/** The largest error of the estimate once 16 pings are in, at each arrival and halfway to the next. */
function clockError(o: PingOpts): number {
  const rng = mulberry32(o.seed);
  const server = (local: number): number => o.serverStart + local * (1 + o.ppm / 1e6);
  const c = new Clock();
  let worst = 0;
  for (let k = 1; k * 500 < o.seconds * 1000; k++) {
    const send = k * 500;
    let delay = 25 + rng();
    const extra = 50 + rng() * 150;
    if (rng() < o.delayed) delay += extra;
    const arrival = send + delay;
    c.observe(server(send), arrival, 50.5);
    if (k <= 16) continue;
    for (const l of [arrival, arrival + 250]) worst = Math.max(worst, Math.abs(c.serverTime(l)! - server(l)));
  }
  return worst;
}

test("30 % of pings delayed 50–200 ms, clocks drifting ±100 ppm: within a couple of ms", () => {
  for (const o of [
    { seconds: 120, delayed: 0, ppm: 0, serverStart: 1234.5, seed: 3 },
    { seconds: 120, delayed: 0.3, ppm: 0, serverStart: 1234.5, seed: 4 },
    { seconds: 120, delayed: 0.3, ppm: 100, serverStart: 5e6, seed: 5 },
    { seconds: 120, delayed: 0.3, ppm: -100, serverStart: 0, seed: 6 },
  ]) {
    const e = clockError(o);
    assert.ok(e <= 2, `${JSON.stringify(o)}: off by ${e} ms`);
  }
});
