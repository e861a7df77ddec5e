import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";

/** Where browser tests leave their screenshots (kept after the run; not in git). */
export const ARTIFACTS = fileURLToPath(new URL("../../../../test-artifacts/", import.meta.url));

/**
 * Debian's Chromium (scripts/test.sh installs it), headless, with nothing reaching outside the
 * machine: no background networking, updates, sync or QUIC; Playwright gives it a fresh profile.
 */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** The path of an artifact of `suite`, its folder created. */
export function artifactPath(suite: string, name: string): string {
  const dir = join(ARTIFACTS, suite);
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
