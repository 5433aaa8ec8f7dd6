// A lobby connection that fails over to another node (TestConformance's
// lobby_failover): the page connects through ?via= (a proxy the test cuts
// and then refuses) with its own origin as the other node, and records its
// notices. Once reconnected it asks the lobby for its rooms, which only a
// working connection answers: window.__result is {notices, rooms}. With
// client=ts it runs @tickwire/client (ts/tickwire.js), else the wasm client.
const { load } = await import(new URLSearchParams(location.search).get("client") === "ts" ? "./ts/tickwire.js" : "./tickwire.js");

try {
  const tw = await load();
  const via = new URLSearchParams(location.search).get("via");
  // The guest token from this origin, same-origin (PROTOCOL.md, POST
  // /v1/guest); only the lobby connection goes through the proxy.
  const resp = await fetch(location.origin + "/v1/guest", { method: "POST", body: JSON.stringify({ name: "failover" }) });
  const { token } = await resp.json();
  const lobby = await tw.connect(via, token, { lobbies: [location.origin] });
  const notices = [];
  lobby.onNotice((n) => {
    notices.push(n.type);
    if (n.type !== "reconnected") return;
    lobby.rooms("solo").then(
      (rooms) => { window.__result = { notices, rooms }; },
      (e) => { window.__error = `rooms after the failover: ${e.code}: ${e.message}`; },
    );
  });
  window.__ready = true;
} catch (e) {
  window.__error = `${e && e.code}: ${e && e.message}`;
}
