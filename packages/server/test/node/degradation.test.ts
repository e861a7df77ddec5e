import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, type RedisInstance, startFerretDB, startRedisServer, waitFor } from "@roadpulse/devstack";
import { MongoClient } from "mongodb";
import { afterEach, describe, expect, inject, it } from "vitest";
import { REDIS_DEGRADED_WARNING } from "../../src/redis/connection.js";
import {
  capturingLogger,
  connectDevice,
  mongoUri,
  register,
  registerDevice,
  startTestNode,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";
import { observation } from "../support/roads.js";
import { StallProxy } from "../support/stall-proxy.js";

async function health(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> & { services: Record<string, string> } }> {
  const response = await fetch(`${url}/health`);
  return { status: response.status, body: (await response.json()) as never };
}

describe("graceful degradation", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("keeps serving with Redis gone, warns once per outage, and recovers when it returns", async () => {
    const redis: RedisInstance = await startRedisServer({
      dir: join(tmpdir(), uniqueDbName("redis")),
      output: "ignore",
    });
    cleanups.push(() => redis.stop());
    const { log, lines } = capturingLogger("outage");
    const node: TestNode = await startTestNode({ REDIS_URL: redis.url }, { log });
    cleanups.push(() => node.close());
    expect((await health(node.url)).body.services.redis).toBe("connected");
    const account = await register(node.url, "outage");

    await redis.service?.kill();
    const degraded = await waitFor("health to report Redis down", async () => {
      const h = await health(node.url);
      return h.body.services.redis === "disconnected" ? h : undefined;
    });
    expect(degraded.status).toBe(200);
    expect(degraded.body).toMatchObject({
      status: "degraded",
      services: { mongodb: "connected", redis: "disconnected", socketio: "active" },
    });

    // Many requests and reconnect attempts later, the warning is still there exactly once.
    for (let i = 0; i < 20; i++) expect((await health(node.url)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const warnings = () => lines.filter((line) => line.msg === REDIS_DEGRADED_WARNING);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.level).toBe(40);
    expect(lines.some((line) => String(line.msg).startsWith("❌ Redis Client Error:"))).toBe(true);

    // Socket.IO still accepts authenticated connections while Redis is away.
    const client = await connectDevice(node.url, account.token);
    cleanups.push(async () => client.close());
    expect(client.connected).toBe(true);

    const revived = await startRedisServer({
      port: redis.port,
      dir: join(tmpdir(), uniqueDbName("redis")),
      output: "ignore",
    });
    cleanups.push(() => revived.stop());
    await waitFor("health to report Redis back", async () => (await health(node.url)).body.status === "ok", 15_000);
    expect(warnings()).toHaveLength(1);
  });

  it("reports MongoDB down as 503 degraded and comes back when it returns", async () => {
    const dir = join(tmpdir(), uniqueDbName("ferret"));
    const mongo: MongoInstance = await startFerretDB({ dataDir: dir, output: "ignore" });
    cleanups.push(() => mongo.stop());
    const node = await startTestNode({ MONGODB_URI: `${mongo.baseUri}/${uniqueDbName()}` });
    cleanups.push(() => node.close());
    expect((await health(node.url)).body.services.mongodb).toBe("connected");

    await mongo.service?.kill();
    const down = await waitFor("health to report MongoDB down", async () => {
      const h = await health(node.url);
      return h.body.services.mongodb === "disconnected" ? h : undefined;
    });
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: "degraded", services: { redis: "connected", socketio: "active" } });

    const revived = await startFerretDB({ port: mongo.port, dataDir: dir, output: "ignore" });
    cleanups.push(() => revived.stop());
    await waitFor("health to report MongoDB back", async () => (await health(node.url)).status === 200, 15_000);
  });

  it("reports MongoDB down when the store answers ping but not reads, and refuses batches in time", async () => {
    const proxy = await StallProxy.start(Number(new URL(inject("mongoBaseUri")).port));
    cleanups.push(() => proxy.stop());
    const uri = `mongodb://127.0.0.1:${proxy.port}/${uniqueDbName()}`;
    const node = await startTestNode({ MONGODB_URI: uri, MONGODB_TIMEOUT_MS: "2000" });
    cleanups.push(() => node.close());
    const account = await register(node.url, "stall");
    const deviceId = await registerDevice(node.url, account.token);
    const post = (batch: unknown[]) =>
      fetch(`${node.url}/api/observations`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${account.token}`,
          "x-device-id": deviceId,
        },
        body: JSON.stringify({ observations: batch }),
      });
    expect((await health(node.url)).status).toBe(200);

    // The store keeps answering `ping` and `hello` but no read or write reaches its engine.
    proxy.stall();
    const down = await waitFor("health to report MongoDB down", async () => {
      const h = await health(node.url);
      return h.body.services.mongodb === "disconnected" ? h : undefined;
    });
    expect(down.status).toBe(503);
    const stalledBatch = [observation(), observation()];
    const started = Date.now();
    const refused = await post(stalledBatch);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("STORAGE_UNAVAILABLE");
    // Bounded by MONGODB_TIMEOUT_MS (2 s): a few seconds, never a hang until nginx gives up.
    expect(Date.now() - started).toBeLessThan(15_000);

    proxy.resume();
    await waitFor("health to report MongoDB back", async () => (await health(node.url)).status === 200, 30_000);
    const batch = [observation(), observation()];
    const accepted = await post(batch);
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ accepted: 2, duplicates: 0 });
    // Nothing of the refused batch was claimed, and a resend of it is stored.
    const again = await post(stalledBatch);
    expect(await again.json()).toMatchObject({ accepted: 2 });
    const client = new MongoClient(`${inject("mongoBaseUri")}/${new URL(uri).pathname.slice(1)}`);
    cleanups.push(() => client.close());
    const ids = [...batch, ...stalledBatch].map((o) => o.id);
    expect(
      await client
        .db()
        .collection("observations")
        .countDocuments({ _id: { $in: ids } as never }),
    ).toBe(4);
  });

  it("runs without Redis on purpose when REDIS_URL=off", async () => {
    const node = await startTestNode({ REDIS_URL: "off", MONGODB_URI: mongoUri(uniqueDbName()) });
    cleanups.push(() => node.close());
    const h = await health(node.url);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: "ok", services: { redis: "disabled", mongodb: "connected" } });
  });
});
