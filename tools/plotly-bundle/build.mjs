// Builds static/vendor/plotly/plotly.min.js from the plotly.js npm package: see build.sh, which runs this.
// As plotly.js's own dist bundles are built (esbuild, IIFE, global `Plotly`), less what we never draw:
//  - only the trace types in entry.js;
//  - attribute descriptions stripped from the source (they are the schema's documentation, unused at run time),
//    as plotly.js does for its own dist files;
//  - the one CDN address, the default `topojsonURL` (map outlines, which only map charts fetch), becomes a
//    relative path nothing here asks for: pages and the self-contained reports name no CDN (offline clinics);
//  - maplibre's stylesheet, which plotly's registry imports for map charts, goes to a file we do not ship, so
//    the bundle injects no <style> but its global one (which {% plotly_css %} pre-empts under our CSP).
import { readFile, writeFile } from "node:fs/promises";
import { build } from "esbuild";

const [out, version] = process.argv.slice(2);
const traces = "scatter, bar, heatmap, funnel";

// `description: '...'` and `description: [...].join(' ')`, as attribute files write them. The patterns read
// string literals whole, so a bracket or comma inside one (or a line break before the join's argument) cannot
// make a match run on into the code that follows.
const STRING = String.raw`(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")`;
const DESCRIPTIONS = [
  new RegExp(String.raw`\s*description:\s*\[(?:[^\[\]'"\x60]|${STRING})*\]\.join\(\s*${STRING}?\s*\),?`, "g"),
  new RegExp(String.raw`\s*description:\s*${STRING},?(?=\s*[}\n])`, "g"),
];

const stripDescriptions = {
  name: "strip-descriptions",
  setup(b) {
    b.onLoad({ filter: /plotly\.js[\\/]src[\\/].*\.js$/ }, async (args) => {
      let contents = await readFile(args.path, "utf8");
      for (const pattern of DESCRIPTIONS) contents = contents.replace(pattern, "");
      return { contents, loader: "js" };
    });
  },
};

await build({
  entryPoints: [new URL("./entry.js", import.meta.url).pathname],
  outfile: out,
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Plotly",
  target: "es2016",
  define: { global: "window", "define.amd": "false", "process.env.NODE_DEBUG": "false" },
  alias: { regl: "@plotly/regl", stream: "stream-browserify" },
  plugins: [stripDescriptions],
  legalComments: "none",
  banner: {
    js: `/**\n* plotly.js v${version} (partial bundle: ${traces})\n* Copyright 2012-2026, Plotly, Inc.\n* All rights reserved.\n* Licensed under the MIT license\n*/`,
  },
  logLevel: "warning",
});

// The one CDN address of the bundle (see above): rewritten, and the build fails if plotly.js moves it.
const MAP_CDN = '"https://cdn.plot.ly/un/"';
const bundle = await readFile(out, "utf8");
if (!bundle.includes(MAP_CDN) || /https?:\/\/cdn\./.test(bundle.replace(MAP_CDN, ""))) {
  throw new Error("expected exactly one CDN address, the topojsonURL default: check the plotly.js version");
}
await writeFile(out, bundle.replace(MAP_CDN, '"topojson/"'));
