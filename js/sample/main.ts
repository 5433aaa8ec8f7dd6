// A sample game on @tickwire/client, as a user's project writes it: the
// package from npm, its types, a bundler. It creates a one-player room,
// plays it, and reports to window.__result for wasm/package_test.go.
import { guest, TickwireError, version, type Game, type Stats } from "@tickwire/client";

type Snapshot = { tick: number; room: string; player: string };
type Echo = { echo: { kind: string; n: number }; from: string };

const report = (r: object): void => {
  (window as unknown as { __result: object }).__result = r;
};

async function main(): Promise<void> {
  const lobby = await guest(location.origin, "sample");
  const match = await lobby.createRoom({ mode: "solo" });
  const game: Game = await lobby.play(match);
  const snapshots: Snapshot[] = [];
  game.onSnapshot((s: Snapshot) => snapshots.push(s));
  const echo = new Promise<Echo>((resolve) => game.onEvent((e: Echo) => resolve(e)));
  game.sendEvent({ kind: "sample", n: 1 });
  const got = await echo;
  while (snapshots.length < 3) await new Promise((r) => setTimeout(r, 20));
  game.sendInput({ kind: "input", n: 2 });
  let code = "";
  try {
    game.sendInput(new Uint8Array(5000));
  } catch (err) {
    code = err instanceof TickwireError ? err.code : "not a TickwireError";
  }
  const stats: Stats = game.stats();
  await new Promise((r) => setTimeout(r, 200)); // the input reaches the server's tick
  await game.close();
  await lobby.close();
  report({ player: lobby.player, version, echo: got, snapshot: snapshots[0], tooLarge: code, eventsSent: stats.eventsSent });
}

main().catch((err: unknown) => {
  (window as unknown as { __error: string }).__error = String(err instanceof Error ? err.stack : err);
});
