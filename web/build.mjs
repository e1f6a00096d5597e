// Builds the browser code into one folder (default web/dist), which the sluice binary embeds
// and serves: tracker.js (checked against its size budget), demo.html and the console. Also type-checks the
// tracker (tsc, strict; esbuild only strips types) and builds its npm package, declarations
// included, into web/tracker/dist.
//
//   node web/build.mjs [--out DIR]

import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf("--out");
const out = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(here, "dist"));
// Browsers of the last few years (ES2018: object spread, async/await).
const target = ["es2018"];
const TRACKER_BUDGET_GZIP = 8 * 1024;

await mkdir(out, { recursive: true });

// tsc over a folder (strict; esbuild only strips types): the build stops on a type error.
function typeCheck(folder) {
  try {
    execFileSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "-p", join(here, folder, "tsconfig.json")], { stdio: "inherit" });
  } catch {
    console.error(`${folder}: type errors above`);
    process.exit(1);
  }
}

// One minified script for a <script> tag.
function script(entry, name, options = {}) {
  return build({ entryPoints: [join(here, entry)], outfile: join(out, name), bundle: true, minify: true, format: "iife", target, legalComments: "none", ...options });
}

typeCheck("tracker");
// The script tag build: window.sluice.
await script("tracker/src/global.ts", "tracker.js");
const tracker = await readFile(join(out, "tracker.js"));
const gzipped = gzipSync(tracker, { level: 9 }).length;
console.log(`tracker.js: ${tracker.length} bytes, ${gzipped} gzipped (budget ${TRACKER_BUDGET_GZIP})`);
if (gzipped > TRACKER_BUDGET_GZIP) {
  console.error(`tracker.js is over its size budget: ${gzipped} > ${TRACKER_BUDGET_GZIP} bytes gzipped`);
  process.exit(1);
}

// The npm package (@sluice/tracker): ES modules, React left to the app.
await build({
  entryPoints: [join(here, "tracker/src/index.ts"), join(here, "tracker/src/react.ts")],
  outdir: join(here, "tracker/dist"),
  bundle: true,
  format: "esm",
  target,
  external: ["react"],
});

await copyFile(join(here, "demo/index.html"), join(out, "demo.html"));

// The console (Preact): type-checked like the tracker, one script and its page and styles.
typeCheck("console");
await script("console/src/main.tsx", "console.js", { jsx: "automatic", jsxImportSource: "preact" });
await copyFile(join(here, "console/index.html"), join(out, "console.html"));
// uPlot's styles, then the console's own.
await writeFile(join(out, "console.css"), (await readFile(join(here, "node_modules/uplot/dist/uPlot.min.css"), "utf8")) + "\n" + (await readFile(join(here, "console/console.css"), "utf8")));
