// A game session against a stand-in RTCPeerConnection, with the test
// playing the lobby and the game server: the offer and its channels, the
// answer's resume token, snapshots newest-first, pings, events exactly
// once across a resume on a new PeerConnection, and the ways a game ends.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { connect } from "../src/index.js";
import type { Game } from "../src/game.js";
import { timing } from "../src/game.js";
import { encode as mp, decode as unmp } from "../src/msgpack.js";
import { BitWriter } from "../src/bits.js";
import { Kind, decode, encode } from "../src/wire.js";
import { FakePeerConnection, FakeWebSocket, tick, until } from "./fakes.js";

(globalThis as any).RTCPeerConnection = FakePeerConnection;
const WebSocket = FakeWebSocket as unknown as typeof globalThis.WebSocket;
Object.assign(timing, { tick: 10, silence: 200, restartInterval: 20, maxRestartInterval: 40, restartTimeout: 100, resumeAttempt: 300, reconnectTimeout: 3000 });

beforeEach(() => {
  FakeWebSocket.instances = [];
  FakePeerConnection.instances = [];
});

// A test that fails before it closes its game and lobby would leave their
// timers running, and node would never exit: close whatever play() opened.
const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await Promise.resolve(c.close()).catch(() => {});
});

const match = { room: "r-1", mode: "solo", server: "s-1", seat: "seat1", players: [], iceServers: [{ urls: ["stun:127.0.0.1:3478"] }], expires: 0 };

/** signals is what the client signaled for its room, in order. */
const signals = (ws: FakeWebSocket): any[] => ws.sent.filter((m) => m.type === "signal").map((m) => {
  assert.equal(m.room, "r-1");
  assert.equal(m.seat, "seat1");
  return m.signal;
});

/** play connects a lobby and plays the match through to both channels open. */
async function play(codec?: "raw"): Promise<{ game: Game; ws: FakeWebSocket; pc: FakePeerConnection }> {
  const lp = connect("http://lobby.test", "t1", { WebSocket });
  await until(() => FakeWebSocket.last?.sent.length);
  const ws = FakeWebSocket.last;
  ws.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t2" });
  const lobby = await lp;
  opened.push(lobby);
  const gp = lobby.play(match, codec ? { codec } : undefined);
  await until(() => FakePeerConnection.last);
  const pc = FakePeerConnection.last;
  pc.onicecandidate?.({ candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", toJSON: () => ({ candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" }) } });
  await until(() => signals(ws).length >= 2);
  const [offer, cand] = signals(ws);
  assert.equal(offer.type, "offer");
  assert.equal(offer.gen, undefined);
  assert.equal(cand.type, "candidate", "a candidate gathered before the offer went out follows it");
  ws.reply({ type: "signal", room: "r-1", signal: { type: "answer", sdp: "v=0 answer", resume: "token-1" } });
  ws.reply({ type: "signal", room: "r-1", signal: { type: "candidate", candidate: { candidate: "candidate:2 1 udp 1 127.0.0.1 7000 typ host", sdpMid: "0" } } });
  await until(() => pc.candidates.length === 1);
  assert.deepEqual(pc.remote, [{ type: "answer", sdp: "v=0 answer" }]);
  pc.connect();
  const game = await gp;
  opened.unshift(game);
  return { game, ws, pc };
}

/** serverEvent is an event message from the server. */
const serverEvent = (seq: number, ack: number, v: unknown): Uint8Array => encode({ kind: Kind.event, seq, ack, payload: mp(v) });

/** eventsSent decodes what the client sent on the events channel. */
function eventsSent(pc: FakePeerConnection): any[] {
  return pc.channel("events").sent.map((b) => {
    const m = decode(b);
    return m.kind === Kind.event ? { seq: m.seq, v: unmp(m.payload) } : m;
  });
}

test("the channels, snapshots (newest only), inputs and pings", async () => {
  const { game, pc } = await play();
  assert.deepEqual(pc.config, { iceServers: match.iceServers, iceTransportPolicy: "all" });
  assert.deepEqual(game.channels(), [
    { label: "snapshots", protocol: "tickwire.v1", ordered: false, maxRetransmits: 0 },
    { label: "events", protocol: "tickwire.v1", ordered: true, maxRetransmits: null },
  ]);
  const u = pc.channel("snapshots");
  assert.equal(u.binaryType, "arraybuffer");
  // Snapshots before onSnapshot: only the newest is kept.
  u.deliver(encode({ kind: Kind.snapshot, seq: 1, payload: mp({ tick: 1 }) }));
  u.deliver(encode({ kind: Kind.snapshot, seq: 3, payload: mp({ tick: 3 }) }));
  u.deliver(encode({ kind: Kind.snapshot, seq: 2, payload: mp({ tick: 2 }) }));
  const got: [unknown, number][] = [];
  game.onSnapshot((s, { seq }) => got.push([s, seq]));
  assert.equal(got.length, 0, "never inside onSnapshot()");
  await tick();
  u.deliver(encode({ kind: Kind.snapshot, seq: 4, payload: mp({ tick: 4 }) }));
  assert.deepEqual(got, [[{ tick: 3 }, 3], [{ tick: 4 }, 4]]);
  const s = game.stats();
  assert.equal(s.snapshotsReceived, 3);
  assert.equal(s.snapshotsStale, 1);
  assert.equal(s.snapshotsLost, 1); // seq 2 came too late: counted lost, then stale

  assert.equal(game.sendInput({ dx: 1 }), true);
  const input = decode(u.sent[u.sent.length - 1]!);
  assert.deepEqual(input, { kind: Kind.input, seq: 1, payload: mp({ dx: 1 }) });
  assert.throws(() => game.sendInput(new Uint8Array(1300)), { code: "too_large" });
  u.bufferedAmount = 64 << 10;
  assert.equal(game.sendInput({ dx: 1 }), false, "congested");
  u.bufferedAmount = 0;
  assert.equal(game.stats().congested, 1);

  // The server's ping is answered at once; ours come back as RTT samples.
  u.deliver(encode({ kind: Kind.ping, id: 9, time: 12345 }));
  assert.deepEqual(decode(u.sent[u.sent.length - 1]!), { kind: Kind.pong, id: 9, time: 12345 });
  await until(() => u.sent.some((b) => decode(b).kind === Kind.ping));
  const ping = decode(u.sent.find((b) => decode(b).kind === Kind.ping)!);
  assert.equal(ping.kind, Kind.ping);
  if (ping.kind === Kind.ping) u.deliver(encode({ kind: Kind.pong, id: ping.id, time: ping.time }));
  assert.ok(game.stats().rttMs > 0);
  await game.close();
});

test("events: in order, acked, and exactly once across a resume on a new PeerConnection", async () => {
  const { game, ws, pc } = await play();
  const r = pc.channel("events");
  const got: unknown[] = [];
  const states: string[] = [];
  game.onEvent((e) => got.push(e));
  game.onState((s, why) => states.push(`${s}: ${why}`));
  game.sendEvent({ n: 1 });
  game.sendEvent({ n: 2 });
  r.deliver(serverEvent(1, 1, "s1")); // acks our first
  await until(() => r.sent.some((b) => decode(b).kind === Kind.ack));
  assert.deepEqual(decode(r.sent.find((b) => decode(b).kind === Kind.ack)!), { kind: Kind.ack, ack: 1 });

  // The events channel fails: the client resumes at once on a new
  // PeerConnection (gen 1) with the token of the answer.
  r.fail();
  game.sendEvent({ n: 3 }); // while down: kept for the next connection
  await until(() => FakePeerConnection.instances.length === 2);
  assert.ok(pc.closed);
  const pc2 = FakePeerConnection.last;
  await until(() => signals(ws).some((s) => s.gen === 1));
  const offer = signals(ws).find((s) => s.gen === 1);
  assert.equal(offer.type, "offer");
  assert.equal(offer.resume, "token-1");
  ws.reply({ type: "signal", room: "r-1", signal: { type: "answer", sdp: "v=0 answer 2", gen: 1, resume: "token-2" } });
  ws.reply({ type: "signal", room: "r-1", signal: { type: "answer", sdp: "late", gen: 0 } }); // for the old one: dropped
  await until(() => pc2.remote.length === 1);
  pc2.connect();
  // Our unacknowledged events go first, once each; the server's resend of
  // event 1 is dropped, its event 2 delivered.
  assert.deepEqual(eventsSent(pc2).map((e) => e.v), [{ n: 2 }, { n: 3 }]);
  pc2.channel("events").deliver(serverEvent(1, 1, "s1"));
  pc2.channel("events").deliver(serverEvent(2, 3, "s2"));
  await tick(5);
  assert.deepEqual(got, ["s1", "s2"]);
  const s = game.stats();
  assert.equal(s.resumes, 1);
  assert.equal(s.eventsResent, 2);
  assert.equal(s.eventsUnacked, 0);
  assert.deepEqual(states, ["resuming: connection failed", "connected: resumed on a new connection"]);

  // The next resume presents the token of the last answer.
  pc2.channel("snapshots").fail();
  await until(() => signals(ws).some((s) => s.gen === 2));
  assert.equal(signals(ws).find((s) => s.gen === 2).resume, "token-2");
  ws.reply({ type: "signal", room: "r-1", signal: { type: "refused", gen: 2, error: "resume token already used" } });
  await until(() => states.some((x) => x.startsWith("closed")));
  assert.throws(() => game.sendEvent(1), { code: "resume_rejected" });
});

test("a server that hangs up is heard out: its close message, still on events when snapshots ends, closes the game with its code", async () => {
  const { game, pc } = await play();
  const states: unknown[] = [];
  game.onState((...a) => states.push(a));
  pc.channel("snapshots").fail(); // its end reported first
  pc.channel("events").deliver(encode({ kind: Kind.close, code: 1, reason: "server restarting" }));
  pc.channel("events").fail();
  await until(() => states.length > 0);
  assert.deepEqual(states, [["closed", "shutdown: server restarting", { code: "shutdown", remote: true }]]);
  assert.equal(FakePeerConnection.instances.length, 1, "it resumed instead");
});

test("silence restarts ICE on the same PeerConnection, and the path comes back", async () => {
  const { game, ws, pc } = await play();
  const states: string[] = [];
  game.onState((s, why) => states.push(`${s}: ${why}`));
  // The game keeps sending, so the session is not quiet and must hear back.
  const inputs = setInterval(() => game.sendInput(1), 20);
  await until(() => signals(ws).some((s) => s.type === "offer" && s.sdp.includes("restart")), 2000);
  assert.equal(FakePeerConnection.instances.length, 1);
  ws.reply({ type: "signal", room: "r-1", signal: { type: "answer", sdp: "v=0 restart answer" } });
  await until(() => pc.remote.length === 2);
  pc.channel("snapshots").deliver(encode({ kind: Kind.snapshot, seq: 1, payload: mp(1) }));
  await until(() => states.length === 2);
  assert.match(states[0]!, /^reconnecting: nothing received for/);
  assert.equal(states[1], "connected: path back");
  assert.ok(game.stats().restarts >= 1);
  assert.equal(game.stats().resumes, 0);
  clearInterval(inputs);
  await game.close();
});

test("a quiet session stops pinging and its timer, and is not lost; the game's next message wakes it", async () => {
  // Intervals running, to see the game's supervision timer stop and start.
  const live = new Set<unknown>();
  const [si, ci] = [globalThis.setInterval, globalThis.clearInterval];
  globalThis.setInterval = ((fn: () => void, ms?: number) => {
    const id = si(fn, ms);
    live.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id?: ReturnType<typeof setInterval>) => {
    live.delete(id);
    ci(id);
  }) as typeof clearInterval;
  try {
    const { game, ws, pc } = await play();
    const timers = live.size; // the game's supervision
    const states: string[] = [];
    game.onState((s, why) => states.push(`${s}: ${why}`));
    const u = pc.channel("snapshots");
    const pings = (): number => u.sent.filter((b) => decode(b).kind === Kind.ping).length;
    const seen: unknown[] = [];
    // Answer pings while not quiet, as a server does.
    const pongs = setInterval(() => {
      for (const b of u.sent.splice(0)) {
        const m = decode(b);
        if (m.kind === Kind.ping) u.deliver(encode({ kind: Kind.pong, id: m.id, time: m.time }));
        seen.push(m.kind);
      }
    }, 5);
    const pingsSeen = (): number => seen.filter((k) => k === Kind.ping).length + pings();
    await until(() => pingsSeen() >= 1, 2000);
    // No game traffic: after timing.silence it goes quiet, and then stays
    // connected, unpinged, though nothing arrives for many silence timeouts.
    await new Promise((r) => setTimeout(r, timing.silence + 100));
    const before = pingsSeen();
    await new Promise((r) => setTimeout(r, 4 * timing.silence));
    assert.equal(pingsSeen(), before, "a quiet session pinged");
    assert.equal(live.size, timers, "a quiet session kept its timer running"); // the pongs' only
    assert.deepEqual(states, []);
    assert.equal(signals(ws).filter((s) => s.type === "offer").length, 1, "a quiet session restarted ICE");
    // The game speaks: the timer runs again, and a ping follows within a tick or two.
    game.sendInput(1);
    assert.equal(live.size, timers + 1, "the game's message did not wake the timer");
    await until(() => pingsSeen() > before, 1000);
    clearInterval(pongs);
    await game.close();
  } finally {
    globalThis.setInterval = si;
    globalThis.clearInterval = ci;
  }
});

test("close waits until the server hangs up, the sign that it has the close message (WIRE.md Close)", async () => {
  const { game, pc } = await play();
  const done = game.close();
  await tick(30);
  assert.equal(pc.closed, false, "the PeerConnection closed under the close message");
  pc.channel("events").fail(); // the server hangs up
  await done;
  assert.ok(pc.closed);
});

test("close tells the server; a server's close ends the game with its code", async () => {
  const { game, pc } = await play();
  const states: unknown[] = [];
  game.onState((...a) => states.push(a));
  await game.close();
  assert.deepEqual(decode(pc.channel("events").sent.at(-1)!), { kind: Kind.close, code: 0, reason: "client closed" });
  assert.deepEqual(states, [["closed", "normal: client closed", { code: "normal", remote: false }]]);
  assert.throws(() => game.channels(), { code: "closed" });
  assert.throws(() => game.sendInput(1), { code: "closed" });

  const b = await play();
  const held: unknown[] = [];
  b.pc.channel("events").deliver(serverEvent(1, 0, "game over"));
  b.pc.channel("events").deliver(encode({ kind: Kind.close, code: 1, reason: "bye" }));
  const late: unknown[] = [];
  b.game.onState((...a) => late.push(a));
  b.game.onEvent((e) => held.push(e)); // set after the close: still hears what came before
  await tick();
  assert.deepEqual(late, [["closed", "shutdown: bye", { code: "shutdown", remote: true }]]);
  assert.deepEqual(held, ["game over"]);
});

test("a malformed message closes with protocol error and tells the server", async () => {
  const { game, pc } = await play("raw");
  const states: unknown[] = [];
  game.onState((...a) => states.push(a));
  pc.channel("events").deliver(new Uint8Array([0x95, 0x01, 0x10, 0x05, 0x00, 0xc4, 0x00])); // event seq 5 first
  await until(() => states.length);
  assert.deepEqual(decode(pc.channel("events").sent.at(-1)!), { kind: Kind.close, code: 2, reason: "event seq 5 after 0" });
  assert.equal((states[0] as any[])[2].code, "protocol error");
});

test("closeWithError sends the game's own code; codes outside 4000-4999 are refused", async () => {
  const { game, pc } = await play();
  assert.throws(() => game.closeWithError(1, "no"), { code: "bad_argument" });
  assert.throws(() => game.closeWithError(5000, "no"), { code: "bad_argument" });
  const states: unknown[] = [];
  game.onState((...a) => states.push(a));
  await game.closeWithError(4001, "rage quit");
  assert.deepEqual(decode(pc.channel("events").sent.at(-1)!), { kind: Kind.close, code: 4001, reason: "rage quit" });
  assert.deepEqual(states, [["closed", "application code 4001: rage quit", { code: "application code 4001", remote: false }]]);
});

test("a session refused before it opens fails play with the server's reason", async () => {
  const lp = connect("http://lobby.test", "t1", { WebSocket });
  await until(() => FakeWebSocket.last?.sent.length);
  const ws = FakeWebSocket.last;
  ws.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t2" });
  const lobby = await lp;
  const gp = lobby.play(match);
  await until(() => signals(ws).length >= 1);
  ws.reply({ type: "signal", room: "r-1", signal: { type: "refused", code: 2, error: "netcode: limit exceeded: more than 32 candidates" } });
  await assert.rejects(gp, (err: any) => err.code === "refused" && /protocol error: netcode: limit exceeded/.test(err.message));
});

test("a state is applied, acknowledged at once on the snapshots channel, and reported; a malformed one closes with code 2", async () => {
  const { game, pc } = await play();
  const u = pc.channel("snapshots");
  assert.equal(game.world.clock.serverTime(performance.now()), undefined, "no ping yet");
  const before = performance.now();
  u.deliver(encode({ kind: Kind.ping, id: 1, time: 5_000_000_000 }));
  const after = performance.now();
  // Taken by the clock: the server's clock (ms) was 5000 when the ping
  // arrived, between before and after, and no RTT is measured yet.
  const server = game.world.clock.serverTime(after)!;
  assert.ok(server >= 5000 && server <= 5000 + (after - before), `the server's clock at the ping's arrival is 5000 ms, not ${server - (after - before)}..${server}`);

  const changes: unknown[] = [];
  game.world.onState((c) => changes.push(c));
  const json = new TextEncoder().encode(JSON.stringify({ name: "dot", fields: [{ name: "hp", kind: "int", min: 0, max: 100, bits: 7 }] }));
  const w = new BitWriter().varbits(1).write(0, 8).varbits(json.length).bytes(json);
  w.varbits(1).varbits(3).write(1, 2).write(0, 8).write(42, 7); // create entity 3, hp 42
  const acks = (): unknown[] => u.sent.map((b) => decode(b)).filter((m) => m.kind === Kind.stateAck);
  u.deliver(encode({ kind: Kind.state, tick: 4, base: 0, time: 1000, payload: w.finish() }));
  assert.deepEqual(acks(), [{ kind: Kind.stateAck, tick: 4 }]);
  assert.deepEqual(changes, [{ tick: 4, created: [3], changed: [], removed: [] }]);
  assert.deepEqual({ ...game.world.get(3) }, { id: 3, type: "dot", fields: { hp: 42 } });
  assert.equal(JSON.stringify(game.world.get(3)), '{"id":3,"fields":{"hp":42},"type":"dot"}');
  u.deliver(encode({ kind: Kind.state, tick: 4, base: 0, time: 1000, payload: Uint8Array.of(0, 0) })); // a duplicate
  u.deliver(encode({ kind: Kind.state, tick: 6, base: 5, time: 1000, payload: Uint8Array.of(0, 0) })); // a base never seen
  assert.equal(acks().length, 1, "dropped states are not acknowledged");
  const s = game.stats();
  assert.deepEqual([s.statesReceived, s.statesStale, s.statesUnknownBase], [1, 1, 1]);

  const states: unknown[] = [];
  game.onState((...a) => states.push(a));
  u.deliver(encode({ kind: Kind.state, tick: 7, base: 4, time: 1000, payload: Uint8Array.of(0, 0b10000, 0) })); // update of entity 0, which the base lacks
  await until(() => states.length);
  const close = decode(pc.channel("events").sent.at(-1)!);
  assert.equal(close.kind, Kind.close);
  if (close.kind === Kind.close) {
    assert.equal(close.code, 2);
    assert.match(close.reason, /^state: /);
  }
  assert.equal((states[0] as any[])[2].code, "protocol error");
  assert.equal(game.world.tick, 4, "a malformed state changes nothing");
});

test("while the game sends inputs, a state's ack rides on the next one, or goes alone when none comes in time", async () => {
  const { game, pc } = await play();
  const u = pc.channel("snapshots");
  const sent = (): any[] => u.sent.map((b) => decode(b));
  const acksAlone = (): number[] => sent().filter((m) => m.kind === Kind.stateAck).map((m) => m.tick);
  const json = new TextEncoder().encode(JSON.stringify({ name: "dot", fields: [{ name: "hp", kind: "int", min: 0, max: 100, bits: 7 }] }));
  const w = new BitWriter().varbits(1).write(0, 8).varbits(json.length).bytes(json);
  w.varbits(1).varbits(3).write(1, 2).write(0, 8).write(42, 7);
  u.deliver(encode({ kind: Kind.state, tick: 4, base: 0, time: 1000, payload: w.finish() }));
  assert.deepEqual(acksAlone(), [4], "no inputs yet: alone at once");

  assert.equal(game.sendInput({ dx: 1 }), true);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(game.sendInput({ dx: 1 }), true);
  u.deliver(encode({ kind: Kind.state, tick: 5, base: 4, time: 1000, payload: Uint8Array.of(0, 0) }));
  assert.equal(game.world.tick, 5);
  assert.equal(game.sendInput({ dx: 2 }), true);
  assert.deepEqual(sent().at(-1), { kind: Kind.input, seq: 3, payload: mp({ dx: 2 }), stateAck: 5 });
  assert.deepEqual(acksAlone(), [4], "the input carried it");

  u.deliver(encode({ kind: Kind.state, tick: 6, base: 5, time: 1000, payload: Uint8Array.of(0, 0) }));
  assert.deepEqual(acksAlone(), [4], "held for an input");
  await until(() => acksAlone().length === 2);
  assert.deepEqual(acksAlone(), [4, 6], "no input came: alone");
  assert.equal(game.sendInput({ dx: 3 }), true);
  assert.deepEqual(sent().at(-1), { kind: Kind.input, seq: 4, payload: mp({ dx: 3 }) }, "nothing left to carry");
});

test("the server's states feed the world's playout: after a few, world.at plays the world out a little in the past", async () => {
  const { game, pc } = await play();
  try {
    await statesFeedThePlayout(game, pc);
  } finally {
    await game.close();
  }
});

async function statesFeedThePlayout(game: Game, pc: FakePeerConnection): Promise<void> {
  const u = pc.channel("snapshots");
  const json = new TextEncoder().encode(JSON.stringify({ name: "dot", fields: [{ name: "x", kind: "float", min: 0, max: 100, step: 1, bits: 7 }] }));
  const create = new BitWriter().varbits(1).write(0, 8).varbits(json.length).bytes(json);
  create.varbits(1).varbits(3).write(1, 2).write(0, 8).write(0, 7); // create entity 3 at x 0
  const ms = 1e6; // the server's clock is in nanoseconds
  u.deliver(encode({ kind: Kind.state, tick: 1, base: 0, time: 1000 * ms, payload: create.finish() }));
  assert.equal(game.world.playout.interval(), 0, "one state: no interval yet");
  assert.deepEqual(game.world.at(performance.now()), game.world.entities(), "before the playout knows the interval: the newest state");
  for (let k = 2; k <= 6; k++) {
    const move = new BitWriter().varbits(0).varbits(1).varbits(3).write(0, 2).bool(true).write(10 * k, 7); // entity 3 to x 10k
    u.deliver(encode({ kind: Kind.state, tick: k, base: k - 1, time: (1000 + 50 * (k - 1)) * ms, payload: move.finish() }));
  }
  assert.equal(game.world.tick, 6);
  assert.equal(game.world.playout.interval(), 50, "the states' interval, from their times");
  assert.ok(game.world.playout.targetDelay() >= 50);
  const [e] = game.world.at(performance.now());
  assert.ok(game.world.playout.delay() > 0, "rendered in the past");
  assert.ok(e && e.id === 3 && (e.fields.x as number) < 60, `entity 3 is shown behind the newest state's x 60: ${e?.fields.x}`);
}
