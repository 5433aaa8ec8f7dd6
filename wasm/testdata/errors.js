// The codes of the errors the JS API rejects or throws with
// (TestBrowserErrorCodes): each case records the code it got, "" for an
// Error without one, or "no error". window.__result maps case to code.
import { load } from "./tickwire.js";

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

  const lobby = await tw.guest(location.origin, "errors");
  await rejects("queue for an unknown mode", () => lobby.queue({ mode: "nope" }));
  await rejects("queue without options", () => lobby.queue());
  await rejects("join an unknown room", () => lobby.joinRoom("ZZZZZZ"));

  const match = await lobby.createRoom({ mode: "solo" });
  await rejects("create a second room", () => lobby.createRoom({ mode: "solo" }));
  await rejects("play with an unknown codec", () => lobby.play(match, { codec: "json" }));
  // The lobby refuses the offer with an error notice (not_in_room), which
  // names no request: the play runs to its timeout.
  await rejects("play a forged match", () => lobby.play({ ...match, room: "r-forged" }, { timeout: 1000 }));

  const game = await lobby.play(match);
  game.onEvent(() => {});
  const states = [];
  game.onState((state, reason, info) => states.push({ state, reason, info }));
  await rejects("send a function", () => game.sendInput(() => 1));
  await rejects("send a symbol", () => game.sendEvent({ s: Symbol("x") }));
  await rejects("send an input over 1200 bytes", () => game.sendInput(new Uint8Array(2000)));
  await rejects("send an event over 16 KiB", () => game.sendEvent(new Uint8Array(17 << 10)));
  await game.close();
  await rejects("send an event after close", () => game.sendEvent({ a: 1 }));
  await rejects("send an input after close", () => game.sendInput({ a: 1 }));
  await rejects("channels after close", () => game.channels());

  await lobby.close();
  await rejects("rooms after close", () => lobby.rooms());
  await rejects("play after close", () => lobby.play(match));

  window.__result = { codes, states: states.map((s) => s.state), closeInfo: states.length ? states[states.length - 1].info : null };
} catch (e) {
  window.__error = `${e.code || ""} ${e.stack || e.message || e}`;
}
