// The browser side of the dots demo: the simplest real game on Tickwire.
//
// The Go lobby command (lobby/cmd/lobby) runs the lobby and an embedded,
// authoritative game server; `make run` serves this page next to them. The
// page loads the Tickwire client (@tickwire/client from js/, built into
// tickwire.js: about 12 KB gzipped, nothing to start), gets a guest token, is matched into a room, opens the WebRTC channels to
// the game server and then:
//   - draws the replicated world at every frame: the players' dots, its own
//     with a ring, among 200 bots, each where the client's playout puts it
//     between the server's ticks (game.world.at);
//   - sends a Move input {dx, dy} 30 times a second while a key is held;
//   - names the dots from the game's reliable events (welcome, joined, left);
//   - shows what that costs: bytes a second in, and the playout's delay.
//
// The game's own wire format (internal/dots): inputs {dx, dy} with steps of
// -1, 0 or +1, events {type, room, id, player, name}; the dots are entities
// of type "dot" {x, y, player} with x and y in [-100, 100], which Tickwire
// replicates (netcode/REPLICATION.md).
//
// Plain JavaScript, no framework and nothing from a CDN. Handy URL
// parameters: ?name=Ada, ?room=CODE (join that room), ?play=quick or
// ?play=create (start at once), ?mode=NAME (a lobby mode other than
// "default").

const params = new URLSearchParams(location.search);
const MODE = params.get("mode") || "default";
const ARENA = 100; // dots.Arena: positions are within [-ARENA, ARENA]
const INPUT_HZ = 30;

const $ = (id) => document.getElementById(id);
const ui = {
  conn: $("conn"), loading: $("loading"), loadText: $("loadText"),
  menu: $("menu"), name: $("name"), quick: $("quick"), create: $("create"), code: $("code"), join: $("join"), rooms: $("rooms"),
  game: $("game"), canvas: $("arena"), overlay: $("overlay"), leave: $("leave"),
  roomBox: $("roomBox"), roomTitle: $("roomTitle"), roomShare: $("roomShare"), players: $("players"),
  statsBox: $("statsBox"), sState: $("sState"), sRTT: $("sRTT"), sTick: $("sTick"), sSnaps: $("sSnaps"),
  sLoss: $("sLoss"), sInputs: $("sInputs"), sBytes: $("sBytes"), sRate: $("sRate"), sDelay: $("sDelay"),
  log: $("log"),
};

// ---- state ----------------------------------------------------------------

let tw = null;        // the loaded Tickwire client
let lobby = null;     // the lobby connection, made on the first action
let lobbyName = "";   // the name lobby was opened with
let phase = "loading"; // loading, menu, queued, connecting, playing
let attempt = 0;      // bumped to abandon an action in progress (cancel, leave)
let match = null;     // the current match
let game = null;      // the current game
let me = 0;           // our dot's id, from the welcome event
let tick = 0;         // the newest state's tick
const dots = new Map();    // players' dot id -> {x, y} as the newest state has it
const dotNames = new Map(); // dot id -> {player, name}
let rate = { at: 0, bytes: 0, perSecond: 0 }; // bytes in a second, measured each second
const roster = new Map();  // lobby player id -> name, from the match and room notices

// ---- log and status --------------------------------------------------------

function log(text, cls) {
  const li = document.createElement("li");
  const t = document.createElement("time");
  t.textContent = new Date().toLocaleTimeString();
  li.append(t, text);
  if (cls) li.className = cls;
  ui.log.prepend(li);
  while (ui.log.children.length > 200) ui.log.lastChild.remove();
}

function status(text, kind) {
  ui.conn.textContent = text;
  ui.conn.className = "pill" + (kind ? " " + kind : "");
}

function describe(err) {
  if (err && err.code) return `${err.message} (${err.code})`;
  return String(err && err.message || err);
}

function setPhase(p) {
  phase = p;
  ui.loading.hidden = p !== "loading";
  ui.menu.hidden = p !== "menu";
  ui.game.hidden = !(p === "queued" || p === "connecting" || p === "playing");
  ui.statsBox.hidden = p !== "playing";
  ui.roomBox.hidden = !(p === "connecting" || p === "playing");
  ui.leave.textContent = p === "queued" ? "Cancel" : "Leave";
  for (const b of [ui.quick, ui.create, ui.join]) b.disabled = p !== "menu";
  if (p === "menu") {
    if (lobby) status(`in the lobby as ${lobbyName}`, "ok");
    else status("not connected to the lobby", "warn");
    refreshRooms();
  }
}

// ---- the lobby -------------------------------------------------------------

function chosenName() {
  const n = ui.name.value.trim();
  return n || randomName();
}

function randomName() {
  const a = ["Swift", "Quiet", "Brave", "Lucky", "Clever", "Sunny", "Rapid", "Merry", "Bold", "Calm"];
  const b = ["Otter", "Falcon", "Badger", "Lynx", "Heron", "Fox", "Panda", "Gecko", "Moose", "Wren"];
  const pick = (l) => l[Math.floor(Math.random() * l.length)];
  return `${pick(a)} ${pick(b)}`;
}

// ensureLobby connects with the chosen name, reconnecting if the name
// changed since.
async function ensureLobby() {
  const name = chosenName();
  if (lobby && name === lobbyName) return lobby;
  if (lobby) {
    lobby.close();
    lobby = null;
  }
  status("connecting to the lobby…", "warn");
  const l = await tw.guest(location.origin, name);
  lobby = l;
  lobbyName = l.name;
  ui.name.value = l.name;
  sessionStorage.setItem("tickwire.name", l.name);
  l.onNotice(onNotice.bind(l));
  log(`in the lobby as ${l.name} (${l.player})`);
  return l;
}

// dropLobby forgets a lobby connection that failed or ended, so that the
// next action reconnects; a refusal (any other code) leaves it be.
function dropLobby(err) {
  if (err && err.code && err.code !== "closed" && err.code !== "network" && err.code !== "timeout") return;
  if (!lobby) return;
  lobby.close();
  lobby = null;
  if (phase === "menu") setPhase("menu"); // says so
}

// onNotice follows the lobby connection: it is redialed by itself when it
// drops, and ends for good when the redial is refused or gives up. A game in
// progress does not need it and goes on.
function onNotice(n) {
  if (this !== lobby) return; // from a connection already replaced
  switch (n.type) {
    case "disconnected":
      log("lost the lobby connection: reconnecting…", "bad");
      if (phase === "menu") status("reconnecting to the lobby…", "warn");
      break;
    case "reconnected":
      log("back in the lobby", "good");
      if (phase === "menu") setPhase("menu");
      break;
    case "closed":
      log(`the lobby connection ended${n.reason ? ": " + n.reason : ""}`, "bad");
      lobby = null; // a queue's waitMatch rejects with "closed" and ends it
      if (phase === "menu") setPhase("menu");
      break;
    case "room":
      if (n.players) {
        const before = new Set(roster.keys());
        for (const p of n.players) {
          if (!before.has(p.id)) log(`${p.name || p.id} took a seat in the room`);
          roster.set(p.id, p.name || p.id);
        }
      }
      break;
    case "queued":
      log("queued");
      break;
    case "left":
      log(`the lobby took you out of the room${n.reason ? ": " + n.reason : ""}`, "bad");
      break;
    case "error":
      log(`lobby: ${n.error ? n.error.message : "error"}`, "bad");
      break;
  }
}

let roomsTimer = 0;
async function refreshRooms() {
  clearTimeout(roomsTimer);
  if (phase !== "menu") return;
  roomsTimer = setTimeout(refreshRooms, 2000);
  if (!lobby) return;
  let list;
  try {
    list = await lobby.rooms(MODE);
  } catch (err) {
    dropLobby(err);
    return;
  }
  if (phase !== "menu") return;
  ui.rooms.replaceChildren();
  if (list.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "none: create one, or use Quick play";
    ui.rooms.append(li);
  }
  for (const r of list) {
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${r.name || r.code} · ${r.players}/${r.max} players`;
    const b = document.createElement("button");
    b.className = "secondary";
    b.textContent = "Join";
    b.onclick = () => joinRoom(r.code);
    li.append(label, b);
    ui.rooms.append(li);
  }
}

// ---- the three ways into a game --------------------------------------------

async function quickPlay() {
  const my = ++attempt;
  setPhase("queued");
  overlay(`Looking for other players in "${MODE}"…\n\nOpen this page in a second tab (or another browser) and press Quick play there too: the match starts when two players are queued (at once with a full room, else within about 10 seconds).`);
  try {
    const l = await ensureLobby();
    if (my !== attempt) return;
    await l.queue({ mode: MODE });
    status("in the queue…", "warn");
    const m = await nextMatch(l);
    if (my !== attempt) return;
    await enter(m, my);
  } catch (err) {
    if (my !== attempt) return;
    failed("quick play", err);
  }
}

// nextMatch is lobby.waitMatch, one call at a time: leaving the queue does
// not end a waitMatch in progress, so after a cancel the next Quick play
// waits on the same call rather than start a second one that would race it
// for the match.
let matchWait = null; // {lobby, promise}
function nextMatch(l) {
  if (!matchWait || matchWait.lobby !== l) {
    const w = { lobby: l, promise: l.waitMatch() };
    const done = () => {
      if (matchWait === w) matchWait = null;
    };
    w.promise.then(done, done);
    matchWait = w;
  }
  return matchWait.promise;
}

async function createRoom() {
  const my = ++attempt;
  setPhase("connecting");
  try {
    const l = await ensureLobby();
    if (my !== attempt) return;
    const m = await l.createRoom({ mode: MODE, name: `${l.name}'s room`, public: true });
    if (my !== attempt) return;
    log(`created room ${m.code}`, "good");
    await enter(m, my);
  } catch (err) {
    if (my !== attempt) return;
    failed("create room", err);
  }
}

async function joinRoom(code) {
  code = (code || "").trim().toUpperCase();
  if (!code) {
    ui.code.focus();
    return;
  }
  const my = ++attempt;
  setPhase("connecting");
  try {
    const l = await ensureLobby();
    if (my !== attempt) return;
    const m = await l.joinRoom(code);
    if (my !== attempt) return;
    await enter(m, my);
  } catch (err) {
    if (my !== attempt) return;
    failed(`join ${code}`, err);
  }
}

// failed reports a way into a game that went wrong and makes sure the
// lobby holds no queue ticket or seat for us, so that the next try is not
// refused as busy.
function failed(what, err) {
  log(`${what}: ${describe(err)}`, "bad");
  dropLobby(err);
  endGame();
  if (lobby) lobby.leave().catch(() => {});
}

// enter opens the match's channels to the game server and plays.
async function enter(m, my) {
  match = m;
  roster.clear();
  for (const p of m.players) roster.set(p.id, p.name || p.id);
  setPhase("connecting");
  status("connecting to the game server…", "warn");
  ui.roomTitle.textContent = m.code ? `Room ${m.code}` : "Matched room";
  if (m.code) {
    const url = new URL(location.pathname, location.origin);
    url.searchParams.set("room", m.code);
    ui.roomShare.hidden = false;
    ui.roomShare.replaceChildren("Others join with the code ", code(m.code), " or at ", link(url.href));
  } else {
    ui.roomShare.hidden = true;
  }
  overlay("Opening the WebRTC channels to the game server…");
  const names = m.players.map((p) => p.name || p.id).join(", ");
  log(m.code ? `in room ${m.code} (${m.room}) with ${names}` : `matched into ${m.room} with ${names}`);
  renderPlayers();

  const t0 = performance.now();
  const g = await lobby.play(m);
  if (my !== attempt) {
    g.close();
    return;
  }
  game = g;
  // Handlers first, before anything else can run.
  g.onEvent(onGameEvent);
  g.world.onState(onWorld);
  g.onState((state, reason) => {
    if (game !== g) return;
    ui.sState.textContent = state;
    if (state !== "closed") {
      // The connection recovers by itself: say so, and keep playing.
      status(state === "connected" ? "playing" : state + "…", state === "connected" ? "ok" : "warn");
      log(`${state}${reason ? ": " + reason : ""}`, state === "connected" ? "good" : "");
      return;
    }
    log(`game closed${reason ? ": " + reason : ""}`, "bad");
    leave();
  });
  setPhase("playing");
  status("playing", "ok");
  ui.sState.textContent = "connected";
  overlay("");
  log(`channels open in ${Math.round(performance.now() - t0)} ms`, "good");
  ui.canvas.focus();
}

// leave ends whatever is in progress and goes back to the menu.
async function leave() {
  attempt++;
  endGame();
  if (lobby) {
    try {
      await lobby.leave();
    } catch (err) {
      dropLobby(err);
    }
  }
}

function endGame() {
  const g = game;
  game = null;
  match = null;
  me = 0;
  tick = 0;
  dots.clear();
  dotNames.clear();
  rate = { at: 0, bytes: 0, perSecond: 0 };
  roster.clear();
  held.clear();
  if (g) g.close();
  overlay("");
  setPhase("menu");
}

// ---- the game --------------------------------------------------------------

function onGameEvent(ev) {
  if (!ev || typeof ev !== "object") return;
  const who = ev.name || roster.get(ev.player) || ev.player || `dot ${ev.id}`;
  switch (ev.type) {
    case "welcome":
      me = ev.id;
      dotNames.set(ev.id, { player: ev.player, name: who });
      log(`you are dot ${ev.id} in ${ev.room}`, "good");
      break;
    case "joined":
      dotNames.set(ev.id, { player: ev.player, name: who });
      log(`${who} joined`, "good");
      break;
    case "left":
      dotNames.delete(ev.id);
      dots.delete(ev.id);
      if (ev.player) roster.delete(ev.player);
      log(`${who} left`);
      break;
    default:
      log(`event ${JSON.stringify(ev)}`);
  }
  renderPlayers();
}

// onWorld follows the players' dots in the newest state, for the list of
// players and the page's window.dots; drawing asks the world itself.
function onWorld(change) {
  if (!game) return;
  tick = change.tick;
  let changed = false;
  for (const id of change.removed) changed = dots.delete(id) || changed;
  for (const id of [...change.created, ...change.changed]) {
    const e = game.world.get(id);
    if (!e || e.type !== "dot" || !e.fields.player) continue;
    if (!dots.has(id)) changed = true;
    dots.set(id, { x: e.fields.x, y: e.fields.y });
  }
  if (changed) renderPlayers();
}

function color(id) {
  return `hsl(${(id * 137.508) % 360} 75% 60%)`;
}

function nameOf(id) {
  const n = dotNames.get(id);
  return n ? n.name : `dot ${id}`;
}

function renderPlayers() {
  ui.players.replaceChildren();
  const ids = new Set([...dots.keys(), ...dotNames.keys()]);
  for (const id of [...ids].sort((a, b) => a - b)) {
    const li = document.createElement("li");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = color(id);
    li.append(sw, nameOf(id) + (id === me ? " (you)" : ""));
    ui.players.append(li);
  }
  if (ids.size === 0) {
    for (const name of roster.values()) {
      const li = document.createElement("li");
      li.textContent = name;
      ui.players.append(li);
    }
  }
}

// ---- keyboard input ----------------------------------------------------------

const KEYS = {
  ArrowLeft: [-1, 0], KeyA: [-1, 0],
  ArrowRight: [1, 0], KeyD: [1, 0],
  ArrowUp: [0, -1], KeyW: [0, -1],
  ArrowDown: [0, 1], KeyS: [0, 1],
};
const held = new Set();

function typing(e) {
  const t = e.target;
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement;
}

addEventListener("keydown", (e) => {
  if (!(e.code in KEYS) || typing(e) || !game || e.ctrlKey || e.metaKey || e.altKey) return;
  held.add(e.code);
  e.preventDefault(); // no scrolling with the arrows
});
addEventListener("keyup", (e) => held.delete(e.code));
addEventListener("blur", () => held.clear());

// The game applies every input as one step, clamped to -1..+1 on each
// axis, so a steady 30 a second is the speed; a lost input is a lost step.
setInterval(() => {
  if (!game || held.size === 0) return;
  let dx = 0, dy = 0;
  for (const k of held) {
    dx += KEYS[k][0];
    dy += KEYS[k][1];
  }
  dx = Math.sign(dx);
  dy = Math.sign(dy);
  if (dx === 0 && dy === 0) return;
  try {
    game.sendInput({ dx, dy }); // false when congested: that step is lost
  } catch (err) {
    log(`input: ${describe(err)}`, "bad");
  }
}, 1000 / INPUT_HZ);

// ---- drawing -----------------------------------------------------------------

const ctx = ui.canvas.getContext("2d");

function fitCanvas() {
  const r = ui.canvas.getBoundingClientRect();
  const px = Math.max(200, Math.round(r.width * devicePixelRatio));
  if (ui.canvas.width !== px) {
    ui.canvas.width = px;
    ui.canvas.height = px;
  }
}

function draw(now) {
  requestAnimationFrame(draw);
  if (ui.game.hidden) return;
  fitCanvas();
  const W = ui.canvas.width;
  const pad = W * 0.04;
  const scale = (W - 2 * pad) / (2 * ARENA);
  const sx = (x) => pad + (x + ARENA) * scale;
  const sy = (y) => pad + (y + ARENA) * scale;

  ctx.clearRect(0, 0, W, W);
  // The arena and a grid every 20 units.
  ctx.lineWidth = Math.max(1, W / 600);
  ctx.strokeStyle = "#1d232d";
  ctx.beginPath();
  for (let v = -ARENA + 20; v < ARENA; v += 20) {
    ctx.moveTo(sx(v), sy(-ARENA));
    ctx.lineTo(sx(v), sy(ARENA));
    ctx.moveTo(sx(-ARENA), sy(v));
    ctx.lineTo(sx(ARENA), sy(v));
  }
  ctx.stroke();
  ctx.strokeStyle = "#3a4353";
  ctx.lineWidth = Math.max(2, W / 300);
  ctx.strokeRect(sx(-ARENA), sy(-ARENA), 2 * ARENA * scale, 2 * ARENA * scale);

  // The world as the server had it a little while ago, between two of its
  // ticks: 30 states a second, drawn smoothly at the display's rate.
  const entities = game ? game.world.at(now) : [];
  const radius = Math.max(5, W * 0.016);
  ctx.fillStyle = "#3a4656";
  for (const e of entities) {
    if (e.type !== "dot" || e.fields.player) continue;
    ctx.beginPath();
    ctx.arc(sx(e.fields.x), sy(e.fields.y), radius * 0.35, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.font = `${Math.round(W * 0.024)}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  const players = entities.filter((e) => e.type === "dot" && e.fields.player)
    .sort((a, b) => (a.id === me) - (b.id === me)); // ours on top
  for (const e of players) {
    const id = e.id;
    const x = sx(e.fields.x), y = sy(e.fields.y);
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, 2 * Math.PI);
    ctx.fillStyle = color(id);
    ctx.fill();
    if (id === me) {
      ctx.lineWidth = Math.max(2, radius * 0.35);
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
    ctx.fillStyle = id === me ? "#fff" : "#aab4c3";
    ctx.fillText(id === me ? `${nameOf(id)} (you)` : nameOf(id), x, y - radius * 1.5);
  }
}
requestAnimationFrame(draw);

// Stats, four times a second.
setInterval(() => {
  if (!game) return;
  let s;
  try {
    s = game.stats();
  } catch {
    return;
  }
  ui.sRTT.textContent = `${s.rttMs.toFixed(1)} ms`;
  ui.sTick.textContent = String(tick);
  ui.sSnaps.textContent = String(s.statesReceived);
  ui.sLoss.textContent = String(s.statesStale + s.statesUnknownBase);
  ui.sInputs.textContent = String(s.inputsSent);
  ui.sBytes.textContent = `${kb(s.bytesIn)} / ${kb(s.bytesOut)}`;
  const now = performance.now();
  if (rate.at === 0 || now - rate.at >= 1000) {
    if (rate.at !== 0) rate.perSecond = (s.bytesIn - rate.bytes) * 1000 / (now - rate.at);
    rate.at = now;
    rate.bytes = s.bytesIn;
  }
  ui.sRate.textContent = `${kb(Math.round(rate.perSecond))}/s`;
  ui.sDelay.textContent = `${game.world.playout.delay().toFixed(0)} ms`;
}, 250);

function kb(n) {
  return n < 10240 ? `${n} B` : `${(n / 1024).toFixed(0)} KiB`;
}

function overlay(text) {
  ui.overlay.replaceChildren();
  for (const [i, line] of text.split("\n").entries()) {
    if (i > 0) ui.overlay.append(document.createElement("br"));
    ui.overlay.append(line);
  }
}

function code(text) {
  const c = document.createElement("code");
  c.textContent = text;
  return c;
}

function link(href) {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.textContent = href;
  a.style.color = "var(--accent)";
  return a;
}

// ---- wiring ------------------------------------------------------------------

ui.quick.onclick = quickPlay;
ui.create.onclick = createRoom;
ui.join.onclick = () => joinRoom(ui.code.value);
ui.code.addEventListener("keydown", (e) => {
  if (e.key === "Enter") joinRoom(ui.code.value);
});
ui.leave.onclick = leave;
addEventListener("pagehide", () => {
  if (game) game.close();
  if (lobby) lobby.close();
});

// For the console and browser tests: what the page sees.
window.dots = {
  get phase() { return phase; },
  get me() { return me; },
  get tick() { return tick; },
  get room() { return match && match.room; },
  get code() { return match && match.code; },
  get dots() { return [...dots].map(([id, d]) => ({ id, x: d.x, y: d.y, name: nameOf(id) })); },
  get entities() { return game ? game.world.entities().length : 0; },
  get delay() { return game ? game.world.playout.delay() : 0; },
  get bytesPerSecond() { return rate.perSecond; },
  get stats() { return game ? game.stats() : null; },
  quickPlay, createRoom, joinRoom, leave,
};

async function main() {
  ui.name.value = params.get("name") || sessionStorage.getItem("tickwire.name") || randomName();
  try {
    const { load } = await import("./tickwire.js");
    tw = await load();
  } catch (err) {
    status("failed to load", "bad");
    ui.loadText.textContent = `Could not load the Tickwire client: ${describe(err)}. ` +
      "Build and serve it with `make run` (which builds js/ and serves build/web), then reload.";
    log(`load: ${describe(err)}`, "bad");
    return;
  }
  log(`Tickwire client loaded (lobby protocol v${tw.version.lobby}, wire v${tw.version.wire})`);
  setPhase("menu");
  // Connect now, so that the list of open rooms shows.
  try {
    await ensureLobby();
    setPhase("menu");
  } catch (err) {
    log(`lobby: ${describe(err)}`, "bad");
    status("no lobby", "bad");
  }
  const room = params.get("room");
  const play = params.get("play");
  if (room) {
    ui.code.value = room;
    joinRoom(room);
  } else if (play === "quick") {
    quickPlay();
  } else if (play === "create") {
    createRoom();
  }
}

main();
