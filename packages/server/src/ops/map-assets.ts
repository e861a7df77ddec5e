import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** One file of the ops map's page, held in memory with its validator. */
export interface MapAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/**
 * The ops map's page as `@roadpulse/ops-map` built it (esbuild bundles Leaflet and the app at build
 * time: no CDN), read once at start. Null when the package is not built: the node still serves
 * everything else and `/map` says what is missing.
 */
export function loadMapAssets(): Map<string, MapAsset> | null {
  try {
    const root = dirname(createRequire(import.meta.url).resolve("@roadpulse/ops-map/package.json"));
    const assets = new Map<string, MapAsset>();
    for (const [name, contentType] of Object.entries(FILES)) {
      const body = readFileSync(join(root, "dist", name));
      const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
      assets.set(name, { body, contentType, etag });
    }
    return assets;
  } catch {
    return null;
  }
}

/**
 * The map page's content security policy: everything from this origin (scripts, styles, the
 * Socket.IO connection), images also from the tile server when one is configured. Leaflet styles
 * elements through the DOM, which `style-src 'self'` allows; nothing inline is needed.
 */
export function mapContentSecurityPolicy(tileUrl: string | null): string {
  const tiles = tileUrl === null ? "" : ` ${tileSource(tileUrl)}`;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join("; ");
}

/** `https://{s}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`. */
function tileSource(tileUrl: string): string {
  const url = new URL(tileUrl.replaceAll(/\{[a-z]\}/g, "x"));
  const host = tileUrl.split("/")[2]?.replaceAll(/\{[a-z]\}/g, "*") ?? url.host;
  return `${url.protocol}//${host}`;
}
