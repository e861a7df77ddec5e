import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSamples } from "../../server/test/ops/support.js";
import { startTestCluster, type TestCluster } from "../../server/test/support/cluster.js";
import { readReport, runCli } from "./support/cli.js";

/**
 * The other side of the abuse limits (server/test/abuse/through-nginx.test.ts): a normal fleet at
 * its normal rates, through nginx from an address of its own (127.0.0.2, so the per-address limits
 * count it as they would a carrier's address), trips none of them. Checked on both sides: the
 * simulator sees no refusal, and no node counted a bound biting.
 */
describe("a normal fleet and the limits", () => {
  let cluster: TestCluster;
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-sim-limits-"));
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 2, store: "postgresql" });
  });
  afterAll(async () => {
    await cluster?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("60 devices from one address for 20 s: no limit bites", async () => {
    const json = join(dir, "fleet.json");
    // biome-ignore format: one flag per line reads better
    const run = await runCli(
      [
        "fleet", "--url", cluster.url, "--local-address", "127.0.0.2", "--devices", "60", "--workers", "1",
        "--ramp", "5s", "--duration", "15s", "--batch-size", "2", "--ack-timeout", "30s", "--json", json,
        "--threshold", "connected==60", "--threshold", "connect_failures==0", "--threshold", "ack_errors==0",
      ],
      180_000,
    );
    expect(run.code, run.output).toBe(0);
    const f = readReport(json).figures;
    expect(f.obs_acked).toBeGreaterThan(0);
    for (const node of cluster.nodes) {
      if (!node) continue;
      const samples = parseSamples(await (await fetch(`${node.metricsUrl}/metrics`)).text());
      const bitten = samples.filter((s) => s.name === "roadpulse_limits_total" && s.value > 0);
      expect(bitten, `${node.nodeId}: limits that bit`).toEqual([]);
    }
  });
});
