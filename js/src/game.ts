// A game session with its game server (netcode/WIRE.md): snapshots and
// inputs on the unreliable channel, events both ways reliably and exactly
// once, pings, and the recovery of a lost connection: ICE restarts on the
// same RTCPeerConnection, then a resume of the same session on a new one
// with a single-use token (WIRE.md, Reconnection). One timer drives acks,
// pings and the supervision; everything else runs in the channels' and the
// PeerConnection's event handlers.

import { AckHold } from "./acks.js";
import type { Codec } from "./codec.js";
import { TickwireError, badArgument, fail, report } from "./errors.js";
import { EventLog } from "./events.js";
import { Link, type LinkHandler } from "./link.js";
import { Loss, RTT } from "./rtt.js";
import type { Signal, Signaler } from "./signal.js";
import type { ChannelInfo, CloseInfo, GameState, ICEServer, Stats } from "./types.js";
import { World } from "./world.js";
import { CloseCode, Kind, WireError, closeName, decode, encode, maxEventSize, maxUnreliableMessage, maxUnreliableSize, truncate } from "./wire.js";

/** Timing and limits, as netcode's Config defaults have them. */
export const timing = {
  tick: 100, // acks and supervision (WIRE.md: acks every 100 ms)
  pingEvery: 5, // ticks: a ping every 500 ms
  silence: 2000, // nothing on the snapshot channel for this long: the path is lost
  restartInterval: 1000, // the first wait between ICE restart offers and resume attempts
  maxRestartInterval: 4000,
  restartTimeout: 4000, // ICE restarts this long without a path: resume
  resumeAttempt: 3000, // a resume attempt that has not opened by then is made again
  reconnectTimeout: 15000, // no connection for this long: the session ends
  closeFlush: 250, // a close's wait for the server to hang up; snapshots' end's for events' (link.ts)
};

const unreliableBuffer = 64 << 10; // Config.UnreliableBuffer
const eventQueue = 4096; // Config.EventQueue: unread events before "slow reader"
const maxDecodeWarnings = 10;

type Closed = { code: number; reason: string; remote: boolean; err: TickwireError };

const jitter = (d: number): number => d / 2 + Math.random() * d;
const now = (): number => performance.now();

/**
 * Callbacks (onSnapshot, onEvent, onState) run in order of arrival, never
 * inside the API call that sets them; what they throw is reported (window
 * "error") and delivery goes on.
 */
export class Game {
  /** The replicated world (REPLICATION.md), for a server that replicates one. */
  readonly world: World = new World();
  #codec: Codec;
  #sig!: Signaler;
  #config: RTCConfiguration;
  #link!: Link;
  #state: GameState | "connecting" = "connecting";
  #closed: Closed | null = null;
  #closedDone: Promise<void>;
  #resolveClosed!: () => void;

  // The session's reliable state, and its unreliable sequence numbers.
  #events = new EventLog();
  #inputSeq = 0;
  #snapshotHighest = 0;
  #ackSent = 0;
  // State acks held for the next input (acks.ts), and the timer that sends
  // one alone when no input comes.
  #stateAcks = new AckHold();
  #stateAckTimer: ReturnType<typeof setTimeout> | undefined;
  #pingID = 0;
  #epoch = now();
  #token = ""; // the resume token from the server's last answer

  // Delivery to the game.
  #onSnapshot: ((state: any, info: { seq: number }) => void) | null = null;
  #onEvent: ((event: any) => void) | null = null;
  #onState: ((state: GameState, reason: string, info?: CloseInfo) => void) | null = null;
  #heldSnapshot: { state: unknown; seq: number } | null = null;
  #heldEvents: unknown[] | null = []; // until the first onEvent; null after
  #warnings = 0;

  // Supervision (netcode/recovery.go; WIRE.md, "Reconnection").
  #timer: ReturnType<typeof setInterval> | undefined;
  #ticks = 0;
  #lastRecv = now();
  // The last snapshot, input or event, sent or received: a session without
  // one for timing.silence is quiet (WIRE.md, "Quiet sessions").
  #activity = now();
  #pingSoon = false;
  #lostAt = 0;
  #lostWhy = "";
  #resuming = false;
  #attempting = false;
  #attemptAt = 0;
  #nextTry = 0;
  #backoff = timing.restartInterval;
  #probeAt = 0;
  #sigChain: Promise<void> = Promise.resolve();
  #opened: ((err?: Error) => void) | null = null;

  #c = {
    snapshotsReceived: 0,
    snapshotsLost: 0,
    snapshotsStale: 0,
    inputsSent: 0,
    congested: 0,
    eventsSent: 0,
    eventsReceived: 0,
    eventsResent: 0,
    restarts: 0,
    resumes: 0,
    bytesIn: 0,
    bytesOut: 0,
    malformed: 0,
  };
  #rtt = new RTT();
  #loss = new Loss();
  #final: Stats | null = null;
  #closedPending = false; // "closed" is on its way to onState

  /** @internal Use Lobby.play. */
  constructor(codec: Codec, iceServers: ICEServer[], relayOnly: boolean) {
    this.#codec = codec;
    this.#config = { iceServers, iceTransportPolicy: relayOnly ? "relay" : "all" };
    this.#closedDone = new Promise((r) => {
      this.#resolveClosed = r;
    });
  }

  /**
   * @internal Opens both channels, the lobby carrying the signaling, or
   * rejects (and releases everything) after timeoutMs.
   */
  async open(sig: Signaler, timeoutMs: number): Promise<void> {
    this.#sig = sig;
    const opened = new Promise<void>((resolve, reject) => {
      this.#opened = (err) => (err ? reject(err) : resolve());
    });
    const timer = setTimeout(() => this.#abort(fail("timeout", `tickwire: timed out: opening the channels after ${timeoutMs} ms`)), timeoutMs);
    try {
      this.#link = this.#newLink(0);
    } catch (err) {
      // The browser refuses the configuration (a TURN server without credentials, say).
      clearTimeout(timer);
      this.#state = "closed";
      sig.close();
      throw fail("bad_argument", `tickwire: new RTCPeerConnection: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.#link.offer(false).catch((err: unknown) => this.#abort(fail("signaling", `tickwire: offer: ${String(err)}`, { cause: err })));
    try {
      await opened;
    } finally {
      clearTimeout(timer);
    }
  }

  /** #abort ends a play that has not opened, with err. */
  #abort(err: TickwireError): void {
    const done = this.#opened;
    if (!done || this.#state !== "connecting") return;
    this.#opened = null;
    this.#state = "closed";
    this.#link?.close();
    this.#sig?.close();
    done(err);
  }

  #newLink(gen: number): Link {
    return new Link(gen, this.#config, this.#handler, timing.closeFlush);
  }

  // --- the link's events --------------------------------------------------

  #handler: LinkHandler = {
    signalOut: (l, s) => {
      if (l === this.#link && !this.#closed) this.#sig.send(s);
    },
    opened: (l) => {
      if (l !== this.#link || this.#closed) return;
      if (this.#state === "connecting") {
        this.#adopt(l, false);
        this.#state = "connected";
        this.#timer = setInterval(() => this.#tick(), timing.tick);
        const done = this.#opened;
        this.#opened = null;
        done?.();
        return;
      }
      this.#adopt(l, true);
      this.#c.resumes++;
      this.#recovered("resumed on a new connection");
    },
    failed: (l, why) => {
      if (l !== this.#link || this.#closed) return;
      if (this.#state === "connecting") {
        this.#abort(fail("connection_lost", `tickwire: ${why} before the channels opened`));
        return;
      }
      l.broken = true;
      this.#supervise();
    },
    changed: (l) => {
      if (l === this.#link && this.#state !== "connecting") this.#supervise();
    },
    unreliable: (l, data) => this.#unreliable(l, data),
    reliable: (l, data) => this.#reliable(l, data),
  };

  /**
   * #adopt starts using l, whose channels are open: it first sends again
   * every event the server has not confirmed (it drops those it has), then
   * new ones go there too.
   */
  #adopt(l: Link, resumed: boolean): void {
    for (const b of this.#events.pending()) {
      if (!this.#write(l.r, b)) break;
      if (resumed) this.#c.eventsResent++;
    }
    l.open = true;
    if (resumed) this.#heldSnapshot = null; // stale: the next one is fresh
    this.#lastRecv = now();
  }

  #write(dc: RTCDataChannel, b: Uint8Array): boolean {
    try {
      dc.send(b as Uint8Array<ArrayBuffer>);
      this.#c.bytesOut += b.length;
      return true;
    } catch {
      return false; // the channel is going; its close event says so
    }
  }

  #unreliable(l: Link, data: ArrayBuffer): void {
    if (l !== this.#link || !l.open || this.#closed) return;
    this.#lastRecv = now();
    this.#c.bytesIn += data.byteLength;
    if (data.byteLength > maxUnreliableMessage) {
      this.#c.malformed++;
      this.#closeWith({ code: CloseCode.tooLarge, reason: "snapshots message over the size budget", remote: false }, true);
      return;
    }
    let m;
    try {
      m = decode(new Uint8Array(data));
    } catch (err) {
      this.#bad(err);
      return;
    }
    switch (m.kind) {
      case Kind.snapshot:
        this.#snapshot(m.seq, m.payload);
        return;
      case Kind.ping:
        this.#write(l.u, encode({ kind: Kind.pong, id: m.id, time: m.time }));
        // The server's clock, in nanoseconds (REPLICATION.md, Playout).
        this.world.ping(m.time / 1e6, this.#lastRecv, this.#rtt.srtt);
        return;
      case Kind.state: {
        this.#stir();
        let c;
        try {
          c = this.world.apply(m.tick, m.base, m.time, m.payload, this.#lastRecv);
        } catch (err) {
          this.#bad(err);
          return;
        }
        if (!c) return;
        // Acknowledged before the game hears of it: at once, or on the
        // next input (REPLICATION.md, "Acks").
        if (this.#stateAcks.state(m.tick, now())) this.#armStateAck();
        else this.#write(l.u, encode({ kind: Kind.stateAck, tick: m.tick }));
        this.world.deliver(c);
        return;
      }
      case Kind.pong: {
        const rtt = now() - this.#epoch - m.time / 1000;
        if (m.time <= 0 || rtt < 0 || rtt > 60000) {
          this.#c.malformed++;
          return;
        }
        this.#rtt.add(rtt);
        return;
      }
      case "unknown":
        this.#c.malformed++;
        return;
      default:
        this.#bad(new WireError(CloseCode.protocolError, `kind ${m.kind} not allowed on snapshots`));
    }
  }

  #snapshot(seq: number, payload: Uint8Array): void {
    this.#stir();
    if (seq <= this.#snapshotHighest) {
      this.#c.snapshotsStale++;
      return;
    }
    this.#c.snapshotsLost += seq - this.#snapshotHighest - 1;
    this.#snapshotHighest = seq;
    this.#c.snapshotsReceived++;
    const state = this.#payload(payload, `snapshot ${seq}`);
    if (state === undefined) return;
    const cb = this.#onSnapshot;
    if (!cb) {
      this.#heldSnapshot = { state: state.v, seq }; // newest wins
      return;
    }
    try {
      cb(state.v, { seq });
    } catch (err) {
      report(err);
    }
  }

  #reliable(l: Link, data: ArrayBuffer): void {
    if (l !== this.#link || !l.open || this.#closed) return;
    this.#c.bytesIn += data.byteLength;
    let m;
    try {
      m = decode(new Uint8Array(data));
      switch (m.kind) {
        case Kind.event: {
          this.#stir();
          this.#events.ack(m.ack);
          if (this.#events.receive(m.seq) === "duplicate") return;
          if (m.payload.length > maxEventSize) {
            this.#c.malformed++;
            this.#closeWith({ code: CloseCode.tooLarge, reason: `event of ${m.payload.length} bytes, limit ${maxEventSize}`, remote: false }, true);
            return;
          }
          this.#c.eventsReceived++;
          this.#event(m.payload);
          return;
        }
        case Kind.ack:
          this.#events.ack(m.ack);
          return;
        case Kind.close:
          this.#closeWith({ code: m.code, reason: m.reason, remote: true }, false);
          return;
        case "unknown":
          this.#c.malformed++;
          return;
        default:
          throw new WireError(CloseCode.protocolError, `kind ${m.kind} not allowed on events`);
      }
    } catch (err) {
      this.#bad(err);
    }
  }

  #event(payload: Uint8Array): void {
    const ev = this.#payload(payload, "event");
    if (ev === undefined) return;
    const held = this.#heldEvents;
    if (held) {
      if (held.length >= eventQueue) {
        this.#closeWith({ code: CloseCode.slowReader, reason: `${eventQueue} received events left unread`, remote: false }, true);
        return;
      }
      held.push(ev.v);
      return;
    }
    try {
      this.#onEvent?.(ev.v);
    } catch (err) {
      report(err);
    }
  }

  /** #payload decodes a payload; one that does not decode is dropped with a warning. */
  #payload(b: Uint8Array, what: string): { v: unknown } | undefined {
    try {
      return { v: this.#codec.decode(b) };
    } catch (err) {
      if (this.#warnings++ < maxDecodeWarnings) console.warn(`tickwire: ${what} dropped: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /** #bad closes the session for a message WIRE.md says to close for. */
  #bad(err: unknown): void {
    this.#c.malformed++;
    const code = err instanceof WireError ? err.closeCode : CloseCode.protocolError;
    this.#closeWith({ code, reason: err instanceof Error ? err.message : String(err), remote: false }, true);
  }

  // --- signaling ------------------------------------------------------------

  /** @internal A signal from the game server, through the lobby. Applied in order. */
  signal(s: Signal): void {
    this.#sigChain = this.#sigChain.then(() => this.#apply(s)).catch(() => {});
  }

  async #apply(s: Signal): Promise<void> {
    if (this.#closed || this.#state === "closed") return;
    const l = this.#link;
    if ((s.gen ?? 0) !== l.gen) return; // for a link already replaced
    switch (s.type) {
      case "answer":
        if (!l.remoteSet) {
          await l.setAnswer(s.sdp ?? "").catch((err: unknown) => {
            if (this.#state === "connecting") this.#abort(fail("signaling", `tickwire: answer: ${String(err)}`, { cause: err }));
            else l.broken = true;
            throw err;
          });
          l.remoteSet = true;
          if (s.resume) this.#token = s.resume;
        } else if (l.offering) {
          // The answer to an ICE restart.
          try {
            await l.setAnswer(s.sdp ?? "");
          } finally {
            l.offering = false;
          }
        } else return;
        for (const c of l.pending.splice(0)) await l.addCandidate(c).catch(() => {});
        return;
      case "candidate":
        if (!s.candidate) return; // end of candidates: no stack needs it
        if (l.remoteSet && !l.offering) await l.addCandidate(s.candidate).catch(() => {});
        else if (l.pending.length < 64) l.pending.push(s.candidate);
        return;
      case "refused": {
        const why = truncate(s.error ?? "", 256);
        if ((s.gen ?? 0) === 0) {
          // The server will not take this session at all (WIRE.md, "Refusal"); it
          // may come just after our channels opened, as they open before the server sees them.
          const code = s.code ?? CloseCode.protocolError;
          if (this.#state === "connecting") this.#abort(fail("refused", `netcode: closed by peer: ${closeName(code)}: ${why}`));
          else this.#closeWith({ code, reason: why, remote: true, errCode: "refused" }, false);
          return;
        }
        this.#closeWith({ code: CloseCode.connectionLost, reason: "resume refused: " + why, remote: false, errCode: "resume_rejected" }, false);
        return;
      }
      case "restart":
        if (this.#state === "connecting") return;
        if (!this.#lostAt) this.#lose("the server asked for an ICE restart");
        if (!this.#resuming) this.#nextTry = 0;
        this.#supervise();
        return;
    }
  }

  /** @internal The lobby connection dropped or came back: the network may have changed. */
  checkPath(_reason: string): void {
    if (this.#closed || this.#state === "connecting") return;
    // A quiet session does not ping: wake it, so that the probe is answered.
    if (this.#quiet()) this.#stir();
    if (!this.#lostAt) this.#probeAt = now();
    else if (!this.#resuming) {
      this.#resuming = true;
      this.#nextTry = 0;
      this.#backoff = timing.restartInterval;
    } else {
      this.#attempting = false;
      this.#nextTry = 0;
    }
    this.#supervise();
  }

  /** @internal The lobby connection is gone for good: nothing can be recovered any more. */
  signalingEnded(): void {
    if (this.#state === "connecting") this.#abort(fail("closed", "tickwire: the lobby connection closed before the channels opened"));
    else this.#supervise();
  }

  // --- supervision ------------------------------------------------------------

  #tick(): void {
    const l = this.#link;
    if (l.open && !l.closed) {
      const ping = ++this.#ticks % timing.pingEvery === 0 || this.#pingSoon;
      if (ping && !this.#quiet()) {
        this.#pingSoon = false;
        this.#pingID++;
        this.#write(l.u, encode({ kind: Kind.ping, id: this.#pingID, time: Math.max(1, Math.round((now() - this.#epoch) * 1000)) }));
        this.#loss.update(this.#c.snapshotsLost, this.#c.snapshotsReceived);
      }
      // Confirm received events even when traffic is one-way.
      const a = this.#events.received;
      if (a !== this.#ackSent && this.#write(l.r, encode({ kind: Kind.ack, ack: a }))) this.#ackSent = a;
    }
    this.#supervise();
    // Quiet, nothing to confirm and the path not in doubt: nothing to do
    // until the game or the path stirs, which wakes the timer again (#wake),
    // so an idle tab does not wake ten times a second.
    if (this.#quiet() && !this.#probeAt && this.#events.received === this.#ackSent && !this.#closed) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** #wake starts the supervision timer again after a quiet spell let it stop. */
  #wake(): void {
    if (this.#timer === undefined && !this.#closed && this.#state !== "connecting") this.#timer = setInterval(() => this.#tick(), timing.tick);
  }

  /**
   * #quiet: no game traffic for timing.silence and the path not lost. A
   * quiet session neither pings nor checks for silence, and leaves watching
   * the path to ICE, so that an idle player costs the server what a bare
   * PeerConnection does; it still answers the server's pings.
   */
  #quiet(): boolean {
    return !this.#lostAt && now() - this.#activity > timing.silence;
  }

  /** #stir records game traffic; a quiet session wakes, pings at the next tick and starts its silence clock afresh. */
  #stir(): void {
    if (this.#quiet()) {
      this.#lastRecv = now();
      this.#pingSoon = true;
    }
    this.#activity = now();
    this.#wake();
  }

  #lose(why: string): void {
    if (this.#lostAt) return;
    this.#lostAt = now();
    this.#lostWhy = why;
    this.#backoff = timing.restartInterval;
  }

  #setState(s: GameState, reason: string): void {
    if (this.#state === s || this.#state === "closed") return;
    this.#state = s;
    this.#deliverState(s, reason);
  }

  #recovered(reason: string): void {
    this.#lostAt = 0;
    this.#resuming = this.#attempting = false;
    this.#probeAt = 0;
    this.#setState("connected", reason);
  }

  /** #supervise decides about reconnection, as netcode's recovery does (netcode/recovery.go). */
  #supervise(): void {
    if (this.#closed || this.#state === "connecting" || this.#state === "closed") return;
    this.#wake(); // the path may need watching again
    const l = this.#link;
    const t = now();
    if (!l.open) {
      this.#lose("client resuming");
    } else {
      const ice = l.iceState;
      const since = t - this.#lastRecv;
      if (l.broken) {
        this.#lose("connection failed");
        if (!this.#resuming) {
          this.#resuming = true;
          this.#nextTry = 0;
          this.#backoff = timing.restartInterval;
        }
      } else if (ice === "disconnected" || ice === "failed") {
        this.#lose("ICE " + ice);
      } else if (since > timing.silence && !this.#quiet()) {
        this.#lose(`nothing received for ${Math.round(since)}ms`);
      } else if (this.#probeAt && this.#lastRecv <= this.#probeAt && t - this.#probeAt > this.#probeTimeout()) {
        this.#lose("no answer to a path check");
      } else if (this.#lostAt && (ice === "connected" || ice === "completed") && !l.offering && this.#lastRecv > this.#lostAt) {
        this.#recovered("path back");
        return;
      }
      if (this.#probeAt && this.#lastRecv > this.#probeAt) this.#probeAt = 0;
    }
    if (!this.#lostAt) return;

    if (t - this.#lostAt >= timing.reconnectTimeout) {
      this.#closeWith({ code: CloseCode.connectionLost, reason: `no connection for ${timing.reconnectTimeout / 1000}s (${this.#lostWhy})`, remote: false }, false);
      return;
    }
    if (this.#sig.ended) {
      this.#closeWith({ code: CloseCode.connectionLost, reason: this.#lostWhy + ", and the signaling to recover over is gone", remote: false }, false);
      return;
    }
    if (!this.#resuming && t - this.#lostAt >= timing.restartTimeout) {
      this.#resuming = true;
      this.#nextTry = 0;
      this.#backoff = timing.restartInterval;
    }
    if (!this.#resuming) {
      this.#setState("reconnecting", this.#lostWhy);
      if (t < this.#nextTry) return;
      this.#restartICE(l);
      this.#nextTry = t + jitter(this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, timing.maxRestartInterval);
      return;
    }
    this.#setState("resuming", this.#lostWhy);
    if (this.#attempting && (l.broken || t - this.#attemptAt >= timing.resumeAttempt)) {
      this.#attempting = false;
      this.#nextTry = t + jitter(this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, timing.maxRestartInterval);
    }
    if (this.#attempting || t < this.#nextTry) return;
    this.#resumeAttempt(l.gen + 1);
  }

  #probeTimeout(): number {
    return timing.tick * timing.pingEvery + Math.max(4 * this.#rtt.srtt, 200);
  }

  /** #restartICE offers new ICE credentials on the same PeerConnection; one offer at a time. */
  #restartICE(l: Link): void {
    if (l.offering) return;
    l.offering = true;
    this.#c.restarts++;
    l.offer(true).catch(() => {
      l.offering = false;
      l.releaseEarly();
      // A PeerConnection that cannot even make an offer will not recover: resume.
      if (l === this.#link && !l.closed) {
        l.broken = true;
        this.#supervise();
      }
    });
  }

  /** #resumeAttempt replaces the link with a new PeerConnection offered with the resume token. */
  #resumeAttempt(gen: number): void {
    if (!this.#token) {
      this.#closeWith({ code: CloseCode.connectionLost, reason: "cannot resume: the server gave no resume token", remote: false, errCode: "resume_rejected" }, false);
      return;
    }
    const old = this.#link;
    let l: Link;
    try {
      l = this.#newLink(gen);
    } catch (err) {
      this.#closeWith({ code: CloseCode.connectionLost, reason: "cannot resume: " + String(err), remote: false }, false);
      return;
    }
    this.#link = l;
    old.close();
    this.#attempting = true;
    this.#attemptAt = now();
    l.offer(false, this.#token).catch(() => {
      l.broken = true;
      l.releaseEarly();
    });
  }

  // --- closing ----------------------------------------------------------------

  #closeWith(c: { code: number; reason: string; remote: boolean; errCode?: string }, notify: boolean): void {
    if (this.#closed) return;
    const name = closeName(c.code);
    const message = `netcode: closed ${c.remote ? "by peer" : "locally"}: ${name}${c.reason ? ": " + c.reason : ""}`;
    const err = fail(c.errCode ?? "closed", message);
    this.#closed = { code: c.code, reason: c.reason, remote: c.remote, err };
    this.#final = this.stats();
    this.#state = "closed";
    clearInterval(this.#timer);
    clearTimeout(this.#stateAckTimer);
    const l = this.#link;
    const finish = (): void => {
      l.close();
      this.#sig.close();
      this.#deliverState("closed", name + (c.reason ? ": " + c.reason : ""), { code: name, remote: c.remote });
      queueMicrotask(() => this.#resolveClosed());
    };
    if (!(notify && !c.remote && c.code !== CloseCode.connectionLost && l.open && l.r.readyState === "open")) {
      finish();
      return;
    }
    this.#write(l.r, encode({ kind: Kind.close, code: c.code, reason: c.reason }));
    // WIRE.md "Close": wait, for at most closeFlush, until the server has
    // the message. A page cannot see SCTP's acknowledgement, but a server
    // that reads close hangs up, which closes this channel. Closing the
    // PeerConnection sooner aborts SCTP under a message that may still be
    // on its way, and the server then holds the session for a resume.
    const deadline = now() + timing.closeFlush;
    const wait = (): void => {
      if (l.r.readyState === "open" && now() < deadline) setTimeout(wait, 5);
      else finish();
    };
    wait();
  }

  #deliverState(s: GameState, reason: string, info?: CloseInfo): void {
    if (s === "closed") this.#closedPending = true;
    queueMicrotask(() => {
      if (s === "closed") this.#closedPending = false;
      const cb = this.#onState;
      if (!cb) return;
      try {
        if (info) cb(s, reason, info);
        else cb(s, reason);
      } catch (err) {
        report(err);
      }
    });
  }

  #throwIfClosed(): void {
    if (this.#closed) throw this.#closed.err;
  }

  // --- the API ----------------------------------------------------------------

  /**
   * Called with each snapshot newer than the last; older ones are dropped.
   * Delivery starts with the first call (with the newest snapshot, if one
   * came before); a later call replaces the callback.
   */
  onSnapshot(cb: (state: any, info: { seq: number }) => void): void {
    const first = this.#onSnapshot === null;
    this.#onSnapshot = cb;
    const held = this.#heldSnapshot;
    if (first && held) {
      this.#heldSnapshot = null;
      queueMicrotask(() => {
        try {
          this.#onSnapshot?.(held.state, { seq: held.seq });
        } catch (err) {
          report(err);
        }
      });
    }
  }

  /**
   * Called with each reliable event, in order. Events wait for the first
   * call, so none is missed, even when it comes after the game closed; a
   * game whose server sends events must set it (over 4096 unread events
   * close the game as a slow reader).
   */
  onEvent(cb: (event: any) => void): void {
    const first = this.#onEvent === null;
    this.#onEvent = cb;
    if (!first) return;
    // What came before goes out in a microtask, in order; what arrives
    // meanwhile waits behind it.
    queueMicrotask(() => {
      const held = this.#heldEvents ?? [];
      for (let i = 0; i < held.length; i++) {
        try {
          this.#onEvent?.(held[i]);
        } catch (err) {
          report(err);
        }
      }
      this.#heldEvents = null;
    });
  }

  /**
   * Called at each change of the connection, with why: reconnecting,
   * resuming, connected again, and once closed, with info (also when set
   * after that).
   */
  onState(cb: (state: GameState, reason: string, info?: CloseInfo) => void): void {
    this.#onState = cb;
    const c = this.#closed;
    // Registered after the end: still hear about it (once), never synchronously.
    if (!c || this.#closedPending) return;
    const name = closeName(c.code);
    queueMicrotask(() => {
      if (this.#onState !== cb) return;
      try {
        cb("closed", name + (c.reason ? ": " + c.reason : ""), { code: name, remote: c.remote });
      } catch (err) {
        report(err);
      }
    });
  }

  /** Unreliable; returns false when the message was dropped (congested, or reconnecting). Throws when closed or too large. */
  sendInput(input: unknown): boolean {
    this.#throwIfClosed();
    this.#stir();
    const payload = this.#codec.encode(input);
    if (payload.length > maxUnreliableSize) throw fail("too_large", `netcode: message too large: input payload of ${payload.length} bytes, limit ${maxUnreliableSize}`);
    const l = this.#link;
    if (!l.open || l.closed) {
      this.#c.congested++;
      return false;
    }
    const ack = this.#stateAcks.tick; // riding on the input (acks.ts)
    const b = encode({ kind: Kind.input, seq: this.#inputSeq + 1, payload, stateAck: ack }); // 0: none
    if (b.length > maxUnreliableSize) throw fail("too_large", `netcode: message too large: input of ${b.length} bytes encoded, limit ${maxUnreliableSize}`);
    if (l.u.bufferedAmount + b.length > unreliableBuffer || !this.#write(l.u, b)) {
      this.#c.congested++;
      return false;
    }
    this.#inputSeq++;
    this.#c.inputsSent++;
    this.#stateAcks.inputSent(ack, now());
    return true;
  }

  /** #armStateAck sends a held state ack alone once its hold is over, unless an input has carried it. */
  #armStateAck(): void {
    if (this.#stateAckTimer !== undefined || this.#closed) return;
    this.#stateAckTimer = setTimeout(() => {
      this.#stateAckTimer = undefined;
      if (this.#closed) return;
      const t = this.#stateAcks.due(now());
      const l = this.#link;
      if (t) {
        if (l.open && !l.closed) this.#write(l.u, encode({ kind: Kind.stateAck, tick: t }));
      } else if (this.#stateAcks.tick) this.#armStateAck(); // a timer that fired early
    }, Math.max(0, this.#stateAcks.by - now()));
  }

  /** Reliable and ordered; throws when closed, too large, or the send buffer is full. */
  sendEvent(event: unknown): void {
    this.#throwIfClosed();
    this.#stir();
    const payload = this.#codec.encode(event);
    if (payload.length > maxEventSize) throw fail("too_large", `netcode: message too large: event of ${payload.length} bytes, limit ${maxEventSize}`);
    const b = this.#events.send(payload);
    if (!b) {
      if (this.#state === "reconnecting" || this.#state === "resuming") {
        this.#closeWith({ code: CloseCode.bufferOverflow, reason: `events unacknowledged while ${this.#state}`, remote: false, errCode: "event_buffer_full" }, false);
        this.#throwIfClosed();
      }
      throw fail("event_buffer_full", "netcode: event send buffer full");
    }
    this.#c.eventsSent++;
    const l = this.#link;
    if (l.open && !l.closed) this.#write(l.r, b); // else kept for the next connection
  }

  /** The counters; after the game closed, their final values. */
  stats(): Stats {
    if (this.#final) return { ...this.#final };
    const c = this.#c;
    return {
      rttMs: this.#rtt.srtt,
      rttVarMs: this.#rtt.rttvar,
      loss: this.#loss.value,
      snapshotsReceived: c.snapshotsReceived,
      snapshotsLost: c.snapshotsLost,
      snapshotsStale: c.snapshotsStale,
      statesReceived: this.world.replica.kept,
      statesStale: this.world.replica.stale,
      statesUnknownBase: this.world.replica.unknownBase,
      inputsSent: c.inputsSent,
      congested: c.congested,
      eventsSent: c.eventsSent,
      eventsReceived: c.eventsReceived,
      eventsUnacked: this.#events.unacked,
      eventsResent: c.eventsResent,
      restarts: c.restarts,
      resumes: c.resumes,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
    };
  }

  /** The data channels as the browser's RTCDataChannel reports them; empty while reconnecting. Throws when closed. */
  channels(): ChannelInfo[] {
    this.#throwIfClosed();
    const l = this.#link;
    if (!l.open) return [];
    return [l.u, l.r].map((dc) => ({ label: dc.label, protocol: dc.protocol, ordered: dc.ordered, maxRetransmits: dc.maxRetransmits ?? null }));
  }

  /** Where the connection stands now. */
  get state(): GameState {
    return this.#state === "connecting" ? "connected" : this.#state;
  }

  /** The RTCPeerConnection under the game now (a resume replaces it): for getStats(). */
  get peerConnection(): RTCPeerConnection {
    return this.#link.pc;
  }

  /** Tells the server and releases the connection; resolves after onState("closed"). */
  close(): Promise<void> {
    this.#closeWith({ code: CloseCode.normal, reason: "client closed", remote: false }, true);
    return this.#closedDone;
  }

  /**
   * Closes as close does, with the game's own code, which the server sees in the
   * session's CloseError: from CloseCode.applicationMin to applicationMax (4000-4999).
   */
  closeWithError(code: number, reason: string): Promise<void> {
    if (!Number.isInteger(code) || code < CloseCode.applicationMin || code > CloseCode.applicationMax)
      throw badArgument(`close code ${code} not in the applications' range ${CloseCode.applicationMin}-${CloseCode.applicationMax}`);
    this.#closeWith({ code, reason: truncate(reason, 256), remote: false }, true);
    return this.#closedDone;
  }
}
