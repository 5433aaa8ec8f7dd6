// The player half of the lobby protocol (lobby/PROTOCOL.md) over the
// browser's WebSocket: hello and welcome, requests matched to their replies
// by id, notices, the signaling of each game, and redialing a dropped
// connection with the token of the last welcome.

import { codecNamed } from "./codec.js";
import { TickwireError, badArgument, fail, report } from "./errors.js";
import { Game } from "./game.js";
import { lobbyURL } from "./guest.js";
import type { Signal, Signaler, SignalTarget } from "./signal.js";
import type { ICEServer, Match, Notice, Party, Player, PlayOptions, QueueOptions, RoomInfo, RoomOptions } from "./types.js";

export const lobbyVersion = 1;
export const subprotocol = "tickwire.lobby.v1";

/** Timing and limits of the lobby client, as the Go lobby.Client has them. */
export const lobbyTiming = {
  dial: 30000, // connecting, hello included
  redialAttempts: 8,
  redialFirst: 250,
  redialMax: 4000,
  playTimeout: 30000,
};

const maxNotices = 64;
const maxMatches = 8;

/** A WebSocket constructor: the browser's, or a stand-in for tests. */
export type WebSocketLike = {
  new (url: string, protocols?: string | string[]): WebSocket;
};

/** LobbyOptions: a game whose lobby has one address needs none. */
export interface LobbyOptions {
  /** The WebSocket constructor (globalThis.WebSocket by default). */
  WebSocket?: WebSocketLike;
  /** How often a dropped connection is redialed (8; negative: never). */
  reconnectAttempts?: number;
  /**
   * The base URLs of other nodes of the same lobby (nodes sharing a Redis
   * store), for when they are not behind one address: a dropped connection
   * is redialed to the next of them, then the next, round the list with
   * the URL given to connect, as the Go client's ClientConfig.Lobbies. The
   * player finds its queue place, party and seat on any of them.
   */
  lobbies?: readonly (string | URL)[];
}

type Msg = { type: string; id?: string; [k: string]: unknown };
type Pending = { resolve: (m: Msg) => void; reject: (e: Error) => void };

// Close codes after which redialing is pointless: the lobby refused this
// client, or another connection of the player took over.
const final = new Set([1000, 1009, 4001, 4002, 4003, 4004, 4005]);

/**
 * handshake opens the WebSocket and says hello; it resolves with the open
 * socket and the welcome, or rejects with the lobby's code, "network"
 * when the lobby cannot be reached, or "timeout".
 */
function handshake(WS: WebSocketLike, url: string, token: string, timeoutMs: number): Promise<{ ws: WebSocket; welcome: Msg }> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WS(url, subprotocol);
    } catch (err) {
      reject(fail("bad_argument", `lobby: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      return;
    }
    let refusal: TickwireError | null = null;
    let settled = false;
    const done = (err: Error | null, welcome?: Msg): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (err) {
        try {
          ws.close();
        } catch {
          // not open yet
        }
        reject(err);
      } else resolve({ ws, welcome: welcome! });
    };
    const timer = setTimeout(() => done(fail("timeout", `tickwire: timed out: connecting to the lobby after ${timeoutMs} ms`)), timeoutMs);
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", id: "hello", v: lobbyVersion, token }));
    ws.onmessage = (ev: MessageEvent) => {
      let m: Msg;
      try {
        m = JSON.parse(String(ev.data)) as Msg;
      } catch {
        done(fail("protocol", "lobby: hello answered with something not JSON"));
        return;
      }
      if (m.type === "welcome") done(null, m);
      else if (m.type === "error") refusal = fail(String(m.code ?? "protocol"), `lobby: ${String(m.code)}: ${String(m.message ?? "")}`);
      else done(fail("protocol", `lobby: hello answered with ${JSON.stringify(m.type)}`));
    };
    ws.onclose = (ev: CloseEvent) => {
      if (refusal) done(refusal);
      else if (ev.code === 4005) done(fail("protocol", "lobby: closed the connection: version (4005)"));
      else done(fail("network", `lobby: cannot connect to ${url} (${ev.code})`));
    };
  });
}

/** connect connects to the lobby at base with a token the game obtained itself. */
export async function connectLobby(base: string | URL, token: unknown, opts?: LobbyOptions): Promise<Lobby> {
  const urls = [base, ...(opts?.lobbies ?? [])].map((b) => lobbyURL(b, "/v1/play", true));
  const WS = opts?.WebSocket ?? (globalThis.WebSocket as WebSocketLike | undefined);
  if (!WS) throw fail("bad_argument", "tickwire: no WebSocket here");
  const { ws, welcome } = await handshake(WS, urls[0]!, token == null ? "" : String(token), lobbyTiming.dial);
  return new Lobby(WS, urls, ws, welcome, opts?.reconnectAttempts ?? lobbyTiming.redialAttempts);
}

/** Lobby is a player's connection to a lobby. */
export class Lobby {
  /** The player's id. */
  readonly player: string;
  /** The player's display name. */
  readonly name: string;

  #WS: WebSocketLike;
  #urls: readonly string[]; // the lobby's nodes; the first is connect's
  #cur = 0; // the node dialed last
  #ws: WebSocket | null;
  #token: string;
  #attempts: number;
  #nextID = 0;
  #pending = new Map<string, Pending>();
  #matches: Match[] = [];
  #matchWaiters: Pending[] = [];
  #notices: Notice[] | null = []; // until the first onNotice
  #onNotice: ((n: Notice) => void) | null = null;
  #seat = ""; // the seat of the latest match, to tell reminders apart
  #queued = false;
  #games = new Map<string, RoomSignaler>();
  #err: TickwireError | null = null;
  #closed: Promise<void>;
  #resolveClosed!: () => void;

  /** @internal Use guest() or connect(). */
  constructor(WS: WebSocketLike, urls: readonly string[], ws: WebSocket, welcome: Msg, attempts: number) {
    this.#WS = WS;
    this.#urls = urls;
    this.#ws = ws;
    this.#attempts = attempts;
    this.player = String(welcome.player ?? "");
    this.name = typeof welcome.name === "string" ? welcome.name : "";
    this.#token = typeof welcome.token === "string" ? welcome.token : "";
    this.#closed = new Promise((r) => {
      this.#resolveClosed = r;
    });
    this.#attach(ws);
  }

  #attach(ws: WebSocket): void {
    ws.onmessage = (ev: MessageEvent) => {
      let m: Msg;
      try {
        m = JSON.parse(String(ev.data)) as Msg;
      } catch {
        return; // what this client cannot read it skips, as the Go client does
      }
      if (m && typeof m === "object" && typeof m.type === "string") this.#dispatch(m);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      void this.#dropped(ev.code);
    };
    ws.onerror = null;
  }

  // --- incoming -----------------------------------------------------------------

  #dispatch(m: Msg): void {
    if (m.id !== undefined) {
      const p = this.#pending.get(m.id);
      if (p) {
        this.#pending.delete(m.id);
        if (m.type === "error") p.reject(fail(String(m.code), `lobby: ${String(m.code)}: ${String(m.message ?? "")}`));
        else p.resolve(m);
        return;
      }
    }
    switch (m.type) {
      case "match": {
        const seat = String(m.seat ?? "");
        if (seat !== "" && seat === this.#seat) {
          this.#notice({ type: "match", room: String(m.room) });
          return;
        }
        this.#seat = seat;
        this.#queued = false;
        const match = toMatch(m);
        const w = this.#matchWaiters.shift();
        if (w) w.resolve(match as unknown as Msg);
        else if (this.#matches.length < maxMatches) this.#matches.push(match);
        return;
      }
      case "signal": {
        const g = this.#games.get(String(m.room));
        if (g && m.signal && typeof m.signal === "object") g.target.signal(m.signal as Signal);
        return;
      }
      case "queued":
        this.#queued = true;
        this.#notice({ type: "queued" });
        return;
      case "room":
        this.#notice({ type: "room", room: String(m.room), players: players(m.players) });
        return;
      case "party":
        this.#notice({ type: "party", party: toParty(m) });
        return;
      case "left": {
        if (!m.room) this.#queued = false;
        const n: Notice = { type: "left", reason: String(m.reason ?? "") };
        if (m.room) n.room = String(m.room);
        this.#notice(n);
        return;
      }
      case "error":
        this.#notice({ type: "error", error: { code: String(m.code), message: String(m.message ?? "") } });
        return;
    }
    // Anything else this client does not know: ignored (PROTOCOL.md, Versioning).
  }

  #notice(n: Notice): void {
    const q = this.#notices;
    if (q) {
      if (q.length < maxNotices) q.push(n);
      return;
    }
    queueMicrotask(() => {
      try {
        this.#onNotice?.(n);
      } catch (err) {
        report(err);
      }
    });
  }

  /**
   * Notices wait (up to 64) until the first onNotice; a later call replaces
   * the callback. Set after the connection ended, it hears only "closed".
   */
  onNotice(cb: (n: Notice) => void): void {
    this.#onNotice = cb;
    const q = this.#notices;
    if (!q) return;
    this.#notices = null;
    const waiting = this.#err ? [{ type: "closed", reason: "the lobby connection had ended" } as Notice] : q;
    for (const n of waiting) this.#notice(n);
  }

  // --- dropped connections ---------------------------------------------------------

  async #dropped(code: number): Promise<void> {
    if (this.#err) return;
    const why = fail("closed", `lobby: closed: lobby closed the connection (${code})`);
    if (final.has(code) || this.#attempts < 0) {
      this.#stop(why);
      return;
    }
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(fail("network", `lobby: connection lost before the answer: ${why.message}`));
    }
    this.#notice({ type: "disconnected", reason: why.message });
    this.#checkPaths("lobby connection dropped");
    let wait = lobbyTiming.redialFirst;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      await new Promise((r) => setTimeout(r, wait / 2 + Math.random() * wait));
      if (this.#err) return;
      // The next node first: the one it was on may be the one that went.
      this.#cur = (this.#cur + 1) % this.#urls.length;
      try {
        const { ws, welcome } = await handshake(this.#WS, this.#urls[this.#cur]!, this.#token, 10000);
        if (this.#err) {
          ws.close(1000);
          return;
        }
        this.#ws = ws;
        if (typeof welcome.token === "string") this.#token = welcome.token;
        this.#attach(ws);
        this.#notice({ type: "reconnected" });
        this.#checkPaths("lobby connection back");
        if (this.#queued) {
          // The lobby takes a player out of the queue when its connection drops.
          this.#queued = false;
          this.#notice({ type: "left", reason: "disconnected" });
        }
        return;
      } catch (err) {
        if (err instanceof TickwireError && err.code !== "network" && err.code !== "timeout") {
          this.#stop(err); // refused: redialing will not help
          return;
        }
      }
      wait = Math.min(wait * 2, lobbyTiming.redialMax);
    }
    this.#stop(why);
  }

  #checkPaths(reason: string): void {
    for (const g of this.#games.values()) g.target.checkPath(reason);
  }

  /** #stop ends the connection for good, with err. */
  #stop(err: TickwireError): void {
    if (this.#err) return;
    this.#err = err;
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onmessage = ws.onerror = null;
      ws.onclose = () => this.#resolveClosed();
      try {
        ws.close(1000);
      } catch {
        this.#resolveClosed();
      }
      if (ws.readyState === 3) this.#resolveClosed();
    } else this.#resolveClosed();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const w of this.#matchWaiters.splice(0)) w.reject(err);
    for (const g of [...this.#games.values()]) g.end();
    this.#notice({ type: "closed", reason: err.message });
  }

  // --- requests ---------------------------------------------------------------------

  #send(m: Msg): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(m));
    return true;
  }

  #request(m: Msg, want: string): Promise<Msg> {
    if (this.#err) return Promise.reject(this.#err);
    const id = String(++this.#nextID);
    return new Promise<Msg>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (!this.#send({ ...m, id })) {
        this.#pending.delete(id);
        reject(fail("network", `lobby: write ${m.type}: the connection is down, redialing`));
      }
    }).then((r) => {
      if (r.type !== want) throw fail("protocol", `lobby: ${m.type} answered with ${JSON.stringify(r.type)}`);
      return r;
    });
  }

  /** Resolves with the ticket id once queued; waitMatch then gives the match. */
  async queue(opts: QueueOptions): Promise<string> {
    const o = (opts ?? {}) as Partial<QueueOptions>;
    const r = await this.#request({ type: "queue", mode: o.mode, region: o.region || undefined, rating: o.rating || undefined }, "queued");
    this.#queued = true;
    return String(r.ticket);
  }

  /** The next match matchmaking made for the player. */
  waitMatch(): Promise<Match> {
    const m = this.#matches.shift();
    if (m) return Promise.resolve(m);
    if (this.#err) return Promise.reject(this.#err);
    return new Promise<Msg>((resolve, reject) => this.#matchWaiters.push({ resolve, reject })) as unknown as Promise<Match>;
  }

  async #matchRequest(m: Msg): Promise<Match> {
    const r = await this.#request(m, "match");
    this.#seat = String(r.seat ?? "");
    return toMatch(r);
  }

  createRoom(opts: RoomOptions): Promise<Match> {
    const o = (opts ?? {}) as Partial<RoomOptions>;
    return this.#matchRequest({ type: "room.create", mode: o.mode, region: o.region || undefined, name: o.name || undefined, public: o.public || undefined, max: o.max || undefined });
  }

  joinRoom(code: string): Promise<Match> {
    return this.#matchRequest({ type: "room.join", code: code == null ? "" : String(code) });
  }

  async rooms(mode?: string): Promise<RoomInfo[]> {
    const r = await this.#request({ type: "rooms", mode: mode == null ? undefined : String(mode) }, "rooms");
    return Array.isArray(r.rooms) ? (r.rooms as RoomInfo[]) : [];
  }

  async createParty(): Promise<Party> {
    return toParty(await this.#request({ type: "party.create" }, "party"));
  }

  async joinParty(code: string): Promise<Party> {
    return toParty(await this.#request({ type: "party.join", code: code == null ? "" : String(code) }, "party"));
  }

  async leave(): Promise<void> {
    await this.#request({ type: "leave" }, "left");
  }

  /**
   * Opens both channels to the match's game server, the lobby carrying the
   * signaling. The game outlives the lobby: closing the lobby leaves it up
   * (but a connection that fails then cannot be resumed).
   */
  async play(match: Match, opts?: PlayOptions): Promise<Game> {
    if (this.#err) throw this.#err;
    const o = opts ?? {};
    const codec = codecNamed(o.codec);
    if (!match || typeof match !== "object" || !match.room || !match.seat) throw badArgument("match: room and seat are required");
    const ice = iceServers(match.iceServers);
    const timeout = typeof o.timeout === "number" && o.timeout > 0 ? o.timeout : lobbyTiming.playTimeout;
    const game = new Game(codec, ice, !!o.relayOnly);
    const sig = new RoomSignaler(this, String(match.room), String(match.seat), game);
    this.#games.get(sig.room)?.end();
    this.#games.set(sig.room, sig);
    await game.open(sig, timeout);
    return game;
  }

  /** @internal */
  sendSignal(sig: RoomSignaler, s: Signal): boolean {
    if (this.#err || this.#games.get(sig.room) !== sig) return false;
    return this.#send({ type: "signal", room: sig.room, seat: sig.seat, signal: s as unknown as Msg });
  }

  /** @internal */
  forget(sig: RoomSignaler): void {
    if (this.#games.get(sig.room) === sig) this.#games.delete(sig.room);
  }

  /** @internal */
  get ended(): boolean {
    return this.#err !== null;
  }

  /** The fresh single-use token of the last welcome: the way back in as the same player. */
  get token(): string {
    return this.#token;
  }

  /** Leaves the lobby; resolves once the connection is down. Games stay up. */
  close(): Promise<void> {
    this.#stop(fail("closed", "lobby: closed"));
    return this.#closed;
  }
}

/** RoomSignaler carries one game's signaling over the lobby connection. */
class RoomSignaler implements Signaler {
  #closed = false;

  constructor(
    readonly lobby: Lobby,
    readonly room: string,
    readonly seat: string,
    readonly target: SignalTarget,
  ) {}

  send(s: Signal): boolean {
    return !this.#closed && this.lobby.sendSignal(this, s);
  }

  get ended(): boolean {
    return this.#closed || this.lobby.ended;
  }

  close(): void {
    this.#closed = true;
    this.lobby.forget(this);
  }

  /** end: the lobby connection is gone for good. */
  end(): void {
    this.close();
    this.target.signalingEnded();
  }
}

function players(v: unknown): Player[] {
  if (!Array.isArray(v)) return [];
  return v.map((p: { id?: unknown; name?: unknown }) => (typeof p?.name === "string" && p.name !== "" ? { id: String(p.id), name: p.name } : { id: String(p?.id) }));
}

function toParty(m: Msg): Party {
  return { code: String(m.code ?? ""), leader: String(m.leader ?? ""), members: players(m.members) };
}

/** toMatch is the lobby's match message in the API's shape (expires in ms, iceServers). */
function toMatch(m: Msg): Match {
  const out: Match = {
    room: String(m.room ?? ""),
    mode: String(m.mode ?? ""),
    server: String(m.server ?? ""),
    seat: String(m.seat ?? ""),
    players: players(m.players),
    iceServers: iceServers(m.ice_servers),
    expires: typeof m.expires === "number" ? m.expires : 0,
  };
  if (m.code) out.code = String(m.code);
  if (m.region) out.region = String(m.region);
  return out;
}

function iceServers(v: unknown): ICEServer[] {
  if (!Array.isArray(v)) return [];
  return v.map((s: { urls?: unknown; username?: unknown; credential?: unknown }) => {
    const out: ICEServer = { urls: Array.isArray(s?.urls) ? s.urls.map(String) : typeof s?.urls === "string" ? [s.urls] : [] };
    if (typeof s?.username === "string" && s.username !== "") out.username = s.username;
    if (typeof s?.credential === "string" && s.credential !== "") out.credential = s.credential;
    return out;
  });
}
