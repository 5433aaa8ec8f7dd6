// Tickwire's browser loader: loads the Go client compiled to WebAssembly
// (tickwire.wasm, built from wasm/main.go by `make wasm`) with Go's
// wasm_exec.js, and wraps the handle-based API the Go program puts on
// globalThis.__tickwire into the one tickwire.d.ts declares.
//
//   import { load } from "./tickwire.js";
//   const tw = await load();
//
// tickwire.js, tickwire.wasm and wasm_exec.js are served side by side.

const LOADING = Symbol.for("tickwire.loading"); // one instance per page, however many copies of this module
const READY_TIMEOUT_MS = 60000;

/**
 * Loads tickwire.wasm (and Go's wasm_exec.js, next to this module) once:
 * later calls return the same instance.
 * @param {string | URL} [wasmURL]
 * @returns {Promise<Tickwire>}
 */
export function load(wasmURL = new URL("tickwire.wasm", import.meta.url)) {
  if (!globalThis[LOADING]) {
    globalThis[LOADING] = start(new URL(String(wasmURL), globalThis.document?.baseURI ?? import.meta.url)).catch((err) => {
      delete globalThis[LOADING]; // let a later call try again
      throw err;
    });
  }
  return globalThis[LOADING];
}

async function start(wasmURL) {
  if (globalThis.__tickwire) return new Tickwire(globalThis.__tickwire);
  await loadWasmExec(new URL("wasm_exec.js", import.meta.url));

  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.__tickwireReady = resolve; });

  const resp = await fetch(wasmURL);
  if (!resp.ok) throw new Error(`tickwire: fetching ${wasmURL}: ${resp.status} ${resp.statusText}`);
  let instance;
  const type = resp.headers.get("Content-Type") || "";
  if (typeof WebAssembly.instantiateStreaming === "function" && type.split(";")[0].trim() === "application/wasm") {
    ({ instance } = await WebAssembly.instantiateStreaming(resp, go.importObject));
  } else {
    // Streaming compilation needs the application/wasm type.
    ({ instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), go.importObject));
  }

  const exited = go.run(instance).then(() => { throw new Error("tickwire: the Go program exited"); });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tickwire: not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  });
  try {
    return new Tickwire(await Promise.race([ready, exited, timeout]));
  } finally {
    clearTimeout(timer);
    delete globalThis.__tickwireReady;
  }
}

// loadWasmExec runs Go's wasm_exec.js, a classic script that defines
// globalThis.Go: as a module (it runs unchanged in strict mode, and works in
// workers too), or with a script tag should a browser refuse that.
async function loadWasmExec(url) {
  if (typeof globalThis.Go === "function") return;
  try {
    await import(url.href);
  } catch (err) {
    if (typeof globalThis.document === "undefined") throw err;
    await new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = url.href;
      s.onload = resolve;
      s.onerror = () => reject(new Error(`tickwire: cannot load ${url}`));
      document.head.appendChild(s);
    });
  }
  if (typeof globalThis.Go !== "function") throw new Error(`tickwire: ${url} did not define Go`);
}

// --- errors -------------------------------------------------------------------

function codeError(code, message, props) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, props);
}

// check throws what a synchronous raw call returned as an Error.
function check(r) {
  if (r instanceof Error) throw r;
  return r;
}

// parse reads the JSON text a raw call resolves with; undefined stays so.
const parse = (text) => (typeof text === "string" ? JSON.parse(text) : text);

// deliver calls the callback that get returns, if any, in a microtask:
// never inside the API call that led to it (Go runs its goroutines, which
// deliver, before a call into it returns: onEvent() would call the callback
// before returning), in the order of arrival, and with the callback set at
// that moment. What it throws is reported, as an uncaught error would be,
// and delivery goes on.
function deliver(get, ...args) {
  queueMicrotask(() => {
    const cb = get();
    if (!cb) return;
    try {
      cb(...args);
    } catch (err) {
      if (typeof globalThis.reportError === "function") globalThis.reportError(err);
      else setTimeout(() => { throw err; });
    }
  });
}

const internal = Symbol("tickwire.internal");

// --- Tickwire -------------------------------------------------------------------

class Tickwire {
  #raw;

  constructor(raw) {
    this.#raw = raw;
    this.version = Object.freeze({ lobby: raw.version.lobby, wire: raw.version.wire });
    Object.freeze(this);
  }

  /** Asks the lobby for a guest token (POST /v1/guest) and connects with it. */
  async guest(lobbyURL, name = "", opts = undefined) {
    const token = await guestToken(lobbyURL, name);
    return this.connect(lobbyURL, token, opts);
  }

  /** Connects to the lobby with a token the game obtained itself. */
  async connect(lobbyURL, token, opts = undefined) {
    // The URLs are checked here, as the TS client checks them, so that a
    // malformed one is a bad_argument rather than a network error.
    const url = lobbyHTTP(lobbyURL, "");
    const lobbies = Array.from(opts?.lobbies ?? [], (u) => lobbyHTTP(u, ""));
    const info = parse(await this.#raw.connect(url, token, JSON.stringify({ lobbies })));
    return new Lobby(internal, this.#raw, info);
  }
}

// lobbyHTTP is the lobby's HTTP URL for path, from its base URL in any of
// the schemes the Go client accepts (http, https, ws, wss).
function lobbyHTTP(base, path) {
  let u;
  try {
    u = new URL(String(base));
  } catch {
    throw codeError("bad_argument", `lobby: URL ${JSON.stringify(String(base))} is not absolute`);
  }
  const scheme = { "http:": "http:", "ws:": "http:", "https:": "https:", "wss:": "https:" }[u.protocol];
  if (!scheme) throw codeError("bad_argument", `lobby: URL ${JSON.stringify(String(base))}: scheme must be http, https, ws or wss`);
  u.protocol = scheme;
  u.pathname = u.pathname.replace(/\/+$/, "") + path;
  return u.href;
}

async function guestToken(lobbyURL, name) {
  const url = lobbyHTTP(lobbyURL, "/v1/guest");
  let resp;
  try {
    resp = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: String(name ?? "") }),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    throw codeError("network", `lobby: guest token: ${err.message}`, { cause: err });
  }
  const body = await resp.text();
  if (!resp.ok) {
    const code = { 403: "forbidden", 404: "guests_disabled", 429: "rate_limited" }[resp.status] || "http_error";
    throw codeError(code, `lobby: guest token: ${resp.status} ${resp.statusText}: ${body.trim()}`, { status: resp.status });
  }
  let token;
  try {
    token = JSON.parse(body).token;
  } catch { /* reported below */ }
  if (typeof token !== "string" || token === "") {
    throw codeError("protocol", `lobby: guest token answer ${JSON.stringify(body.slice(0, 100))}`);
  }
  return token;
}

// --- Lobby --------------------------------------------------------------------

class Lobby {
  #raw;
  #id;
  #onNotice = null;
  #noticing = false;

  constructor(key, raw, info) {
    if (key !== internal) throw new TypeError("tickwire: use Tickwire.guest or Tickwire.connect");
    this.#raw = raw;
    this.#id = info.id;
    this.player = info.player;
    this.name = info.name;
    Object.freeze(this);
  }

  #call(method, ...args) {
    return this.#raw[method](this.#id, ...args).then(parse);
  }

  queue(opts) { return this.#call("queue", JSON.stringify(opts ?? {})); }
  waitMatch() { return this.#call("waitMatch"); }
  createRoom(opts) { return this.#call("createRoom", JSON.stringify(opts ?? {})); }
  joinRoom(code) { return this.#call("joinRoom", code); }
  rooms(mode) { return this.#call("rooms", mode); }
  createParty() { return this.#call("createParty"); }
  joinParty(code) { return this.#call("joinParty", code); }
  leave() { return this.#call("leave"); }

  onNotice(cb) {
    this.#onNotice = cb;
    if (this.#noticing) return;
    const r = this.#raw.notices(this.#id, (text) => deliver(() => this.#onNotice, JSON.parse(text)));
    if (r instanceof Error && r.code !== "closed") throw r;
    this.#noticing = true;
    // The connection ended before the first onNotice: what it said is
    // gone with it, but not the news of the end, which comes last.
    if (r instanceof Error) deliver(() => this.#onNotice, { type: "closed", reason: "the lobby connection had ended" });
  }

  /** Opens both channels to the match's game server. */
  async play(match, opts) {
    const o = opts ?? {};
    const game = new Game(internal, this.#raw, o.codec === "raw");
    await game[internal](this.#raw.play(this.#id, JSON.stringify(match), JSON.stringify(o), game[internal].sink));
    return game;
  }

  close() { return this.#raw.closeLobby(this.#id); }
}

// --- World --------------------------------------------------------------------

// Entities cross as JSON; bytes fields as base64, which the Go side names.
function toEntity(e) {
  if (e && e.bytes) {
    for (const name of e.bytes) {
      const bin = atob(e.fields[name] ?? "");
      const b = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
      e.fields[name] = b;
    }
    delete e.bytes;
  }
  return e;
}

class World {
  #call;
  #listen;
  #onState = null;

  constructor(key, call, listen) {
    if (key !== internal) throw new TypeError("tickwire: use game.world");
    this.#call = call;
    this.#listen = listen;
    // The playout runs in Go: its figures are read, not set.
    const figure = (name) => () => this.#call("playout")?.[name] ?? 0;
    this.playout = Object.freeze({ delay: figure("delay"), targetDelay: figure("targetDelay"), jitter: figure("jitter"), interval: figure("interval") });
    Object.defineProperty(this, internal, { value: { deliver: (text) => deliver(() => this.#onState, JSON.parse(text)) } });
    Object.freeze(this);
  }

  get tick() { return this.#call("playout")?.tick ?? 0; }
  entities() { return (this.#call("entities") ?? []).map(toEntity); }
  get(id) { return toEntity(this.#call("get", id) ?? undefined); }
  at(localMs) { return (this.#call("at", localMs) ?? []).map(toEntity); }
  onState(cb) { this.#onState = cb; this.#listen(); }
}

// --- Game ---------------------------------------------------------------------

class Game {
  #raw;
  #id = 0;
  #onSnapshot = null;
  #onEvent = null;
  #onState = null;
  #listening = { snapshot: false, event: false, world: false };
  #closed = null; // {reason, code, remote, stats} once closed
  #held = null; // events never listened for, once closed
  #pending = []; // listen calls made before the handle arrived

  constructor(key, raw) {
    if (key !== internal) throw new TypeError("tickwire: use Lobby.play");
    this.#raw = raw;
    // The sink is what the Go side calls; it dispatches to the game's
    // callbacks. open is how Lobby.play hands over the handle.
    const open = async (p) => {
      this.#id = await p;
      for (const kind of this.#pending) this.#listen(kind);
      this.#pending = [];
    };
    // The world's calls answer as if empty before the game opens and
    // after it closes (its handle is gone).
    const call = (op, arg) => {
      if (this.#id === 0 || this.#closed) return undefined;
      const r = this.#raw.world(this.#id, op, arg);
      if (r instanceof Error) {
        if (r.code === "closed") return undefined;
        throw r;
      }
      return JSON.parse(r);
    };
    this.world = new World(internal, call, () => this.#listen("world"));
    open.sink = {
      world: (text) => this.world[internal].deliver(text),
      snapshot: (state, seq) => deliver(() => this.#onSnapshot, state, { seq }),
      event: (ev) => deliver(() => this.#onEvent, ev),
      // Events that arrived but were never listened for, when the game
      // closes: kept for the first onEvent.
      held: (events) => { this.#held = events; },
      state: (state, text) => {
        const info = JSON.parse(text);
        if (state !== "closed") {
          deliver(() => this.#onState, state, info.reason);
          return;
        }
        this.#closed = info;
        deliver(() => this.#onState, state, info.reason, { code: info.code, remote: info.remote });
      },
    };
    Object.defineProperty(this, internal, { value: open });
    Object.freeze(this);
  }

  #listen(kind) {
    if (this.#listening[kind]) return;
    this.#listening[kind] = true;
    if (this.#id === 0) {
      this.#pending.push(kind);
      return;
    }
    const r = this.#raw.listen(this.#id, kind);
    // A game that closed meanwhile has nothing more to deliver.
    if (r instanceof Error && r.code !== "closed") throw r;
  }

  onSnapshot(cb) { this.#onSnapshot = cb; this.#listen("snapshot"); }
  onEvent(cb) {
    this.#onEvent = cb;
    const held = this.#held;
    this.#held = null;
    if (held) for (const ev of held) deliver(() => this.#onEvent, ev);
    this.#listen("event");
  }

  onState(cb) {
    this.#onState = cb;
    const c = this.#closed;
    // Registered after the end: still hear about it, but never synchronously.
    if (c) deliver(() => (this.#onState === cb ? cb : null), "closed", c.reason, { code: c.code, remote: c.remote });
  }

  sendInput(input) { return check(this.#raw.sendInput(this.#id, input)); }
  sendEvent(event) { check(this.#raw.sendEvent(this.#id, event)); }

  stats() {
    if (this.#closed) return { ...this.#closed.stats };
    return JSON.parse(check(this.#raw.stats(this.#id)));
  }

  channels() { return JSON.parse(check(this.#raw.channels(this.#id))); }

  close() { return this.#raw.closeGame(this.#id); }
}
