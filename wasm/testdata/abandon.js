// Plays cut short at every stage (TestBrowserPlayAbandoned): each round
// creates a one-player room and plays it with a timeout of 1 to 130
// milliseconds, so that the timeout closes the RTCPeerConnection while an
// offer, the answer or a candidate is still being applied. Every play must
// settle, opened or rejected with "timeout", and nothing may stay open.
// With client=ts it runs @tickwire/client (ts/tickwire.js), else the wasm
// client.
const q = new URLSearchParams(location.search);
const { load } = await import(q.get("client") === "ts" ? "./ts/tickwire.js" : "./tickwire.js");

// Every RTCPeerConnection made, to count those left open.
const pcs = [];
const NativePC = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePC {
  constructor(...args) {
    super(...args);
    pcs.push(this);
  }
};
const rounds = Number(q.get("rounds") || 24);
const out = { opened: 0, timeouts: 0, hung: [], errors: [] };

try {
  const tw = await load();
  const lobby = await tw.guest(location.origin, "abandon");
  for (let i = 0; i < rounds; i++) {
    const ms = i < 12 ? 1 + i : 10 * (i - 10); // 1 to 12 ms, then 20 to 130
    const match = await lobby.createRoom({ mode: "solo" });
    const play = lobby.play(match, { timeout: ms }).then(
      async (g) => {
        g.onEvent(() => {});
        await g.close();
        return "opened";
      },
      (e) => (e.code === "timeout" ? "timeout" : `rejected ${e.code}: ${e.message}`),
    );
    const r = await Promise.race([play, new Promise((res) => setTimeout(() => res("hung"), 10000))]);
    if (r === "opened") out.opened++;
    else if (r === "timeout") out.timeouts++;
    else if (r === "hung") out.hung.push(`round ${i}, ${ms} ms`);
    else out.errors.push(`round ${i}, ${ms} ms: ${r}`);
    await lobby.leave();
  }
  await lobby.close();
  await new Promise((r) => setTimeout(r, 100));
  const open = pcs.filter((pc) => pc.connectionState !== "closed" && pc.signalingState !== "closed").length;
  out.handles = globalThis.__tickwire ? globalThis.__tickwire.handles() : { lobbies: 0, games: 0 };
  out.openPeerConnections = open;
  window.__result = out;
} catch (e) {
  window.__error = `${e.code || ""} ${e.message || e}`;
}
