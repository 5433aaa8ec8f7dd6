// The lobby client against a stand-in WebSocket that plays the lobby
// (PROTOCOL.md, player half): hello and welcome, requests matched to
// replies by id, the lobby's error codes, notices, match reminders, and
// redialing with the last welcome's token.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { connect } from "../src/index.js";
import type { Lobby } from "../src/lobby.js";
import { lobbyTiming } from "../src/lobby.js";
import type { Notice } from "../src/types.js";
import { FakeWebSocket, tick, until } from "./fakes.js";

const WebSocket = FakeWebSocket as unknown as typeof globalThis.WebSocket;
lobbyTiming.redialFirst = 2;
lobbyTiming.redialMax = 4;

beforeEach(() => {
  FakeWebSocket.instances = [];
  FakeWebSocket.behavior = "open";
});

/** open connects, answering the hello with a welcome. */
async function open(token = "t1"): Promise<{ lobby: Lobby; ws: FakeWebSocket }> {
  const p = connect("http://lobby.test/base/", token, { WebSocket });
  await until(() => FakeWebSocket.last?.sent.length);
  const ws = FakeWebSocket.last;
  assert.equal(ws.url, "ws://lobby.test/base/v1/play");
  assert.equal(ws.protocol, "tickwire.lobby.v1");
  assert.deepEqual(ws.sent[0], { type: "hello", id: "hello", v: 1, token });
  ws.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", name: "Ada", token: "t2", expires: 1 });
  const lobby = await p;
  return { lobby, ws };
}

/** answer replies to the newest request of type with msg, by its id. */
async function answer(ws: FakeWebSocket, type: string, msg: object): Promise<any> {
  await until(() => ws.sent.some((m) => m.type === type && !m.answered));
  const req = ws.sent.find((m) => m.type === type && !m.answered);
  req.answered = true;
  ws.reply({ ...msg, id: req.id });
  return req;
}

test("hello, welcome, and the player's identity", async () => {
  const { lobby } = await open();
  assert.equal(lobby.player, "g-ada");
  assert.equal(lobby.name, "Ada");
  assert.equal(lobby.token, "t2");
});

test("a refused hello rejects with the lobby's code; an unreachable lobby with network", async () => {
  const p = connect("https://lobby.test", "forged", { WebSocket });
  await until(() => FakeWebSocket.last?.sent.length);
  assert.equal(FakeWebSocket.last.url, "wss://lobby.test/v1/play");
  FakeWebSocket.last.reply({ type: "error", id: "hello", code: "token_invalid", message: "bad token" });
  FakeWebSocket.last.drop(4001);
  await assert.rejects(p, { code: "token_invalid" });

  FakeWebSocket.behavior = 1006;
  await assert.rejects(connect("http://lobby.test", "t", { WebSocket }), { code: "network" });
  await assert.rejects(connect("ftp://lobby.test", "t", { WebSocket }), { code: "bad_argument" });
});

test("requests resolve with their replies by id, and reject with the lobby's codes", async () => {
  const { lobby, ws } = await open();
  const q = lobby.queue({ mode: "duo", rating: 1500 });
  const req = await answer(ws, "queue", { type: "queued", ticket: "t-1", mode: "duo" });
  assert.equal(req.mode, "duo");
  assert.equal(req.rating, 1500);
  assert.equal(await q, "t-1");

  const bad = lobby.joinRoom("ZZZZZZ");
  await answer(ws, "room.join", { type: "error", code: "room_not_found", message: "no such room" });
  await assert.rejects(bad, { code: "room_not_found" });

  const rooms = lobby.rooms("duo");
  await answer(ws, "rooms", { type: "rooms", rooms: [{ room: "r-1", code: "K7PX2M", mode: "duo", players: 1, max: 2 }] });
  assert.deepEqual(await rooms, [{ room: "r-1", code: "K7PX2M", mode: "duo", players: 1, max: 2 }]);

  const party = lobby.createParty();
  await answer(ws, "party.create", { type: "party", code: "Q4MZ9T", leader: "g-ada", members: [{ id: "g-ada", name: "Ada" }] });
  assert.deepEqual(await party, { code: "Q4MZ9T", leader: "g-ada", members: [{ id: "g-ada", name: "Ada" }] });

  const left = lobby.leave();
  await answer(ws, "leave", { type: "left", reason: "leave" });
  assert.equal(await left, undefined);
});

test("a match becomes the API's shape; the same seat again is a reminder notice", async () => {
  const { lobby, ws } = await open();
  const notices: Notice[] = [];
  lobby.onNotice((n) => notices.push(n));
  const m = { type: "match", room: "r-1", mode: "duo", server: "s-1", seat: "seat1", players: [{ id: "g-ada", name: "Ada" }, { id: "g-bob" }],
    ice_servers: [{ urls: ["turn:127.0.0.1:3478?transport=udp"], username: "u", credential: "c" }], expires: 1767225630000 };
  ws.reply(m);
  assert.deepEqual(await lobby.waitMatch(), {
    room: "r-1", mode: "duo", server: "s-1", seat: "seat1", players: [{ id: "g-ada", name: "Ada" }, { id: "g-bob" }],
    iceServers: [{ urls: ["turn:127.0.0.1:3478?transport=udp"], username: "u", credential: "c" }], expires: 1767225630000,
  });
  ws.reply(m);
  ws.reply({ type: "room", room: "r-1", players: [{ id: "g-ada", name: "Ada" }] });
  ws.reply({ type: "something_new", room: "r-1" }); // ignored
  await tick();
  assert.deepEqual(notices.map((n) => n.type), ["match", "room"]);
  assert.equal(notices[0]!.room, "r-1");
});

test("notices wait for the first onNotice, never delivered inside it", async () => {
  const { lobby, ws } = await open();
  ws.reply({ type: "left", room: "r-1", reason: "expired" });
  ws.reply({ type: "error", code: "not_in_room", message: "no seat" });
  const got: Notice[] = [];
  let inside = true;
  lobby.onNotice((n) => got.push(inside ? { type: "error", reason: "inside" } : n));
  inside = false;
  await tick();
  assert.deepEqual(got, [
    { type: "left", room: "r-1", reason: "expired" },
    { type: "error", error: { code: "not_in_room", message: "no seat" } },
  ]);
});

test("a dropped connection is redialed with the last welcome's token; the queue is left", async () => {
  const { lobby, ws } = await open();
  const notices: string[] = [];
  lobby.onNotice((n) => notices.push(n.type + (n.reason ? ":" + n.reason : "")));
  const q = lobby.queue({ mode: "duo" });
  await answer(ws, "queue", { type: "queued", ticket: "t-1", mode: "duo" });
  await q;
  const pending = lobby.rooms();
  ws.drop(1001);
  await assert.rejects(pending, { code: "network" });
  await until(() => FakeWebSocket.instances.length === 2 && FakeWebSocket.last.sent.length);
  const again = FakeWebSocket.last;
  assert.deepEqual(again.sent[0], { type: "hello", id: "hello", v: 1, token: "t2" });
  again.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t3" });
  await until(() => notices.length >= 3);
  assert.deepEqual(notices, ["disconnected:lobby: closed: lobby closed the connection (1001)", "reconnected", "left:disconnected"]);
  assert.equal(lobby.token, "t3");
  const r = lobby.rooms();
  await answer(again, "rooms", { type: "rooms", rooms: [] });
  assert.deepEqual(await r, []);
});

test("with other nodes, a dropped connection is redialed to the next node, round the list", async () => {
  FakeWebSocket.behavior = (url) => (url.startsWith("ws://b.test/") ? 1006 : "open");
  const p = connect("http://a.test", "t1", { WebSocket, lobbies: ["http://b.test", new URL("wss://c.test/x/")] });
  await until(() => FakeWebSocket.last?.sent.length);
  const first = FakeWebSocket.last;
  first.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t2" });
  const lobby = await p;
  const notices: string[] = [];
  lobby.onNotice((n) => notices.push(n.type));
  first.drop(1001);
  // b is down: the redial goes on to c.
  await until(() => FakeWebSocket.instances.length === 3 && FakeWebSocket.last.sent.length);
  const c = FakeWebSocket.last;
  assert.deepEqual(c.sent[0], { type: "hello", id: "hello", v: 1, token: "t2" });
  c.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t3" });
  await until(() => notices.includes("reconnected"));
  // c goes: the list wraps round to a.
  c.drop(1001);
  await until(() => FakeWebSocket.instances.length === 4 && FakeWebSocket.last.sent.length);
  FakeWebSocket.last.reply({ type: "welcome", id: "hello", v: 1, player: "g-ada", token: "t4" });
  await until(() => notices.filter((n) => n === "reconnected").length === 2);
  assert.deepEqual(
    FakeWebSocket.instances.map((ws) => ws.url),
    ["ws://a.test/v1/play", "ws://b.test/v1/play", "wss://c.test/x/v1/play", "ws://a.test/v1/play"],
  );
  assert.equal(lobby.token, "t4");
  await lobby.close();
});

test("a malformed lobbies entry rejects connect before it dials", async () => {
  await assert.rejects(connect("http://a.test", "t", { WebSocket, lobbies: ["ftp://b.test"] }), { code: "bad_argument" });
  await assert.rejects(connect("http://a.test", "t", { WebSocket, lobbies: ["b.test"] }), { code: "bad_argument" });
  assert.equal(FakeWebSocket.instances.length, 0);
});

test("replaced (4004) is final: closed, and requests reject with closed", async () => {
  const { lobby, ws } = await open();
  const notices: Notice[] = [];
  lobby.onNotice((n) => notices.push(n));
  const w = lobby.waitMatch();
  ws.drop(4004);
  await assert.rejects(w, { code: "closed" });
  await assert.rejects(lobby.rooms(), { code: "closed" });
  await tick();
  assert.equal(FakeWebSocket.instances.length, 1, "no redial");
  assert.deepEqual(notices.map((n) => n.type), ["closed"]);
  await lobby.close();
});

test("close resolves once the connection is down; a later onNotice hears only closed", async () => {
  const { lobby, ws } = await open();
  ws.reply({ type: "room", room: "r-1", players: [] });
  await lobby.close();
  assert.equal(ws.closedWith, 1000);
  const got: string[] = [];
  lobby.onNotice((n) => got.push(n.type));
  await tick();
  assert.deepEqual(got, ["closed"]);
  await assert.rejects(lobby.play({ room: "r", seat: "s" } as never), { code: "closed" });
});
