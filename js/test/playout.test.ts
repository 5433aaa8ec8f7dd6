// The playout against the same traces as netcode/internal/repl/playout_test.go:
// the same PRNG (mulberry32) and generator, in float milliseconds (the same
// IEEE arithmetic as Go's float64), and the same assertions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Playout } from "../src/playout.js";
import { mulberry32 } from "./mulberry32.js";

interface TraceOpts {
  hz: number; // server ticks a second
  step: number; // the server sends every step-th tick
  seconds: number;
  latency: number; // one-way base delay
  jitter: number; // each state's delay varies by ± this, uniformly
  loss: number; // each state is lost with this probability
  burstFrom: number; // every state sent in [burstFrom, burstTo) is lost
  burstTo: number;
  stallFrom: number; // every state sent in [stallFrom, stallTo) arrives at stallTo + latency at the earliest
  stallTo: number;
  ppm: number; // the server's clock runs this many parts per million fast
  serverStart: number; // the server's clock at the client's 0
  seed: number;
}

interface TraceState {
  tick: number;
  time: number;
  arrival: number;
}

/** The states a client keeps, in arrival order, without the stale ones. */
function trace(o: TraceOpts): TraceState[] {
  const rng = mulberry32(o.seed);
  const sent: TraceState[] = [];
  const interval = 1000 / o.hz;
  for (let k = 1; k * o.step * interval < o.seconds * 1000; k++) {
    const tick = k * o.step;
    const send = tick * interval;
    let lost = rng() < o.loss;
    let arrival = send + o.latency + (rng() * 2 - 1) * o.jitter;
    if (send >= o.burstFrom && send < o.burstTo) lost = true;
    if (send >= o.stallFrom && send < o.stallTo) arrival = Math.max(arrival, o.stallTo + o.latency);
    if (!lost) sent.push({ tick, time: o.serverStart + send * (1 + o.ppm / 1e6), arrival });
  }
  sent.sort((a, b) => a.arrival - b.arrival); // stable, as Go's SliceStable
  const kept: TraceState[] = [];
  for (const s of sent) if (kept.length === 0 || s.tick > kept[kept.length - 1]!.tick) kept.push(s);
  return kept;
}

interface FrameRec {
  local: number;
  from: number;
  to: number;
  alpha: number;
  shown: number;
  newest: number;
  delay: number;
  target: number;
  interval: number;
}

/** Feeds a trace to a Playout and samples it at 60 frames a second. */
function play(states: TraceState[], seconds: number): FrameRec[] {
  const p = new Playout();
  const times = new Map<number, number>();
  const frames: FrameRec[] = [];
  let next = 0;
  let newest = NaN;
  for (let f = 0; (f * 1000) / 60 < seconds * 1000; f++) {
    const local = (f * 1000) / 60;
    for (; next < states.length && states[next]!.arrival <= local; next++) {
      const s = states[next]!;
      p.onState(s.tick, s.time, s.arrival);
      times.set(s.tick, s.time);
      newest = s.time;
    }
    const fr = p.sample(local);
    if (fr === undefined) {
      assert.equal(next, 0, `frame at ${local} ms: no frame after ${next} states`);
      continue;
    }
    assert.ok(Number.isFinite(fr.alpha) && fr.alpha >= 0, `frame at ${local} ms: alpha ${fr.alpha}`);
    const tf = times.get(fr.from)!;
    const tt = times.get(fr.to)!;
    frames.push({
      local, from: fr.from, to: fr.to, alpha: fr.alpha, shown: tf + fr.alpha * (tt - tf), newest,
      delay: p.delay(), target: p.targetDelay(), interval: p.interval(),
    });
  }
  return frames;
}

/** What holds on every path; see checkFrames in playout_test.go. */
function checkFrames(frames: FrameRec[], interval: number): void {
  const eps = 1e-6;
  frames.forEach((f, i) => {
    if (i > 0) assert.ok(f.shown >= frames[i - 1]!.shown - eps, `frame at ${f.local} ms: rendered ${f.shown}, before ${frames[i - 1]!.shown}`);
    if (f.interval === 0) return;
    interval = Math.max(interval, f.interval);
    assert.ok(f.shown <= f.newest + interval + eps, `frame at ${f.local} ms: rendered ${f.shown}, past the newest ${f.newest} + an interval`);
    assert.ok(f.target <= 8 * f.interval + eps && f.target >= f.interval - eps, `frame at ${f.local} ms: target ${f.target} outside [1, 8] × ${f.interval}`);
  });
}

const clean30 = (): TraceOpts => ({
  hz: 30, step: 1, seconds: 20, latency: 40, jitter: 0, loss: 0,
  burstFrom: 0, burstTo: 0, stallFrom: 0, stallTo: 0, ppm: 0, serverStart: 1234.5, seed: 1,
});
const I30 = 1000 / 30;

test("a clean 30 Hz path: the delay converges to two intervals, alpha moves on", () => {
  for (const o of [clean30(), { ...clean30(), ppm: 100 }, { ...clean30(), ppm: -100 }, { ...clean30(), hz: 60, step: 2 }]) {
    const frames = play(trace(o), o.seconds);
    checkFrames(frames, I30);
    const last = frames[frames.length - 1]!;
    assert.ok(Math.abs(last.delay - 2 * I30) <= 1 && Math.abs(last.interval - I30) <= 0.01, `${JSON.stringify(o)}: delay ${last.delay}, interval ${last.interval}`);
    let prev: FrameRec | undefined;
    for (const f of frames) {
      if (f.local < 1000) continue;
      assert.ok(f.alpha <= 1 && f.to - f.from === o.step, `frame at ${f.local} ms: from ${f.from} to ${f.to} alpha ${f.alpha}`);
      if (prev !== undefined && prev.from === f.from) assert.ok(f.alpha > prev.alpha, `frame at ${f.local} ms: alpha ${f.alpha} after ${prev.alpha}`);
      prev = f;
    }
  }
});

test("jitter of ±10 ms and 5–20 % loss: the delay grows, within eight intervals, and states are in time", () => {
  // The mean delays netcode/internal/repl/playout_test.go pins too: the twins agree.
  const twin = new Map([[0.05, 104.857], [0.1, 120.06], [0.2, 163.957]]);
  for (const loss of [0.05, 0.1, 0.2]) {
    const o = { ...clean30(), jitter: 10, loss, seed: 7 };
    const frames = play(trace(o), o.seconds);
    checkFrames(frames, I30);
    const tail = frames.slice(frames.length >> 1);
    const mean = tail.reduce((s, f) => s + f.delay, 0) / tail.length;
    const extrapolated = tail.filter((f) => f.alpha > 1).length;
    assert.ok(mean >= 2 * I30 + 10 && mean <= 8 * I30, `loss ${loss}: mean delay ${mean}`);
    assert.ok(Math.abs(mean - twin.get(loss)!) <= 0.01, `loss ${loss}: mean delay ${mean}, the Go twin's ${twin.get(loss)}`);
    assert.ok(extrapolated * 20 <= tail.length, `loss ${loss}: extrapolated in ${extrapolated} of ${tail.length} frames`);
  }
});

test("a burst of losses: the delay grows, then shrinks back smoothly", () => {
  const o = { ...clean30(), seconds: 15, burstFrom: 5000, burstTo: 5200 };
  const frames = play(trace(o), o.seconds);
  checkFrames(frames, I30);
  let peak = 0;
  frames.forEach((f, i) => {
    peak = Math.max(peak, f.delay);
    const p = frames[i - 1];
    if (p !== undefined && p.interval > 0) {
      const dt = f.local - p.local;
      assert.ok(Math.abs(f.delay - p.delay) <= dt / 10 + 1e-3, `frame at ${f.local} ms: delay moved ${f.delay - p.delay} in ${dt}`);
    }
  });
  const last = frames[frames.length - 1]!;
  assert.ok(peak >= 4.5 * I30 && Math.abs(last.delay - 2 * I30) <= 1, `delay peaked at ${peak}, ended at ${last.delay}`);
});

test("late states: extrapolate, then hold, then recover", () => {
  const o = { ...clean30(), seconds: 10, stallFrom: 5000, stallTo: 5500 };
  const frames = play(trace(o), o.seconds);
  checkFrames(frames, I30);
  let extrapolated = 0;
  let held = 0;
  frames.forEach((f, i) => {
    if (f.alpha > 1) extrapolated++;
    if (i > 0 && f.shown === frames[i - 1]!.shown && Math.abs(f.shown - (f.newest + I30)) < 1e-3) held++;
  });
  assert.ok(extrapolated > 0 && held > 0, `extrapolated ${extrapolated}, held ${held}`);
  const last = frames[frames.length - 1]!;
  assert.ok(last.alpha <= 1 && last.shown >= last.newest - 8 * I30, `after the stall: alpha ${last.alpha}, ${last.newest - last.shown} ms behind`);
});

test("random paths: never NaN, never backwards, never past the newest state + an interval", () => {
  const rng = mulberry32(99);
  for (let i = 0; i < 40; i++) {
    const hz = [10, 20, 30, 60][Math.floor(rng() * 4)]!;
    const o: TraceOpts = {
      hz, step: 1 + Math.floor(rng() * 3), seconds: 6,
      latency: rng() * 150, jitter: rng() * 40, loss: rng() * 0.4,
      burstFrom: rng() * 6000, burstTo: 0, stallFrom: rng() * 6000, stallTo: 0,
      ppm: rng() * 400 - 200, serverStart: rng() * 1e6, seed: i,
    };
    o.burstTo = o.burstFrom + rng() * 500;
    o.stallTo = o.stallFrom + rng() * 1000;
    checkFrames(play(trace(o), o.seconds), ((o.step * 1000) / hz) * (1 + o.ppm / 1e6));
  }
});

test("edges: no state, one state, stale states, a local clock going backwards, extrapolate then hold", () => {
  const p = new Playout();
  assert.equal(p.sample(0), undefined);
  p.onState(5, 100, 10);
  assert.deepEqual(p.sample(20), { from: 5, to: 5, alpha: 0 });
  p.onState(5, 200, 30);
  p.onState(6, 100, 30);
  assert.equal(p.interval(), 0);
  p.onState(6, 150, 60);
  assert.equal(p.interval(), 50);
  assert.equal(p.targetDelay(), 100);
  assert.deepEqual(p.sample(60), { from: 5, to: 5, alpha: 0 });
  assert.deepEqual(p.sample(135), { from: 5, to: 6, alpha: 0.5 });
  assert.deepEqual(p.sample(100), { from: 5, to: 6, alpha: 0.5 });
  assert.deepEqual(p.sample(185), { from: 5, to: 6, alpha: 1.5 });
  assert.deepEqual(p.sample(1000), { from: 5, to: 6, alpha: 2 });
  assert.equal(p.time(), 200);
});
