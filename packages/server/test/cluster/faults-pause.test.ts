import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Cluster,
  fetchHealth,
  type MongoInstance,
  type RedisInstance,
  startFerretDB,
  startRedisServer,
  waitFor,
} from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deviceIdOn } from "../support/cluster.js";
import { connected, emitAck, HERE, openDevice } from "../support/devices.js";
import { register, TEST_JWT_SECRET } from "../support/env.js";
import { TestFleet } from "../support/fleet.js";

/**
 * Faults of the backing services under a small fleet, with a store and a Redis of this file's own
 * (they are paused with SIGSTOP, which would stall every other test file on shared ones), and a
 * supervised two-node cluster behind nginx, as `scripts/start.sh` runs it.
 */
describe("a fleet while the store or Redis hangs, and a node dies", { timeout: 240_000 }, () => {
  let dir: string;
  let store: MongoInstance;
  let redis: RedisInstance;
  let cluster: Cluster;
  let mongoUri: string;
  const supervisorLog: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roadpulse-faults-"));
    store = await startFerretDB({ dataDir: join(dir, "ferretdb"), output: join(dir, "ferretdb.log") });
    redis = await startRedisServer({ dir, output: "ignore" });
    mongoUri = `${store.baseUri}/faults`;
    cluster = await Cluster.start({
      nodes: 2,
      redisUrl: redis.url,
      mongoUri,
      env: {
        LOG_LEVEL: "warn",
        JWT_SECRET: TEST_JWT_SECRET,
        ADAPTER_CHANNEL_PREFIX: "faults",
        // Shorter than the pauses below, so store calls in flight when the store stops hit their
        // deadline while it is stopped (the outcome the store never confirmed).
        MONGODB_TIMEOUT_MS: "3000",
      },
      dir,
      output: (name) => join(dir, `${name}.log`),
      nodeIdPrefix: `f${randomBytes(2).toString("hex")}`,
      supervise: { log: (line) => supervisorLog.push(line) },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await Promise.allSettled([store?.stop(), redis?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** SIGSTOP for `ms`, then SIGCONT (also if the test fails meanwhile); returns both instants. */
  async function pause(pid: number | undefined, ms: number): Promise<{ pausedAt: number; continuedAt: number }> {
    if (pid === undefined) throw new Error("no process to pause");
    onTestFinished(() => {
      process.kill(pid, "SIGCONT");
    });
    const pausedAt = Date.now();
    process.kill(pid, "SIGSTOP");
    // The fault lasts this long on purpose: a hang is a duration, not a condition to wait for.
    await new Promise((resolve) => setTimeout(resolve, ms));
    process.kill(pid, "SIGCONT");
    return { pausedAt, continuedAt: Date.now() };
  }

  async function everyNodeOk(): Promise<boolean> {
    const bodies = await Promise.all(
      cluster.nodes.map((node) => (node ? fetchHealth(node.url).catch(() => undefined) : undefined)),
    );
    return bodies.every((health) => health?.status === 200 && health.body.status === "ok");
  }

  /** Ids of `ids` that are not in the store. */
  async function missingFromStore(ids: string[]): Promise<string[]> {
    const mongo = new MongoClient(mongoUri);
    try {
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        const docs = await mongo
          .db()
          .collection<{ _id: string }>("observations")
          .find({ _id: { $in: ids.slice(i, i + 500) } }, { projection: { _id: 1 } })
          .toArray();
        for (const doc of docs) found.add(doc._id);
      }
      return ids.filter((id) => !found.has(id));
    } finally {
      await mongo.close();
    }
  }

  function startFleet(token: string): TestFleet {
    const fleet = new TestFleet({
      url: cluster.url,
      token,
      devices: 20,
      locationEveryMs: 1_000,
      batchEveryMs: 1_000,
      batchSize: 5,
      ackTimeoutMs: 8_000,
    });
    onTestFinished(() => fleet.close());
    fleet.start();
    return fleet;
  }

  /** Lets every device's kept batches through, then checks every id ever acknowledged. */
  async function drainAndCheck(fleet: TestFleet): Promise<void> {
    fleet.stopGenerating();
    await waitFor("every kept batch to be acknowledged", () => fleet.unacknowledged === 0, 120_000, 100);
    fleet.close();
    expect(fleet.ackedIds.size).toBeGreaterThan(0);
    expect(await missingFromStore([...fleet.ackedIds])).toEqual([]);
  }

  it("store paused 10 s: no id acknowledged ok is missing, every node is ok within 10 s of it continuing", async () => {
    const account = await register(cluster.url, "store-pause");
    const fleet = startFleet(account.token);
    await waitFor("observations to be acknowledged", () => fleet.ackedIds.size >= 200, 60_000);

    const { pausedAt, continuedAt } = await pause(store.service?.pid, 10_000);
    await waitFor("every node to report ok again", everyNodeOk, 10_000, 100);
    expect(Date.now() - continuedAt).toBeLessThan(10_000);
    // The fault was felt: batches sent during the pause got no "stored" answer while it lasted
    // (those still in flight when it ended may be stored and acknowledged after it).
    const sentDuringPause = fleet.acks.filter(
      (ack) => ack.event === "observations:submit" && ack.sentAt >= pausedAt && ack.sentAt < continuedAt,
    );
    expect(sentDuringPause.length).toBeGreaterThan(0);
    const answeredOkDuringPause = sentDuringPause.filter((ack) => ack.ok && ack.sentAt + ack.ms < continuedAt);
    expect({ pausedAt, continuedAt, answeredOkDuringPause }).toEqual({
      pausedAt,
      continuedAt,
      answeredOkDuringPause: [],
    });

    const before = fleet.ackedIds.size;
    await waitFor("acks to flow again", () => fleet.ackedIds.size >= before + 200, 60_000);
    await drainAndCheck(fleet);
  });

  it("Redis paused 10 s: locations are answered within 2 s from memory, sessions are written back", async () => {
    const account = await register(cluster.url, "redis-pause");
    const fleet = startFleet(account.token);
    await waitFor("observations to be acknowledged", () => fleet.ackedIds.size >= 200, 60_000);

    const pid = redis.service?.pid;
    const checkHealth = (async () => {
      // Mid-pause, a node says it serves degraded (HTTP 200), not that it is down.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      return await fetchHealth(cluster.node(0).url);
    })();
    const { pausedAt, continuedAt } = await pause(pid, 10_000);
    const midPause = await checkHealth;
    expect(midPause.status).toBe(200);
    expect(midPause.body).toMatchObject({ status: "degraded", services: { redis: "disconnected" } });

    const locations = fleet.acks.filter(
      (ack) => ack.event === "location:update" && ack.sentAt >= pausedAt && ack.sentAt < continuedAt,
    );
    expect(locations.length).toBeGreaterThan(50);
    expect(locations.filter((ack) => !ack.ok || ack.ms >= 2_000)).toEqual([]);

    await waitFor("every node to report ok again", everyNodeOk, 10_000, 100);
    const client = new Redis(redis.url);
    onTestFinished(() => {
      client.disconnect();
    });
    await waitFor(
      "every device's session to be written back to Redis",
      async () => {
        const ids = fleet.devices.map((device) => device.id).filter((id) => id !== undefined);
        const exists = await Promise.all(ids.map((id) => client.exists(`session:${id}`)));
        return ids.length === fleet.devices.length && exists.every((n) => n === 1);
      },
      15_000,
      250,
    );
    await drainAndCheck(fleet);
  });

  it("a node killed with SIGKILL is restarted by the cluster and serves devices again", async () => {
    const victim = cluster.node(1);
    const account = await register(cluster.url, "restart");
    process.kill(victim.service.pid as number, "SIGKILL");
    const restarted = await waitFor(
      "the killed node to be restarted",
      () => {
        const node = cluster.nodes[1];
        return node !== undefined && node.service.pid !== victim.service.pid ? node : undefined;
      },
      30_000,
      100,
    );
    expect(supervisorLog.join("\n")).toMatch(new RegExp(`${victim.nodeId} was killed by a signal; restarting it`));
    expect((await fetchHealth(restarted.url)).body.status).toBe("ok");

    // nginx routes its share of devices to it again, and it serves them.
    const deviceId = await waitFor(
      "nginx to route a device to the restarted node",
      () => deviceIdOn(cluster.url, victim.nodeId, "back").catch(() => undefined),
      15_000,
      200,
    );
    const device = await connected(openDevice(cluster.url, account.token, deviceId));
    onTestFinished(() => {
      device.close();
    });
    expect(await emitAck(device, "location:update", HERE)).toMatchObject({ ok: true });
    const client = new Redis(redis.url);
    onTestFinished(() => {
      client.disconnect();
    });
    const session = JSON.parse((await client.get(`session:${device.id}`)) ?? "{}") as { nodeId?: string };
    expect(session.nodeId).toBe(victim.nodeId);
  });
});
