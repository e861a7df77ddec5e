import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type PrometheusInstance, promtool, startPrometheus, waitFor } from "@roadpulse/devstack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { ROOT } from "./support.js";

interface Target {
  health: string;
  scrapeUrl: string;
  labels: Record<string, string>;
  lastError: string;
}
interface RuleGroup {
  name: string;
  rules: Array<{
    name: string;
    health: string;
    state?: string;
    alerts?: Array<{ labels: Record<string, string>; state: string }>;
  }>;
}

async function api<T>(prometheus: PrometheusInstance, path: string): Promise<T> {
  const response = await fetch(`${prometheus.url}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { status: string; data: T };
  expect(body.status).toBe("success");
  return body.data;
}

/**
 * A real Prometheus (Debian's package, on a free port, never the packaged service on 9090) with
 * the shipped alert rules, scraping a real local cluster: every node is an `up` target, the
 * rules load and evaluate, and a killed node drives RoadPulseNodeDown.
 */
describe("Prometheus against the local cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-ops-prometheus-"));
  const rules = join(ROOT, "deploy/prometheus/rules/roadpulse.rules.yml");
  let cluster: TestCluster;
  let prometheus: PrometheusInstance;

  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 3 });
    // The compose file's job, with static targets instead of DNS (no Docker here) and a fast pace.
    const config = {
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      rule_files: [rules],
      scrape_configs: [
        {
          job_name: "roadpulse",
          metrics_path: "/metrics",
          static_configs: [{ targets: cluster.nodes.map((node) => `127.0.0.1:${node?.metricsPort}`) }],
        },
      ],
    };
    const configFile = join(dir, "prometheus.yml");
    writeFileSync(configFile, stringify(config));
    const check = await promtool(["check", "config", configFile]);
    expect(check.code, check.output).toBe(0);
    const port = await freePort();
    expect(port).not.toBe(9090);
    prometheus = await startPrometheus({
      port,
      configFile,
      dataDir: join(dir, "data"),
      output: join(dir, "prometheus.log"),
    });
  }, 120_000);

  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("the shipped rules pass promtool check rules", async () => {
    const result = await promtool(["check", "rules", rules]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("sees every node as an up target, with each node's own series", async () => {
    const expected = cluster.nodes.map((node) => `${node?.metricsUrl}/metrics`).sort();
    const targets = await waitFor(
      "every node to be scraped successfully",
      async () => {
        const data = await api<{ activeTargets: Target[] }>(prometheus, "/api/v1/targets?state=active");
        const mine = data.activeTargets.filter((t) => t.labels.job === "roadpulse");
        return mine.length === expected.length && mine.every((t) => t.health === "up") ? mine : undefined;
      },
      60_000,
      250,
    );
    expect(targets.map((t) => t.scrapeUrl).sort()).toEqual(expected);

    // The `node` label each node puts on its series reaches Prometheus.
    const result = await waitFor("build info of every node", async () => {
      const data = await api<{ result: Array<{ metric: Record<string, string> }> }>(
        prometheus,
        `/api/v1/query?query=${encodeURIComponent("roadpulse_build_info")}`,
      );
      return data.result.length === expected.length ? data.result : undefined;
    });
    expect(result.map((r) => r.metric.node).sort()).toEqual(cluster.nodes.map((node) => node?.nodeId).sort());
  });

  it("loads and evaluates every shipped rule, and a dead node drives RoadPulseNodeDown", async () => {
    const groups = await waitFor(
      "every rule evaluated without error, and none pending or firing on a healthy cluster",
      async () => {
        // RoadPulseNoNodes may be pending for the first evaluations, before the first scrape.
        const data = await api<{ groups: RuleGroup[] }>(prometheus, "/api/v1/rules");
        const all = data.groups.flatMap((g) => g.rules);
        const settled = all.every((r) => r.health === "ok" && r.state === "inactive");
        return all.length > 0 && settled ? data.groups : undefined;
      },
      60_000,
      250,
    );
    const names = groups.flatMap((g) => g.rules.map((r) => r.name));
    for (const alert of ["RoadPulseNodeDown", "RoadPulseDegraded", "RoadPulseRedisDown", "RoadPulseAckLatencyHigh"]) {
      expect(names).toContain(alert);
    }

    const victim = cluster.node(1);
    await cluster.kill(1);
    const alert = await waitFor(
      "RoadPulseNodeDown to go pending for the killed node",
      async () => {
        const data = await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(
          prometheus,
          "/api/v1/alerts",
        );
        return data.alerts.find((a) => a.labels.alertname === "RoadPulseNodeDown");
      },
      60_000,
      250,
    );
    expect(alert.labels.instance).toBe(`127.0.0.1:${victim.metricsPort}`);
    expect(["pending", "firing"]).toContain(alert.state);
  });
});
