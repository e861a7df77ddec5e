import { fetchHealth, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deviceIdOn, startTestCluster, type TestCluster } from "../support/cluster.js";
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
    const deviceId = await deviceIdOn(cluster.url, home.nodeId, "probe");
    const storePid = cluster.store?.service?.child.pid;
    if (storePid === undefined) throw new Error("the private store has no process to pause");

    process.kill(storePid, "SIGSTOP");
    let continued = false;
    const resume = () => {
      if (!continued) process.kill(storePid, "SIGCONT");
      continued = true;
    };
    onTestFinished(resume);
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
