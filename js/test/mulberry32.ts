// mulberry32, the small PRNG the Go tests use too, so that JS and Go tests
// that share a seed share a trace, and a failure replays from its seed.

/** mulberry32 returns a generator of floats in [0, 1) from seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
