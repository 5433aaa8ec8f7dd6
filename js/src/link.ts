// One RTCPeerConnection of a session with its two data channels
// (netcode/WIRE.md, Channels): the part of a session that a resume
// replaces. The session (game.ts) outlives its links.

import { fail } from "./errors.js";
import type { Signal } from "./signal.js";

export const protocolName = "tickwire.v1";

export interface LinkHandler {
  /** signal queues a signal of this link for the server. */
  signalOut(l: Link, s: Signal): void;
  /** opened: both channels are open. */
  opened(l: Link): void;
  /** failed: the link cannot carry the session (PeerConnection failed, a channel closed). */
  failed(l: Link, why: string): void;
  /** changed: ICE state changed; the session looks at it. */
  changed(l: Link): void;
  unreliable(l: Link, data: ArrayBuffer): void;
  reliable(l: Link, data: ArrayBuffer): void;
}

export class Link {
  readonly pc: RTCPeerConnection;
  readonly u: RTCDataChannel;
  readonly r: RTCDataChannel;
  /** Adopted by the session: sends go here. */
  open = false;
  /** The transport failed for good. */
  broken = false;
  /** An ICE restart offer waits for its answer. */
  offering = false;
  remoteSet = false;
  /** Remote candidates that arrived before the description. */
  pending: RTCIceCandidateInit[] = [];
  closed = false;
  /** Candidates gathered before our offer went out wait here. */
  private sdpSent = false;
  private early: Signal[] = [];
  private drain: ReturnType<typeof setTimeout> | undefined;
  private readonly closedP: Promise<never>;
  private rejectClosed!: (e: Error) => void;

  /** drainMs: how long the end of the snapshots channel waits for that of events (timing.closeFlush). */
  constructor(
    readonly gen: number,
    config: RTCConfiguration,
    private readonly h: LinkHandler,
    drainMs: number,
  ) {
    this.closedP = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closedP.catch(() => {});
    const pc = new RTCPeerConnection(config);
    this.pc = pc;
    // In-band (DCEP), never pre-negotiated: pion applies partial
    // reliability only to in-band channels (docs/webrtc-facts.md).
    this.u = pc.createDataChannel("snapshots", { ordered: false, maxRetransmits: 0, protocol: protocolName });
    this.r = pc.createDataChannel("events", { ordered: true, protocol: protocolName });
    let opened = 0;
    for (const dc of [this.u, this.r]) {
      dc.binaryType = "arraybuffer";
      dc.onopen = () => {
        if (++opened === 2 && !this.closed) h.opened(this);
      };
    }
    // A server that closes on purpose sends its close message on events and
    // then takes the connection down. Each channel's messages come before
    // its close event, but snapshots may report its end first, with the
    // close message still on its way up events (netcode/WIRE.md, Close):
    // so the end of snapshots waits, for at most drainMs, for that of
    // events.
    this.u.onclose = () => {
      if (this.closed || this.drain !== undefined) return;
      this.drain = setTimeout(() => {
        if (!this.closed) h.failed(this, "snapshots channel closed");
      }, drainMs);
    };
    this.r.onclose = () => {
      clearTimeout(this.drain);
      if (!this.closed) h.failed(this, "events channel closed");
    };
    this.u.onmessage = (ev: MessageEvent) => h.unreliable(this, ev.data as ArrayBuffer);
    this.r.onmessage = (ev: MessageEvent) => h.reliable(this, ev.data as ArrayBuffer);
    pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (c && c.candidate === "") return; // an older end-of-candidates of one section
      const s: Signal = c ? { type: "candidate", candidate: c.toJSON() } : { type: "candidate" };
      if (this.gen > 0) s.gen = this.gen;
      if (this.sdpSent) h.signalOut(this, s);
      else this.early.push(s);
    };
    pc.oniceconnectionstatechange = () => h.changed(this);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" && !this.closed) h.failed(this, "ICE failed");
    };
  }

  /** iceState is the ICE connection state now. */
  get iceState(): RTCIceConnectionState {
    return this.pc.iceConnectionState;
  }

  /**
   * guard waits for p, or rejects once the link is closed: a promise of an
   * RTCPeerConnection closed while it is pending never settles (Chromium).
   */
  guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.closedP]);
  }

  /** offer makes an offer (with new ICE credentials if restart), sets it, and sends it with the candidates held back. */
  async offer(restart: boolean, resume?: string): Promise<void> {
    this.sdpSent = false;
    const o = await this.guard(this.pc.createOffer({ iceRestart: restart }));
    await this.guard(this.pc.setLocalDescription(o));
    const s: Signal = { type: "offer", sdp: this.pc.localDescription?.sdp ?? o.sdp ?? "" };
    if (this.gen > 0) s.gen = this.gen;
    if (resume) s.resume = resume;
    this.h.signalOut(this, s);
    this.releaseEarly();
  }

  /** releaseEarly sends the candidates held back (also after a failed offer, so none is kept forever). */
  releaseEarly(): void {
    this.sdpSent = true;
    const early = this.early;
    this.early = [];
    for (const s of early) this.h.signalOut(this, s);
  }

  async setAnswer(sdp: string): Promise<void> {
    await this.guard(this.pc.setRemoteDescription({ type: "answer", sdp }));
  }

  async addCandidate(c: RTCIceCandidateInit): Promise<void> {
    await this.guard(this.pc.addIceCandidate(c));
  }

  /** close releases the PeerConnection. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.drain);
    this.rejectClosed(fail("closed", "tickwire: connection closed"));
    for (const dc of [this.u, this.r]) {
      dc.onopen = dc.onclose = dc.onmessage = null;
    }
    this.pc.onicecandidate = this.pc.oniceconnectionstatechange = this.pc.onconnectionstatechange = null;
    try {
      this.pc.close();
    } catch {
      // closing twice, or a browser that throws on it: nothing to release
    }
  }
}
