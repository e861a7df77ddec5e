import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startNodeProcess, waitFor } from "@roadpulse/devstack";
import type { Socket as ClientSocket } from "socket.io-client";
import { io as connectClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { connectDevice, redisUrl, register, TEST_JWT_SECRET } from "../support/env.js";
import { catalogue, expectPromtoolHappy, parseSamples, type Sample, scrape, total } from "./support.js";

/**
 * `/metrics` of a real local cluster (three node processes behind nginx, the run's private Redis
 * and FerretDB): what Prometheus will scrape passes `promtool check metrics`, carries the whole
 * catalogue, and counts the traffic that actually went through nginx, node by node.
 */
describe("metrics of the local cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-ops-metrics-"));
  const sockets: ClientSocket[] = [];
  let cluster: TestCluster;

  const scrapeAll = async (): Promise<Map<string, Sample[]>> => {
    const result = new Map<string, Sample[]>();
    for (const node of cluster.nodes) if (node) result.set(node.nodeId, parseSamples(await scrape(node.metricsUrl)));
    return result;
  };

  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 3 });
  }, 90_000);

  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await cluster?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("exports every catalogue metric in a form promtool accepts, on every node", async () => {
    const families = await catalogue();
    // The operator's metrics from the issue, all present in the catalogue.
    const names = families.map((family) => family.name);
    for (const name of [
      "roadpulse_connected_sockets",
      "roadpulse_socket_events_total",
      "roadpulse_ack_duration_seconds",
      "roadpulse_http_requests_total",
      "roadpulse_presence_operations_total",
      "roadpulse_redis_command_duration_seconds",
      "roadpulse_mongodb_write_duration_seconds",
      "roadpulse_observation_batch_size",
      "roadpulse_observations_total",
      "roadpulse_hazard_transitions_total",
      "roadpulse_adapter_messages_total",
      "roadpulse_degraded",
      "roadpulse_backend_up",
      "roadpulse_build_info",
      "roadpulse_process_cpu_seconds_total",
    ]) {
      expect(names).toContain(name);
    }
    for (const node of cluster.nodes) {
      if (!node) continue;
      const text = await scrape(node.metricsUrl);
      await expectPromtoolHappy(text);
      for (const family of families) expect(text).toContain(`# TYPE ${family.name} ${family.type}`);
      const samples = parseSamples(text);
      expect(total(samples, "roadpulse_build_info", { node: node.nodeId })).toBe(1);
      expect(total(samples, "roadpulse_degraded")).toBe(0);
      expect(total(samples, "roadpulse_backend_up", { service: "redis" })).toBe(1);
      expect(total(samples, "roadpulse_backend_up", { service: "mongodb" })).toBe(1);
      // No user, device or socket id ever becomes a label.
      for (const sample of samples) {
        expect(Object.keys(sample.labels)).not.toContain("userId");
        expect(Object.keys(sample.labels)).not.toContain("deviceId");
        expect(Object.keys(sample.labels)).not.toContain("socketId");
      }
    }
  });

  it("counts HTTP requests, handshakes, connections and writes that flow through nginx", async () => {
    const before = await scrapeAll();
    const account = await register(cluster.url, "ops-metrics");

    // Each request carries a device id, so nginx spreads them over the nodes; X-Node-Id says
    // which node answered, and that node alone must have counted it.
    const answeredBy = new Map<string, number>();
    const requests = 24;
    for (let i = 0; i < requests; i++) {
      const response = await fetch(
        `${cluster.url}/api/users/me?deviceId=ops-device-${i}-${randomBytes(3).toString("hex")}`,
        {
          headers: { authorization: `Bearer ${account.token}` },
        },
      );
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      const node = response.headers.get("x-node-id") ?? "?";
      answeredBy.set(node, (answeredBy.get(node) ?? 0) + 1);
    }
    expect(answeredBy.size).toBeGreaterThan(1);

    const devices = 9;
    for (let i = 0; i < devices; i++) sockets.push(await connectDevice(cluster.url, account.token));
    // A refused handshake is counted too.
    const refused = connectClient(cluster.url, {
      auth: { token: "not-a-token" },
      query: { deviceId: "ops-refused-device" },
      transports: ["websocket"],
      reconnection: false,
    });
    await new Promise<void>((resolve) => refused.once("connect_error", () => resolve()));
    refused.close();

    const after = await waitFor("every node to show the traffic", async () => {
      const now = await scrapeAll();
      const sockets = [...now.values()].reduce((sum, s) => sum + total(s, "roadpulse_connected_sockets"), 0);
      return sockets === devices ? now : undefined;
    });
    const delta = (node: string, name: string, labels: Record<string, string> = {}) =>
      total(after.get(node) ?? [], name, labels) - total(before.get(node) ?? [], name, labels);
    const sumDelta = (name: string, labels: Record<string, string> = {}) =>
      [...after.keys()].reduce((sum, node) => sum + delta(node, name, labels), 0);

    for (const node of after.keys()) {
      expect(delta(node, "roadpulse_http_requests_total", { route: "/api/users/me", status_class: "2xx" })).toBe(
        answeredBy.get(node) ?? 0,
      );
      expect(delta(node, "roadpulse_http_request_duration_seconds_count", { route: "/api/users/me" })).toBe(
        answeredBy.get(node) ?? 0,
      );
    }
    expect(sumDelta("roadpulse_http_requests_total", { route: "/api/auth/register", status_class: "2xx" })).toBe(1);
    expect(sumDelta("roadpulse_mongodb_write_duration_seconds_count", { collection: "users" })).toBe(1);
    expect(sumDelta("roadpulse_socket_events_total", { event: "connect", outcome: "ok" })).toBe(devices);
    expect(sumDelta("roadpulse_socket_events_total", { event: "connect", outcome: "rejected" })).toBe(1);
    // Devices are spread too, and every node still passes promtool with labelled series present.
    expect([...after.values()].filter((s) => total(s, "roadpulse_connected_sockets") > 0).length).toBeGreaterThan(1);
    for (const node of cluster.nodes) if (node) await expectPromtoolHappy(await scrape(node.metricsUrl));

    // A health check samples the Redis round trip on the node that answered it.
    const health = await fetch(`${cluster.url}/health?deviceId=ops-health-probe`);
    expect(health.status).toBe(200);
    const prober = health.headers.get("x-node-id") ?? "?";
    const pings = total((await scrapeAll()).get(prober) ?? [], "roadpulse_redis_command_duration_seconds_count", {
      op: "ping",
    });
    expect(pings).toBeGreaterThan(
      total(after.get(prober) ?? [], "roadpulse_redis_command_duration_seconds_count", { op: "ping" }),
    );

    for (const socket of sockets.splice(0)) socket.disconnect();
    await waitFor("the connection gauges to return to zero", async () => {
      const now = await scrapeAll();
      return [...now.values()].every((s) => total(s, "roadpulse_connected_sockets") === 0);
    });
  });

  it("covers all of a node's workers when WORKERS=2", async () => {
    const port = await freePort();
    const node = await startNodeProcess({
      nodeId: "ops-workers",
      port,
      env: {
        REDIS_URL: redisUrl(),
        MONGODB_URI: cluster.mongoUri,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: "warn",
        WORKERS: "2",
        ADAPTER_CHANNEL_PREFIX: `ops-workers-${randomBytes(4).toString("hex")}`,
      },
      output: join(dir, "ops-workers.log"),
      readyTimeoutMs: 40_000,
    });
    const opened: ClientSocket[] = [];
    try {
      const account = await register(node.url, "ops-workers");
      // Enough connections that the primary hands some to each worker (fewest sessions first).
      for (let i = 0; i < 4; i++) opened.push(await connectDevice(node.url, account.token));
      const text = await waitFor("the aggregated gauge to count every connection", async () => {
        const body = await scrape(node.metricsUrl);
        return total(parseSamples(body), "roadpulse_connected_sockets") === 4 ? body : undefined;
      });
      await expectPromtoolHappy(text);
      const samples = parseSamples(text);
      expect(total(samples, "roadpulse_socket_events_total", { event: "connect", outcome: "ok" })).toBe(4);
      // One build, not one per worker; the node is degraded only if a worker is.
      expect(samples.filter((s) => s.name === "roadpulse_build_info")).toHaveLength(1);
      expect(total(samples, "roadpulse_degraded")).toBe(0);
      // Every RoadPulse family survives aggregation (prom-client omits a few of its own process
      // defaults, such as the start time, when merging workers).
      for (const family of await catalogue()) {
        if (/^roadpulse_(process|nodejs)_/.test(family.name)) continue;
        expect(text).toContain(`# TYPE ${family.name} ${family.type}`);
      }
    } finally {
      for (const socket of opened) socket.disconnect();
      await node.service.stop("SIGTERM", 15_000);
    }
  }, 90_000);
});
