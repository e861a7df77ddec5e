// Bundles the ops map for the browser: Leaflet, socket.io-client and the app into dist/app.js and
// dist/app.css, next to dist/index.html. Nodes serve these files at /map (no CDN at run time).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  // The workspace packages' TypeScript sources, as the tests read them.
  conditions: ["roadpulse-source"],
  // Leaflet's stylesheet names a few small images: inlined, so the page needs nothing else.
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
