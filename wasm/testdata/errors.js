// The codes of the errors the JS API rejects or throws with
// (TestBrowserErrorCodes): each case records the code it got, "" for an
// Error without one, or "no error"; window.__result.codes maps case to
// code. Then a game with codec "raw" (window.__result.raw). With client=ts
// it runs @tickwire/client (ts/tickwire.js), else the wasm client.
const { load } = await import(new URLSearchParams(location.search).get("client") === "ts" ? "./ts/tickwire.js" : "./tickwire.js");

const codes = {};
async function rejects(name, f) {
  try {
    await f();
    codes[name] = "no error";
  } catch (e) {
    codes[name] = e && typeof e.code === "string" ? e.code : "";
  }
}

try {
  const tw = await load();
  // ?closed= is a loopback port nothing listens on: the WebSocket fails to open.
  const closed = new URLSearchParams(location.search).get("closed");
  await rejects("connect to no lobby", () => tw.connect(`http://127.0.0.1:${closed}`, "t"));
  await rejects("connect with a forged token", () => tw.connect(location.origin, "forged"));
  await rejects("connect without a token", () => tw.connect(location.origin));
  await rejects("connect to a relative URL", () => tw.connect("lobby.test", "t"));
  await rejects("connect with a malformed lobbies entry", () => tw.connect(location.origin, "t", { lobbies: ["ftp://lobby.test"] }));

  // The lobby's other nodes: here the same one again, to show the option is taken.
  const lobby = await tw.guest(location.origin, "errors", { lobbies: [location.origin] });
  await rejects("queue for an unknown mode", () => lobby.queue({ mode: "nope" }));
  await rejects("queue without options", () => lobby.queue());
  await rejects("join an unknown room", () => lobby.joinRoom("ZZZZZZ"));

  const match = await lobby.createRoom({ mode: "solo" });
  await rejects("create a second room", () => lobby.createRoom({ mode: "solo" }));
  await rejects("play with an unknown codec", () => lobby.play(match, { codec: "json" }));
  await rejects("play with a TURN server without credentials", () => lobby.play({ ...match, iceServers: [{ urls: ["turn:127.0.0.1:3478"] }] }));
  // The lobby refuses the offer with an error notice (not_in_room), which
  // names no request: the play runs to its timeout.
  await rejects("play a forged match", () => lobby.play({ ...match, room: "r-forged" }, { timeout: 1000 }));

  const game = await lobby.play(match);
  game.onEvent(() => {});
  const states = [];
  game.onState((state, reason, info) => states.push({ state, reason, info }));
  await rejects("send a function", () => game.sendInput(() => 1));
  await rejects("send a symbol", () => game.sendEvent({ s: Symbol("x") }));
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  await rejects("send a cyclic object", () => game.sendEvent(cyclic));
  await rejects("send an input over 1200 bytes", () => game.sendInput(new Uint8Array(2000)));
  await rejects("send an event over 16 KiB", () => game.sendEvent(new Uint8Array(17 << 10)));
  await game.close();
  await rejects("send an event after close", () => game.sendEvent({ a: 1 }));
  await rejects("send an input after close", () => game.sendInput({ a: 1 }));
  await rejects("channels after close", () => game.channels());

  // Callbacks are never called inside the call that sets them, even with
  // events waiting; and events that arrived before onEvent was set, on a
  // game the server then closed, still reach the onEvent set after the
  // close (the server closes after echoing "bye").
  await lobby.leave();
  const byeGame = await lobby.play(await lobby.createRoom({ mode: "solo" }));
  const order = [];
  byeGame.sendEvent({ kind: "early" });
  await new Promise((r) => setTimeout(r, 300)); // the echo waits for onEvent
  let inside = true;
  byeGame.onEvent((e) => order.push(inside ? "event inside onEvent()" : `event ${e.echo.kind}`));
  inside = false;
  order.push("onEvent returned");
  await new Promise((r) => setTimeout(r, 100));
  const byeOrder = [...order];
  await lobby.leave();
  const byeGame2 = await lobby.play(await lobby.createRoom({ mode: "solo" }));
  const late = [];
  const closedOnce = new Promise((r) => byeGame2.onState((s) => { if (s === "closed") r(); }));
  byeGame2.sendEvent({ kind: "bye" });
  await closedOnce;
  byeGame2.onEvent((e) => late.push(e.echo.kind));
  await new Promise((r) => setTimeout(r, 100));
  await byeGame.close();
  const delivery = { order: byeOrder, lateEvents: late };

  // codec "raw": Uint8Array both ways, the bytes untouched. The test's
  // game server speaks msgpack: the page sends {kind: "raw", n: 7} encoded
  // by hand and reads the echo's bytes.
  await lobby.leave();
  const rawMatch = await lobby.createRoom({ mode: "solo" });
  const rawGame = await lobby.play(rawMatch, { codec: "raw" });
  const raw = { snapshot: null, echo: null, after: 0 };
  rawGame.onSnapshot((s) => { raw.snapshot ??= s; if (raw.echo) raw.after++; });
  rawGame.onEvent((e) => { raw.echo ??= e; });
  await rejects("send an object with codec raw", () => rawGame.sendEvent({ kind: "raw" }));
  const sent = new Uint8Array([0x82, 0xa4, ...new TextEncoder().encode("kind"), 0xa3, ...new TextEncoder().encode("raw"), 0xa1, 0x6e, 0x07]);
  rawGame.sendEvent(sent);
  rawGame.sendInput(sent);
  // Three snapshots after the echo: the server's tick, which sends them,
  // has read the input by then.
  for (let i = 0; i < 200 && raw.after < 3; i++) await new Promise((r) => setTimeout(r, 25));
  const rawResult = {
    player: lobby.player,
    snapshotBytes: raw.snapshot instanceof Uint8Array ? raw.snapshot.length : -1,
    echo: raw.echo instanceof Uint8Array ? Array.from(raw.echo) : String(raw.echo),
  };
  await rawGame.close();

  await lobby.close();
  const noticesAfterClose = [];
  lobby.onNotice((n) => noticesAfterClose.push(n.type));
  await new Promise((r) => setTimeout(r, 50));
  await rejects("rooms after close", () => lobby.rooms());
  await rejects("play after close", () => lobby.play(match));

  window.__result = { codes, raw: rawResult, delivery, noticesAfterClose, states: states.map((s) => s.state), closeInfo: states.length ? states[states.length - 1].info : null };
} catch (e) {
  window.__error = `${e.code || ""} ${e.stack || e.message || e}`;
}
