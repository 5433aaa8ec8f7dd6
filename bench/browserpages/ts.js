// `bench browser` with @tickwire/client (js/dist, served as ts/tickwire.js).
import { guest } from "./ts/tickwire.js";
import { bench } from "./bench.js";

bench("ts", async (name) => {
  const lobby = await guest(location.origin, name);
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
