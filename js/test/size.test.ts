// The package's weight: dist/tickwire.js, minified and gzipped as a server
// sends it, within the budget of build.mjs (30 KiB).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

test("dist/tickwire.js is within its size budget, with its source map and types", () => {
  const dist = new URL("../../dist/", import.meta.url);
  const js = readFileSync(new URL("tickwire.js", dist));
  const gz = gzipSync(js, { level: 9 }).length;
  console.log(`SIZE minified=${js.length} gzipped=${gz}`);
  assert.ok(gz <= 30 * 1024, `${gz} bytes gzipped, over 30 KiB`);
  assert.match(js.toString(), /\/\/# sourceMappingURL=tickwire\.js\.map\s*$/);
  const map = JSON.parse(readFileSync(new URL("tickwire.js.map", dist), "utf8")) as { sources: string[] };
  assert.ok(map.sources.some((s) => s.endsWith("src/game.ts")), "the source map names the TypeScript sources");
  assert.match(readFileSync(new URL("types/index.d.ts", dist), "utf8"), /export declare function guest/);
  // No runtime dependency: nothing outside the package is imported.
  assert.doesNotMatch(js.toString(), /\bimport\s*[^(]*from\s*["']/);
});
