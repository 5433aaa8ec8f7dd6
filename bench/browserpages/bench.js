// What every page of `bench browser` measures, the same way: from page load
// (performance.now() counts from the navigation) to both channels open, and
// then ?n= event round trips through the Go game server, one at a time,
// each after the last one's echo and a pause of ?gap= ms. The result goes
// to window.__bench for the bench to read. The bench serves the pages
// cross-origin isolated, so that performance.now() ticks in microseconds.
export async function bench(client, connect) {
  const q = new URLSearchParams(location.search);
  const n = Number(q.get("n") || 100);
  const gap = Number(q.get("gap") || 2);
  try {
    const c = await connect(client + "-bench");
    const open = performance.now();
    const rtts = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await c.echo(i);
      rtts.push(performance.now() - t);
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    }
    await c.close();
    window.__bench = { client, open_ms: open, play_ms: open - c.created, rtts_ms: rtts, isolated: globalThis.crossOriginIsolated === true };
  } catch (err) {
    window.__bench = { client, error: String((err && err.stack) || err) };
  }
}
