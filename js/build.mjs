// Builds @tickwire/client with esbuild and tsc (both from npm):
//
//   node build.mjs          dist/tickwire.js (ESM, minified) with its source
//                           map, and dist/types/*.d.ts; prints the size
//   node build.mjs --test   also the unit tests, into build/ for node --test
//   node build.mjs --size   prints the size only, as JSON, after building
//
// The size budget (SIZE_BUDGET, minified and gzipped) is checked here and
// again by test/size.test.ts, so that a build over it fails `make test`.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SIZE_BUDGET = 30 * 1024;

const root = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));

rmSync(join(root, "dist"), { recursive: true, force: true });
await build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(root, "dist/tickwire.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  sourcemap: true,
  sourcesContent: true,
  legalComments: "none",
  logLevel: "warning",
});
// Type-checks the package (strict) and writes its declarations.
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", root], { stdio: "inherit" });

const js = readFileSync(join(root, "dist/tickwire.js"));
const size = { minified: js.length, gzipped: gzipSync(js, { level: 9 }).length, budget: SIZE_BUDGET };
if (args.has("--size")) console.log(JSON.stringify(size));
else console.log(`dist/tickwire.js: ${size.minified} bytes minified, ${size.gzipped} gzipped (budget ${SIZE_BUDGET})`);
if (size.gzipped > SIZE_BUDGET) {
  console.error(`dist/tickwire.js is ${size.gzipped} bytes gzipped, over the budget of ${SIZE_BUDGET}`);
  process.exit(1);
}

if (args.has("--test")) {
  const files = (dir) => readdirSync(join(root, dir)).filter((f) => f.endsWith(".ts")).map((f) => join(root, dir, f));
  rmSync(join(root, "build"), { recursive: true, force: true });
  await build({
    entryPoints: [...files("src"), ...files("test")],
    outdir: join(root, "build"),
    outbase: root,
    format: "esm",
    target: "es2022",
    platform: "node",
    sourcemap: "inline",
    logLevel: "warning",
  });
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "test")], { stdio: "inherit" });
}
