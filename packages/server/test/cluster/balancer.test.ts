import { get as httpGet } from "node:http";
import { fetchHealth, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deviceIdOn, pauseStore, startTestCluster, type TestCluster } from "../support/cluster.js";
import { connected, emitAck, HERE, openDevice } from "../support/devices.js";
import { register } from "../support/env.js";

/**
 * nginx in front of two nodes, on a store of this file's own (it is paused with SIGSTOP, which
 * would stall every other test file on a shared one).
 */
describe("the balancer while a node's store is slow", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 2, store: "sqlite" });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it("passes a node's failing health answer through, and keeps sending that node its devices", async () => {
    const account = await register(cluster.url, "balancer");
    const home = cluster.node(0);
    const deviceId = await deviceIdOn(cluster.url, home.nodeId, account.token);
    const resume = pauseStore(cluster);
    // The probe the operations guide shows: which node answers for this device, and how it is.
    const probe = async () => {
      const response = await fetch(`${cluster.url}/health?deviceId=${deviceId}`);
      return { status: response.status, node: response.headers.get("x-node-id") };
    };
    const sick = await waitFor(
      "the device's node to report its store down through nginx",
      async () => {
        const answer = await probe();
        return answer.status === 503 ? answer : undefined;
      },
      20_000,
      100,
    );
    // The answer is the device's own node's, not another node's after a retry.
    expect(sick.node).toBe(home.nodeId);
    expect((await probe()).node).toBe(home.nodeId);

    resume();
    await waitFor("the node to serve again", async () => (await fetchHealth(home.url)).status === 200, 30_000, 100);
    // Within nginx's fail_timeout of the probes above: had they marked the node failed, the device
    // would now be sent to the other node.
    const device = await connected(openDevice(cluster.url, account.token, deviceId));
    onTestFinished(() => {
      device.close();
    });
    expect((await emitAck(device, "location:update", HERE)).ok).toBe(true);
    const redis = new Redis(cluster.redisUrl);
    onTestFinished(() => {
      redis.disconnect();
    });
    expect(await redis.sismember(`presence:node:${home.nodeId}:sockets`, device.id as string)).toBe(1);
  });
});

describe("the balancer's limits per client address", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 1 });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  /** GET `path` through nginx from `localAddress` (127.0.0.2 is another client than this machine's own 127.0.0.1). */
  function getFrom(localAddress: string, path: string): Promise<{ status: number; body: string; retryAfter?: string }> {
    const { port } = new URL(cluster.url);
    return new Promise((resolve, reject) => {
      const request = httpGet({ host: "127.0.0.1", port, path, localAddress, agent: false }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, body, retryAfter: response.headers["retry-after"] as string }),
        );
      });
      request.on("error", reject);
    });
  }

  it("refuses a flood from one address in the API's error shape, and leaves this machine's own alone", async () => {
    // 1,000 at once: even a machine so busy that they take 10 s to arrive stays past the rate.
    const flood = await Promise.all(Array.from({ length: 1_000 }, () => getFrom("127.0.0.2", "/api/users/me")));
    const refused = flood.filter((answer) => answer.status === 429);
    // The burst (200) passes to the node (401: no token), the rest is refused before it.
    expect(flood.filter((answer) => answer.status === 401).length).toBeGreaterThanOrEqual(200);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]?.retryAfter).toBe("1");
    expect(JSON.parse(refused[0]?.body ?? "{}")).toEqual({
      error: { code: "RATE_LIMITED", message: "Too many requests from this address; retry in 1 s" },
    });

    const own = await Promise.all(Array.from({ length: 400 }, () => getFrom("127.0.0.1", "/api/users/me")));
    expect(own.filter((answer) => answer.status !== 401)).toEqual([]);
  });
});
