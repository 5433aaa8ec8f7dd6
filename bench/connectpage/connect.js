// `bench connect` in the browser: a plain RTCPeerConnection with the two
// channels of netcode/WIRE.md, signalled as netcode's Signal JSON over a
// WebSocket (one per connection), with trickle ICE. The time runs from the
// offer leaving the page to both channels' open events. No library: what
// the browser itself costs, against any of the bench's servers.
"use strict";

const sctpInit = /^a=sctp-init:/m;

function timeout(p, ms, what) {
  return Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(what + ": timed out")), ms))]);
}

async function connectOnce(path) {
  const ws = new WebSocket(`ws://${location.host}${path}`);
  const pc = new RTCPeerConnection();
  try {
    await timeout(new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("websocket failed"));
    }), 10000, "websocket");
    const send = (s) => ws.send(JSON.stringify(s));
    const snapshots = pc.createDataChannel("snapshots", { ordered: false, maxRetransmits: 0, protocol: "tickwire.v1" });
    const events = pc.createDataChannel("events", { ordered: true, protocol: "tickwire.v1" });
    const opened = Promise.all([snapshots, events].map((dc) => new Promise((resolve, reject) => {
      dc.binaryType = "arraybuffer";
      dc.onmessage = () => {};
      dc.onopen = resolve;
      dc.onclose = () => reject(new Error(dc.label + " closed"));
    })));
    let offered = false;
    const early = [];
    pc.onicecandidate = (e) => {
      const s = e.candidate ? { type: "candidate", candidate: e.candidate.toJSON() } : { type: "candidate" };
      if (offered) send(s);
      else early.push(s);
    };
    let answerInit = false;
    let failed = null;
    let chain = Promise.resolve();
    ws.onmessage = (m) => {
      const s = JSON.parse(m.data);
      chain = chain.then(async () => {
        if (s.type === "answer") {
          answerInit = sctpInit.test(s.sdp);
          await pc.setRemoteDescription({ type: "answer", sdp: s.sdp });
        } else if (s.type === "candidate" && s.candidate) {
          await pc.addIceCandidate(s.candidate);
        }
      }).catch((err) => { failed = err; });
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const t0 = performance.now();
    send({ type: "offer", sdp: pc.localDescription.sdp });
    offered = true;
    early.splice(0).forEach(send);
    await timeout(opened, 10000, "channels");
    const t1 = performance.now();
    if (failed) throw failed;
    return { ms: t1 - t0, offer_init: sctpInit.test(pc.localDescription.sdp), answer_init: answerInit };
  } catch (err) {
    return { error: String((err && err.message) || err) };
  } finally {
    pc.close();
    ws.close();
  }
}

// runConnects connects k times, one after the other, and returns the
// results as JSON for the bench to read.
window.runConnects = async (path, k) => {
  const out = [];
  for (let i = 0; i < k; i++) out.push(await connectOnce(path));
  return JSON.stringify(out);
};
window.__ready = true;
