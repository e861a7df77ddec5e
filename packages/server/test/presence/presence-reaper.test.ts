import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RedisInstance, startNodeProcess, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectDevice,
  dropDatabase,
  mongoUri,
  register,
  startTestNode,
  TEST_JWT_SECRET,
  uniqueDbName,
} from "../support/env.js";

const DELHI = { latitude: 28.7037, longitude: 77.2079 };
const REGION = ngeohash.encode(DELHI.latitude, DELHI.longitude, 6);
const EAST = ngeohash.neighbors(REGION)[2] ?? "";
const EAST_BOX = ngeohash.decode_bbox(EAST);
const EAST_SPOT = { latitude: (EAST_BOX[0] + EAST_BOX[2]) / 2, longitude: (EAST_BOX[1] + EAST_BOX[3]) / 2 };

function locate(socket: ClientSocket, position: { latitude: number; longitude: number }): Promise<unknown> {
  return socket.timeout(10_000).emitWithAck("location:update", position);
}

describe("reaping sessions without a live owner", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function ownRedis(): Promise<{ server: RedisInstance; redis: Redis }> {
    const server = await startRedisServer({ dir: join(tmpdir(), uniqueDbName("redis")), output: "ignore" });
    cleanups.push(() => server.stop());
    const redis = new Redis(server.url);
    cleanups.push(() => redis.disconnect());
    return { server, redis };
  }

  it("removes a SIGKILLed node's sockets from every region set within 30 s while another node runs", async () => {
    const { server, redis } = await ownRedis();
    const mongodbUri = mongoUri(uniqueDbName());
    cleanups.push(() => dropDatabase(mongodbUri));
    // Short liveness and reaper periods keep the test quick; the defaults give 20 s.
    const env = {
      HOST: "127.0.0.1",
      REDIS_URL: server.url,
      MONGODB_URI: mongodbUri,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: "warn",
      NODE_LIVENESS_TTL_SECONDS: "2",
      REAPER_INTERVAL_MS: "500",
    };
    const suffix = uniqueDbName("n");
    const survivor = await startNodeProcess({
      nodeId: `survivor-${suffix}`,
      port: await freePort(),
      env,
      output: "ignore",
    });
    cleanups.push(() => survivor.service.stop());
    const victim = await startNodeProcess({
      nodeId: `victim-${suffix}`,
      port: await freePort(),
      env,
      output: "ignore",
    });
    cleanups.push(() => victim.service.stop());

    const account = await register(survivor.url, "reaped");
    const staying = await connectDevice(survivor.url, account.token);
    cleanups.push(() => staying.close());
    await locate(staying, DELHI);
    const doomed: ClientSocket[] = [];
    for (const position of [DELHI, DELHI, EAST_SPOT]) {
      const socket = await connectDevice(victim.url, account.token);
      cleanups.push(() => socket.close());
      await locate(socket, position);
      doomed.push(socket);
    }
    const doomedIds = doomed.map((socket) => socket.id ?? "");
    expect((await redis.smembers(`region:${REGION}:members`)).sort()).toEqual(
      [staying.id, doomedIds[0], doomedIds[1]].sort(),
    );
    expect(await redis.smembers(`region:${EAST}:members`)).toEqual([doomedIds[2]]);

    await victim.service.kill();
    await waitFor(
      "the killed node's sockets to leave every region set",
      async () => {
        const here = await redis.smembers(`region:${REGION}:members`);
        const east = await redis.smembers(`region:${EAST}:members`);
        return here.length === 1 && here[0] === staying.id && east.length === 0;
      },
      30_000,
      100,
    );
    for (const id of doomedIds) {
      expect(await redis.exists(`session:${id}`, `heartbeat:${id}`)).toBe(0);
    }
    expect(await redis.smembers(`user:${account.userId}:sessions`)).toEqual([staying.id]);
    expect(await redis.exists(`session:${staying.id}`)).toBe(1);
    await waitFor("the dead node to leave presence:nodes", async () => {
      const nodes = await redis.smembers("presence:nodes");
      return !nodes.includes(victim.nodeId) && nodes.includes(survivor.nodeId);
    });
    expect(await redis.exists(`presence:node:${victim.nodeId}:sockets`)).toBe(0);
  });

  it("reaps a session whose heartbeat expired, and the device's next event writes it back", async () => {
    const { server, redis } = await ownRedis();
    const node = await startTestNode({ REDIS_URL: server.url, REAPER_INTERVAL_MS: "200" });
    cleanups.push(() => dropDatabase(node.env.MONGODB_URI ?? ""));
    cleanups.push(() => node.close());
    const account = await register(node.url, "silent");
    const socket = await connectDevice(node.url, account.token);
    cleanups.push(() => socket.close());
    const id = socket.id ?? "";
    await locate(socket, DELHI);

    // What the heartbeat TTL does after 5 silent minutes, done at once.
    await redis.del(`heartbeat:${id}`);
    await waitFor("the silent session to be reaped", async () => {
      const gone = (await redis.exists(`session:${id}`)) === 0;
      return gone && (await redis.scard(`region:${REGION}:members`)) === 0;
    });
    expect(await redis.exists(`user:${account.userId}:sessions`)).toBe(0);

    expect(await socket.timeout(10_000).emitWithAck("heartbeat", {})).toMatchObject({ ok: true });
    expect(await redis.smembers(`region:${REGION}:members`)).toEqual([id]);
    expect(JSON.parse((await redis.get(`session:${id}`)) ?? "{}")).toMatchObject({ currentRegionId: REGION });
  });
});
