import { waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deviceIdOn, nodeForDevice, startTestCluster, type TestCluster } from "../support/cluster.js";
import { connected, emitAck, HERE, NEXT_DOOR, observation, openDevice } from "../support/devices.js";
import { register, registerDevice } from "../support/env.js";

/** Road data and fail-over through nginx with three node processes. */
describe("road data across three nodes behind nginx", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ nodes: 3 });
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  it("tells a device on another node, in the neighbouring region, that a hazard was confirmed", async () => {
    const account = await register(cluster.url, "hazards");
    const listener = await connected(
      openDevice(cluster.url, account.token, await deviceIdOn(cluster.url, cluster.node(1).nodeId, account.token)),
    );
    onTestFinished(() => {
      listener.close();
    });
    expect((await emitAck(listener, "location:update", NEXT_DOOR)).ok).toBe(true);
    const hazards: Array<{ status: string }> = [];
    listener.on("hazard:updated", (update) => hazards.push(update));

    // Three people, each on another node than the listener's, report the same pothole.
    const reporters = await Promise.all(
      [0, 2, 0].map(async (node) => {
        const person = await register(cluster.url, `reporter-${node}`);
        const deviceId = await deviceIdOn(cluster.url, cluster.node(node).nodeId, person.token);
        return await connected(openDevice(cluster.url, person.token, deviceId));
      }),
    );
    onTestFinished(() => {
      for (const reporter of reporters) reporter.close();
    });
    for (const [i, reporter] of reporters.entries()) {
      const pothole = observation(
        { latitude: HERE.latitude + i * 0.00002, longitude: HERE.longitude },
        { event: "pothole" },
      );
      expect(await emitAck(reporter, "observations:submit", { observations: [pothole] })).toMatchObject({
        ok: true,
        accepted: 1,
      });
      // Reports of one pothole come seconds apart on the road; waiting for each to be folded in
      // (heard as an update) keeps two nodes from each opening the hazard at the same instant.
      await waitFor(`report ${i + 1} to be heard`, () => hazards.length > i);
    }
    await waitFor("the listener to hear the hazard confirmed", () =>
      hazards.some((hazard) => hazard.status === "confirmed"),
    );
  });

  it("fails over: a SIGKILLed node's devices reconnect within 10 s, nothing acked is lost, its sessions vanish", async () => {
    const victim = 2;
    const victimId = cluster.node(victim).nodeId;
    // 50 devices of 10 people (a few each, as a household has).
    const accounts = await Promise.all(Array.from({ length: 10 }, (_, i) => register(cluster.url, `failover-${i}`)));
    const account = accounts[0] as (typeof accounts)[number];
    const devices = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const { token } = accounts[i % accounts.length] as (typeof accounts)[number];
        const deviceId =
          i < 20 ? await deviceIdOn(cluster.url, victimId, token) : await registerDevice(cluster.url, token);
        return connected(openDevice(cluster.url, token, deviceId));
      }),
    );
    onTestFinished(() => {
      for (const device of devices) device.close();
    });
    for (const device of devices) expect((await emitAck(device, "location:update", HERE)).ok).toBe(true);
    const victimSockets = devices.slice(0, 20).map((device) => device.id as string);

    // Every device keeps submitting; only observations whose ack said "accepted" count as stored.
    const acked: string[] = [];
    let sending = true;
    const senders = devices.map(async (device) => {
      while (sending) {
        if (device.connected) {
          const item = observation(HERE);
          try {
            const ack = await emitAck(device, "observations:submit", { observations: [item] }, 5_000);
            if (ack.ok && ack.accepted === 1) acked.push(item.id);
          } catch {
            // No ack (its node died mid-flight): nothing was claimed, so nothing is expected.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    // Deadlines sized for a loaded two-core machine: the store's pace, not the test's, decides.
    await waitFor("observations to be acked", () => acked.length > 100, 60_000);
    const killedAt = Date.now();
    await cluster.kill(victim);
    await waitFor(
      "every device to be connected again",
      () =>
        devices.every((device) => device.connected && device.id !== undefined && !victimSockets.includes(device.id)),
      10_000,
      20,
    );
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    for (const device of devices.slice(0, 20)) {
      expect(await nodeForDevice(cluster.url, String(device.io.opts.query?.deviceId))).not.toBe(victimId);
    }
    const ackedBeforeRecovery = acked.length;
    await waitFor("acks to flow again after fail-over", () => acked.length > ackedBeforeRecovery + 100, 60_000);
    sending = false;
    await Promise.all(senders);

    const mongo = new MongoClient(cluster.mongoUri);
    onTestFinished(() => mongo.close());
    const stored = await mongo
      .db()
      .collection<{ _id: string }>("observations")
      .countDocuments({ _id: { $in: acked } });
    expect(stored).toBe(acked.length);

    const redis = new Redis(cluster.redisUrl);
    onTestFinished(() => {
      redis.disconnect();
    });
    await waitFor(
      "the dead node's sessions to be reaped",
      async () => {
        const left = await Promise.all(victimSockets.map((id) => redis.exists(`session:${id}`)));
        const members = await redis.smembers("region:ttngkc:members");
        return left.every((exists) => exists === 0) && victimSockets.every((id) => !members.includes(id));
      },
      30_000,
      250,
    );

    // A node started afterwards joins and serves its share of devices.
    await cluster.restart(victim);
    // nginx retries a node it marked failed after fail_timeout (3 s): wait until it routes there.
    const lateDevice = await waitFor(
      "nginx to route devices to the restarted node",
      () => deviceIdOn(cluster.url, victimId, account.token).catch(() => undefined),
      15_000,
      200,
    );
    const newcomer = await connected(openDevice(cluster.url, account.token, lateDevice));
    onTestFinished(() => {
      newcomer.close();
    });
    expect((await emitAck(newcomer, "location:update", HERE)).ok).toBe(true);
    // Served there, as its presence says: not merely what a probe through nginx answers.
    expect(await redis.sismember(`presence:node:${victimId}:sockets`, newcomer.id as string)).toBe(1);
  });
});
