// Stand-ins for the browser's WebSocket and RTCPeerConnection, so that the
// lobby and game logic runs under node: a test plays the lobby or the game
// server by hand.

import { type Frame, Playout } from "../src/playout.js";

type Handler = ((ev: any) => void) | null;

/** FakeWebSocket: the test reads what the client sent (sent) and answers with reply(). */
export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  /**
   * How the next sockets open: "open", or a close code to fail with before
   * opening; or a function of the socket's URL that says which.
   */
  static behavior: "open" | number | ((url: string) => "open" | number) = "open";
  readyState = 0;
  sent: any[] = [];
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  closedWith: number | null = null;

  constructor(
    readonly url: string,
    readonly protocol?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
    const b = FakeWebSocket.behavior;
    const how = typeof b === "function" ? b(url) : b;
    setTimeout(() => {
      if (how === "open") {
        this.readyState = 1;
        this.onopen?.({});
      } else this.drop(how);
    }, 0);
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(JSON.parse(text));
  }

  close(code = 1000): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code }), 0);
  }

  /** reply sends the client a message, as the lobby would. */
  reply(m: object): void {
    this.onmessage?.({ data: JSON.stringify(m) });
  }

  /** drop closes the connection from the lobby's side. */
  drop(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** last is the newest socket. */
  static get last(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1]!;
  }
}

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** until polls cond for up to ms. */
export async function until(cond: () => unknown, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + cond.toString());
    await tick(2);
  }
}

/** A data channel whose other end is the test. */
export class FakeDataChannel {
  readyState: RTCDataChannelState = "connecting";
  binaryType = "blob";
  bufferedAmount = 0;
  onopen: Handler = null;
  onclose: Handler = null;
  onmessage: Handler = null;
  sent: Uint8Array[] = [];
  readonly ordered: boolean;
  readonly maxRetransmits: number | null;
  readonly protocol: string;

  constructor(
    readonly label: string,
    init: RTCDataChannelInit,
  ) {
    this.ordered = init.ordered ?? true;
    this.maxRetransmits = init.maxRetransmits ?? null;
    this.protocol = init.protocol ?? "";
  }

  send(b: Uint8Array): void {
    if (this.readyState !== "open") throw new Error("InvalidStateError");
    this.sent.push(new Uint8Array(b));
  }

  open(): void {
    this.readyState = "open";
    this.onopen?.({});
  }

  /** deliver hands the client a message, as the server would send it. */
  deliver(b: Uint8Array): void {
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
  }

  fail(): void {
    this.readyState = "closed";
    this.onclose?.({});
  }
}

/** FakePeerConnection records what the client asks of it. */
export class FakePeerConnection {
  static instances: FakePeerConnection[] = [];
  channels: FakeDataChannel[] = [];
  iceConnectionState: RTCIceConnectionState = "new";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: RTCSessionDescriptionInit | null = null;
  remote: RTCSessionDescriptionInit[] = [];
  candidates: RTCIceCandidateInit[] = [];
  offers = 0;
  closed = false;
  onicecandidate: Handler = null;
  oniceconnectionstatechange: Handler = null;
  onconnectionstatechange: Handler = null;

  constructor(readonly config: RTCConfiguration) {
    FakePeerConnection.instances.push(this);
  }

  createDataChannel(label: string, init: RTCDataChannelInit): FakeDataChannel {
    const dc = new FakeDataChannel(label, init);
    this.channels.push(dc);
    return dc;
  }

  async createOffer(o?: RTCOfferOptions): Promise<RTCSessionDescriptionInit> {
    if (this.closed) throw new Error("InvalidStateError: closed");
    this.offers++;
    return { type: "offer", sdp: `v=0 offer ${this.offers}${o?.iceRestart ? " restart" : ""}` };
  }

  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.localDescription = d;
  }

  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.remote.push(d);
  }

  async addIceCandidate(c: RTCIceCandidateInit): Promise<void> {
    this.candidates.push(c);
  }

  close(): void {
    this.closed = true;
    this.connectionState = "closed";
  }

  /** connect opens both channels and reports ICE connected. */
  connect(): void {
    this.setICE("connected");
    for (const dc of this.channels) dc.open();
  }

  setICE(s: RTCIceConnectionState): void {
    this.iceConnectionState = s;
    this.oniceconnectionstatechange?.({});
  }

  channel(label: string): FakeDataChannel {
    return this.channels.find((c) => c.label === label)!;
  }

  static get last(): FakePeerConnection {
    return FakePeerConnection.instances[FakePeerConnection.instances.length - 1]!;
  }
}

/** At is a playout that shows the moment t (ms on the server's clock), as if it knew the interval once ready. */
export class At extends Playout {
  t = 0;
  ready = true;
  override sample(): Frame | undefined {
    return { from: 0, to: 0, alpha: 0 };
  }
  override time(): number {
    return this.t;
  }
  override interval(): number {
    return this.ready ? 1000 : 0;
  }
}
