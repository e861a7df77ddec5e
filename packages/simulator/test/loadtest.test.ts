import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const LOADTEST = fileURLToPath(new URL("../../../loadtest/", import.meta.url));
const scenarios = readdirSync(LOADTEST).filter((name) => name.endsWith(".sh") && name !== "run.sh");

/**
 * The ready-made scenarios in loadtest/ must keep working as the CLI changes: each one is run with
 * --dry-run, which parses every flag and threshold (unknown metric names included) and prints the
 * plan without starting a device.
 */
describe("loadtest scenarios", () => {
  it("exist: smoke, rush hour, soak and truth", () => {
    expect(scenarios.sort()).toEqual(["rush-hour.sh", "smoke.sh", "soak.sh", "truth.sh"]);
  });

  it.each(scenarios)("%s parses: its flags and thresholds are valid and it honours ROADPULSE_URL", (scenario) => {
    const run = spawnSync("bash", [`${LOADTEST}${scenario}`, "--dry-run"], {
      encoding: "utf8",
      env: { ...process.env, ROADPULSE_URL: "http://example.test:8080" },
      timeout: 30_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { url: string; thresholds: string[] };
    expect(plan.url).toBe("http://example.test:8080");
    expect(plan.thresholds.length).toBeGreaterThan(3);
  });
});
