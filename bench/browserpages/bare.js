// The baseline of `bench browser`: a bare RTCDataChannel page, with no
// client library, speaking lobby/PROTOCOL.md and netcode/WIRE.md by hand
// with the least code that works (events encoded into known bytes), as a
// game would that wrote its own client. bench.js times it like the others.
import { bench } from "./bench.js";

bench("bare", async (name) => {
  const origin = location.origin;
  const r = await fetch(origin + "/v1/guest", { method: "POST", body: JSON.stringify({ name }) });
  const token = (await r.json()).token;
  const ws = new WebSocket(origin.replace(/^http/, "ws") + "/v1/play", "tickwire.lobby.v1");
  let id = 0;
  const pending = new Map();
  let chain = Promise.resolve();
  let apply = async () => {};
  const request = (m) => new Promise((resolve, reject) => {
    const i = String(++id);
    pending.set(i, { resolve, reject });
    ws.send(JSON.stringify({ ...m, id: i }));
  });
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.type === "error") p.reject(new Error(m.code));
      else p.resolve(m);
    } else if (m.type === "signal") {
      chain = chain.then(() => apply(m.signal)).catch(() => {});
    }
  };
  await new Promise((resolve) => { ws.onopen = resolve; });
  await request({ type: "hello", v: 1, token });
  const match = await request({ type: "room.create", mode: "solo" });
  const created = performance.now();

  const pc = new RTCPeerConnection({ iceServers: match.ice_servers ?? [] });
  const u = pc.createDataChannel("snapshots", { ordered: false, maxRetransmits: 0, protocol: "tickwire.v1" });
  const ev = pc.createDataChannel("events", { ordered: true, protocol: "tickwire.v1" });
  u.binaryType = ev.binaryType = "arraybuffer";
  const signal = (s) => ws.send(JSON.stringify({ type: "signal", room: match.room, seat: match.seat, signal: s }));
  let offered = false;
  const early = [];
  pc.onicecandidate = (e) => {
    const s = e.candidate ? { type: "candidate", candidate: e.candidate.toJSON() } : { type: "candidate" };
    if (offered) signal(s);
    else early.push(s);
  };
  apply = async (s) => {
    if (s.type === "answer") await pc.setRemoteDescription({ type: "answer", sdp: s.sdp });
    else if (s.type === "candidate" && s.candidate) await pc.addIceCandidate(s.candidate);
  };
  await pc.setLocalDescription(await pc.createOffer());
  signal({ type: "offer", sdp: pc.localDescription.sdp });
  offered = true;
  early.splice(0).forEach(signal);
  await Promise.all([u, ev].map((dc) => new Promise((resolve) => { dc.onopen = resolve; })));

  // Pings are answered at once (a pong is the ping with kind 4); snapshots
  // are ignored.
  u.onmessage = (e) => {
    const b = new Uint8Array(e.data);
    if (b[2] === 3) {
      b[2] = 4;
      u.send(b);
    }
  };
  // Events: [1, 16, seq, ack, bin payload]; the server's seq is what we ack.
  const uint = (b, i) => (b[i] < 0x80 ? [b[i], i + 1] : b[i] === 0xcc ? [b[i + 1], i + 2] : b[i] === 0xcd ? [(b[i + 1] << 8) | b[i + 2], i + 3] : [((b[i + 1] << 24) >>> 0) + ((b[i + 2] << 16) | (b[i + 3] << 8) | b[i + 4]), i + 5]);
  const put = (out, n) => {
    if (n < 0x80) out.push(n);
    else if (n < 0x100) out.push(0xcc, n);
    else if (n < 0x10000) out.push(0xcd, n >> 8, n & 0xff);
    else out.push(0xce, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  };
  let acked = 0;
  let sent = 0;
  let waiter = null;
  ev.onmessage = (e) => {
    const b = new Uint8Array(e.data);
    if (b[2] !== 16) return;
    acked = uint(b, 3)[0];
    waiter?.();
  };
  return {
    created,
    // The payload is what msgpack makes of {i: n}, as the clients send it.
    echo: (n) => new Promise((resolve) => {
      waiter = resolve;
      const payload = [0x81, 0xa1, 0x69];
      put(payload, n);
      const out = [0x95, 0x01, 0x10];
      put(out, ++sent);
      put(out, acked);
      out.push(0xc4, payload.length, ...payload);
      ev.send(new Uint8Array(out));
    }),
    close: () => { pc.close(); ws.close(); },
  };
});
