import { waitFor } from "@roadpulse/devstack";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deviceIdOn, startTestCluster, type TestCluster } from "../support/cluster.js";
import { connected, emitAck, HERE, NEXT_DOOR, openDevice } from "../support/devices.js";
import { register, registerDevice } from "../support/env.js";

/**
 * End-to-end through nginx with node processes: what a fleet spread over several nodes must
 * see. Devices are placed on chosen nodes by their deviceId (nginx hashes on it), and the node a
 * device landed on is proved by X-Node-Id.
 */
describe("three nodes behind nginx", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 3 });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it("delivers presence changes to a device on another node in the same region", async () => {
    const [nodeA, nodeB] = [cluster.node(0).nodeId, cluster.node(1).nodeId];
    const account = await register(cluster.url, "fleet");
    const a = await connected(
      openDevice(cluster.url, account.token, await deviceIdOn(cluster.url, nodeA, account.token)),
    );
    const b = await connected(
      openDevice(cluster.url, account.token, await deviceIdOn(cluster.url, nodeB, account.token)),
    );
    onTestFinished(() => {
      a.close();
      b.close();
    });

    const presence: Array<{ regionId: string; count: number }> = [];
    b.on("presence:updated", (update) => presence.push(update));
    const bJoined = await emitAck(b, "location:update", HERE);
    expect(bJoined).toMatchObject({ ok: true, regionId: "ttngkc" });
    await waitFor("B to hear itself counted", () =>
      presence.some((update) => update.regionId === "ttngkc" && update.count === 1),
    );

    const aJoined = await emitAck(a, "location:update", HERE);
    expect(aJoined).toMatchObject({ ok: true, regionId: "ttngkc" });
    await waitFor("B (other node, same region) to hear A arrive", () =>
      presence.some((update) => update.regionId === "ttngkc" && update.count === 2),
    );

    // A leaves: B hears the region back to one, again across nodes.
    a.close();
    await waitFor("B to hear A leave", () =>
      presence.some((update, i) => i > 1 && update.regionId === "ttngkc" && update.count === 1),
    );
  });
});

/** One device that long-polls for 60 s through nginx, alternating heartbeats and location updates. */
async function pollForAMinute(
  cluster: TestCluster,
): Promise<{ problems: string[]; acks: number; sameSession: boolean }> {
  const account = await register(cluster.url, "poller");
  const socket = await connected(
    openDevice(cluster.url, account.token, await registerDevice(cluster.url, account.token), ["polling"]),
  );
  try {
    const problems: string[] = [];
    socket.on("disconnect", (reason) => problems.push(`disconnect: ${reason}`));
    socket.on("connect_error", (error) => problems.push(`connect_error: ${error.message}`));
    const firstSession = socket.io.engine.id;
    const started = Date.now();
    let acks = 0;
    let moves = 0;
    while (Date.now() - started < 60_000) {
      const ack =
        acks % 2 === 0
          ? await emitAck(socket, "heartbeat", {})
          : await emitAck(socket, "location:update", moves++ % 2 === 0 ? HERE : NEXT_DOOR);
      if (ack.ok) acks++;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (!socket.connected) problems.push("not connected at the end");
    if (socket.io.engine.transport.name !== "polling") problems.push("transport changed");
    // A copy: closing the socket below adds its own, expected, "io client disconnect".
    return { problems: [...problems], acks, sameSession: socket.io.engine.id === firstSession };
  } finally {
    socket.close();
  }
}

describe("long-polling through nginx", () => {
  const clusters: TestCluster[] = [];
  afterAll(async () => {
    await Promise.all(clusters.map((cluster) => cluster.dispose()));
  });

  it(
    "keeps a polling-only device connected for 60 s with ≥ 100 acks, with WORKERS=1 and WORKERS=2",
    { timeout: 150_000 },
    async () => {
      for (const workers of [1, 2]) {
        clusters.push(await startTestCluster({ nodes: 2, env: { WORKERS: String(workers) } }));
      }
      const [single, double] = await Promise.all(clusters.map((cluster) => pollForAMinute(cluster)));
      for (const result of [single, double]) {
        expect(result?.problems).toEqual([]);
        expect(result?.sameSession).toBe(true);
        expect(result?.acks).toBeGreaterThanOrEqual(100);
      }
    },
  );
});
