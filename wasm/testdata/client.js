// The browser side of the conformance suite (conformance_test.go), written
// against tickwire.d.ts: load the client (the wasm one, or with client=ts
// the TypeScript one, @tickwire/client), get a guest token from the lobby this page is served with, get
// matched (queue) or create a room, open both channels to the game server,
// then check snapshots, inputs, events and the channels the browser reports.
// The page ends by setting window.__result (a JSON-safe object) or
// window.__error, which the Go test polls. Query parameters:
//   name   the player name                     (default "page")
//   mode   the lobby mode                      (default "duo")
//   how    "queue" or "room" (createRoom)      (default "queue")
//   relay  "1" for play(match, {relayOnly: true})
//   pings  how many event round trips to time  (default 20)
//   settle keep the game open at least this many ms before reporting, to
//          see stats().rttMs settle                        (default 0)
//   client "ts" for @tickwire/client (ts/tickwire.js), else the wasm client
const q = new URLSearchParams(location.search);
const { load } = await import(q.get("client") === "ts" ? "./ts/tickwire.js" : "./tickwire.js");

const name = q.get("name") || "page";
const mode = q.get("mode") || "duo";
const how = q.get("how") || "queue";
const relayOnly = q.get("relay") === "1";
const pings = Number(q.get("pings") || 20);
const settle = Number(q.get("settle") || 0);

// Every RTCPeerConnection the wasm makes, and every data channel on it, so
// that the page can report what the browser itself has: the selected ICE
// candidate pair and the channels' own attributes.
const pcs = [];
const nativeChannels = [];
const NativePC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePC {
  constructor(...args) {
    super(...args);
    pcs.push(this);
    this.addEventListener("datachannel", (e) => nativeChannels.push(e.channel));
  }
  createDataChannel(...args) {
    const dc = super.createDataChannel(...args);
    nativeChannels.push(dc);
    return dc;
  }
};

const pageErrors = [];
addEventListener("error", (e) => pageErrors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => pageErrors.push("unhandled rejection: " + String(e.reason && e.reason.stack || e.reason)));

const timings = { script: window.__t0 ?? null };
const mark = (k) => { timings[k] = performance.now(); };
const step = { name: "start" }; // where the page is, for the test's timeout message
window.__step = step;

function withTimeout(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function until(cond, ms, what) {
  return withTimeout(new Promise((resolve) => {
    const poll = () => { const v = cond(); if (v) resolve(v); else setTimeout(poll, 5); };
    poll();
  }), ms, what);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// jsonable makes a value JSON-safe without losing what JSON would: bytes,
// undefined, bigints and dates are tagged.
function jsonable(v) {
  if (v === undefined) return { $undefined: true };
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { $number: String(v) };
  if (typeof v === "bigint") return { $bigint: String(v) };
  if (v instanceof Uint8Array) return { $u8: Array.from(v) };
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(jsonable);
  if (typeof v === "object") {
    const o = {};
    for (const [k, e] of Object.entries(v)) o[k] = jsonable(e);
    return o;
  }
  return { $type: typeof v };
}

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function iceInfo() {
  const out = { peerConnections: pcs.length };
  for (const pc of pcs) {
    out.policy = pc.getConfiguration().iceTransportPolicy;
    out.connectionState = pc.connectionState;
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId) || pair;
    });
    if (!pair) {
      stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
    }
    if (pair) {
      const local = stats.get(pair.localCandidateId) || {};
      const remote = stats.get(pair.remoteCandidateId) || {};
      out.local = { type: local.candidateType, protocol: local.protocol, address: local.address, port: local.port, relayProtocol: local.relayProtocol, url: local.url };
      out.remote = { type: remote.candidateType, protocol: remote.protocol, address: remote.address, port: remote.port };
      out.rttMs = pair.currentRoundTripTime === undefined ? null : pair.currentRoundTripTime * 1000;
    }
  }
  return out;
}

async function main() {
  step.name = "load";
  const tw = await withTimeout(load(), 20000, "load()");
  mark("loaded");

  step.name = "guest";
  const lobby = await withTimeout(tw.guest(location.origin, name), 5000, "guest()");
  mark("lobby");
  const notices = [];
  lobby.onNotice((n) => notices.push(n.type));

  let match;
  if (how === "room") {
    step.name = "createRoom";
    match = await withTimeout(lobby.createRoom({ mode }), 5000, "createRoom()");
  } else {
    step.name = "queue";
    const ticket = await withTimeout(lobby.queue({ mode }), 5000, "queue()");
    if (typeof ticket !== "string") throw new Error(`queue() resolved with ${typeof ticket}, want a string`);
    step.name = "waitMatch";
    match = await withTimeout(lobby.waitMatch(), 15000, "waitMatch()");
  }
  mark("matched");

  step.name = "play";
  const game = await withTimeout(lobby.play(match, { relayOnly }), 15000, "play()");
  mark("open");
  window.__close = () => { game.close(); lobby.close(); return true; };

  const snapshots = [];
  let snapshotCount = 0;
  game.onSnapshot((state, info) => {
    snapshotCount++;
    if (snapshots.length < 50) snapshots.push({ seq: info.seq, state: jsonable(state) });
  });
  const events = [];
  const pingWaiters = new Map();
  game.onEvent((ev) => {
    const echo = ev && ev.echo;
    if (echo && echo.kind === "ping") {
      const w = pingWaiters.get(echo.i);
      if (w) { pingWaiters.delete(echo.i); w(performance.now()); }
      return;
    }
    events.push(ev);
  });
  const states = [];
  game.onState((state, reason) => states.push({ state, reason }));
  window.__game = game;
  window.__states = states;
  window.__events = events;
  // stats().rttMs every 250 ms from the open on: how the smoothed RTT settles.
  const rttTrace = [];
  const traceTimer = setInterval(() => rttTrace.push(Math.round(game.stats().rttMs * 100) / 100), 250);

  step.name = "snapshots";
  await until(() => snapshotCount >= 10, 5000, "10 snapshots");

  step.name = "world";
  // The replicated world (netcode.World in the test's game): what onState
  // reports, the newest entities, and frames rendered with world.at.
  const world = { changes: 0, first: null };
  game.world.onState((c) => { world.changes++; if (!world.first) world.first = c; });
  await until(() => world.first && game.world.get(1) && game.world.get(2) && game.world.get(3), 5000, "the world's three entities");
  // A second of states first, for the playout to measure the path and
  // settle its delay (it starts from two intervals, before it knows the
  // jitter of a loaded machine).
  const settledAt = game.world.tick + 30;
  await until(() => game.world.tick >= settledAt, 10000, "a second of states");
  const ballX = [];
  await withTimeout(new Promise((resolve) => {
    // Timers rather than requestAnimationFrame, which a hidden page may
    // not run; world.at takes any performance.now() reading.
    const frame = () => {
      const ball = game.world.at(performance.now()).find((e) => e.id === 1);
      if (ball) ballX.push(ball.fields.x);
      if (ballX.length >= 60) resolve(); else setTimeout(frame, 16);
    };
    frame();
  }), 15000, "60 frames of world.at");
  world.ballX = ballX;
  world.tick = game.world.tick;
  world.entities = jsonable(game.world.entities().sort((a, b) => a.id - b.id));
  const po = game.world.playout;
  world.playout = { delay: po.delay(), targetDelay: po.targetDelay(), jitter: po.jitter(), interval: po.interval() };

  step.name = "inputs";
  const inputsSent = [];
  for (let i = 0; i < 10; i++) {
    inputsSent.push(game.sendInput({ kind: "input", name, i, keys: ["up", "left"] }));
    await sleep(20);
  }

  step.name = "event";
  const hello = {
    kind: "hello", name, n: 42, pi: 3.5, neg: -7, big: 2 ** 40, ok: true, nothing: null,
    list: [1, "two", false], nested: { deep: { x: 1 } },
    bin: new Uint8Array([0, 1, 254, 255]), text: "héllo ✓",
  };
  game.sendEvent(hello);
  const echo = await until(() => events.find((e) => e && e.echo && e.echo.kind === "hello"), 5000, "the echo of the hello event");

  step.name = "pings";
  const rtts = [];
  for (let i = 0; i < pings; i++) {
    const got = new Promise((resolve) => pingWaiters.set(i, resolve));
    const t = performance.now();
    game.sendEvent({ kind: "ping", i });
    const back = await withTimeout(got, 3000, `the echo of ping ${i}`);
    rtts.push(back - t);
  }

  step.name = "stats";
  // netcode pings every 500 ms on the snapshot channel: wait for one pong.
  await until(() => game.stats().rttMs > 0, 3000, "stats().rttMs > 0").catch(() => {});
  await sleep(timings.open + settle - performance.now());

  step.name = "report";
  clearInterval(traceTimer);
  window.__result = {
    player: lobby.player,
    name: lobby.name,
    version: tw.version,
    match: jsonable(match),
    notices,
    snapshotCount,
    snapshots,
    inputsSent,
    echo: jsonable(echo),
    eventsReceived: events.length,
    channels: jsonable(game.channels()),
    nativeChannels: nativeChannels.map((dc) => ({
      label: dc.label, protocol: dc.protocol, ordered: dc.ordered, maxRetransmits: dc.maxRetransmits,
      maxPacketLifeTime: dc.maxPacketLifeTime, negotiated: dc.negotiated, readyState: dc.readyState,
    })),
    ice: await iceInfo(),
    pingRTTs: rtts,
    pingMedianMs: median(rtts),
    stats: jsonable(game.stats()),
    rttTrace,
    states,
    timings,
    pageErrors,
    world,
  };

  // For tests that go on after the report: the ICE username fragment this
  // page offered last (it changes with every ICE restart), and a check that
  // the connection recovered from an ICE restart the server asked for.
  window.__ufrag = () => {
    const pc = pcs[pcs.length - 1];
    const m = pc && pc.localDescription && /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp);
    return m ? m[1] : "";
  };
  // from is the length of the state list before the test asked for the
  // restart (window.__stateCount), which may be over by the time this runs.
  window.__stateCount = () => String(states.length);
  window.__afterRestart = async (from) => {
    await until(() => states.slice(from).some((s) => s.state === "reconnecting"), 10000, "onState(\"reconnecting\")");
    await until(() => states.length > from && states[states.length - 1].state === "connected", 10000, "onState(\"connected\") again");
    const back = performance.now();
    const got = new Promise((resolve) => pingWaiters.set(-1, resolve));
    game.sendEvent({ kind: "ping", i: -1 });
    const echoed = await withTimeout(got, 5000, "the echo of a ping after the restart");
    return JSON.stringify({
      states: states.slice(from), stats: game.stats(), echoMs: echoed - back,
      ufrag: window.__ufrag(), peerConnections: pcs.length, connectionState: pcs[pcs.length - 1].connectionState,
    });
  };
}

// The resume test: __break closes the RTCPeerConnection under the client,
// as a network that dies would leave it, and sends n events ({kind: "seq",
// i}) into the outage; __afterResume waits for the client to resume the
// session on a new connection, sends n more, and reports how often each
// echo came back and which server events (kind "server", sent by the test
// during the outage) arrived: exactly once each, in order, is the contract.
window.__break = (n) => {
  pcs[pcs.length - 1].close();
  for (let i = 0; i < n; i++) window.__game.sendEvent({ kind: "seq", i });
  return true;
};
window.__afterResume = async (from, n, serverEvents) => {
  const game = window.__game;
  const states = window.__states;
  await until(() => states.slice(from).some((s) => s.state === "resuming"), 20000, "onState(\"resuming\")");
  await until(() => states.length > from && states[states.length - 1].state === "connected", 20000, "onState(\"connected\") after resuming");
  for (let i = n; i < 2 * n; i++) game.sendEvent({ kind: "seq", i });
  const echoes = () => window.__events.filter((e) => e && e.echo && e.echo.kind === "seq").map((e) => e.echo.i);
  const server = () => window.__events.filter((e) => e && e.kind === "server").map((e) => e.i);
  await until(() => echoes().length >= 2 * n && server().length >= serverEvents, 10000, "the echoes and the server's events").catch(() => {});
  await sleep(300); // anything doubled would come now
  return JSON.stringify({
    states: states.slice(from), stats: game.stats(), echoes: echoes(), server: server(),
    channels: game.channels(), peerConnections: pcs.length, connectionState: pcs[pcs.length - 1].connectionState,
  });
};

main().catch((err) => {
  const text = String(err && err.stack || err).split("\n").slice(0, 4).join("\n"); // the Go frames below say little
  window.__error = `${step.name}: ${text}` + (err && err.code ? ` (code ${err.code})` : "") +
    (pageErrors.length ? `; page errors: ${pageErrors.join("; ")}` : "");
});
