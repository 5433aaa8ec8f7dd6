// `bench browser` with the wasm client (tickwire.js, tickwire.wasm).
import { load } from "./tickwire.js";
import { bench } from "./bench.js";

bench("wasm", async (name) => {
  const tw = await load();
  const lobby = await tw.guest(location.origin, name);
  const match = await lobby.createRoom({ mode: "solo" });
  const created = performance.now();
  const game = await lobby.play(match);
  let waiter = null;
  game.onSnapshot(() => {});
  game.onEvent(() => waiter?.());
  return {
    created,
    echo: (n) => new Promise((resolve) => {
      waiter = resolve;
      game.sendEvent({ i: n });
    }),
    close: async () => { await game.close(); await lobby.close(); },
  };
});
