import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { connectDevice, dropDatabase, register, startTestNode } from "../support/env.js";

const DELHI = { latitude: 28.7037, longitude: 77.2079 };
const REGION = ngeohash.encode(DELHI.latitude, DELHI.longitude, 6);
const EAST = ngeohash.neighbors(REGION)[2] ?? "";
const EAST_BOX = ngeohash.decode_bbox(EAST);
const EAST_SPOT = { latitude: (EAST_BOX[0] + EAST_BOX[2]) / 2, longitude: (EAST_BOX[1] + EAST_BOX[3]) / 2 };

type AckReply = { ok: boolean; regionId?: string; serverTime?: string };

function send(socket: ClientSocket, event: string, payload: unknown): Promise<AckReply> {
  return socket.timeout(10_000).emitWithAck(event, payload) as Promise<AckReply>;
}

describe("presence through a Redis outage", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("keeps acking while Redis is dead and writes live sessions back within 10 s of its return", async () => {
    // A fixed port of our own, so the restarted server is where the node expects it; the same
    // directory, so it comes back with the snapshot taken before the crash (stale presence).
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "roadpulse-outage-"));
    const first = await startRedisServer({ port, dir, output: "ignore" });
    cleanups.push(() => first.stop());
    const node = await startTestNode({ REDIS_URL: first.url });
    cleanups.push(() => dropDatabase(node.env.MONGODB_URI ?? ""));
    cleanups.push(() => node.close());

    const account = await register(node.url, "outage");
    const device = async () => {
      const socket = await connectDevice(node.url, account.token);
      cleanups.push(() => socket.close());
      return socket;
    };
    const mover = await device();
    const leaver = await device();
    expect(await send(mover, "location:update", DELHI)).toEqual({ ok: true, regionId: REGION });
    expect(await send(leaver, "location:update", DELHI)).toEqual({ ok: true, regionId: REGION });
    const leaverId = leaver.id ?? "";

    const before = new Redis(first.url);
    expect((await before.smembers(`region:${REGION}:members`)).sort()).toEqual([mover.id, leaverId].sort());
    await before.save();
    before.disconnect();
    await first.service?.kill();
    await waitFor("the node to notice Redis is gone", () => !node.ctx.redis.available);

    // Everything is still acknowledged while Redis is away.
    expect(await send(mover, "location:update", EAST_SPOT)).toEqual({ ok: true, regionId: EAST });
    expect(await send(mover, "heartbeat", {})).toMatchObject({ ok: true, serverTime: expect.any(String) });
    leaver.close();
    const newcomer = await device();
    expect(await send(newcomer, "location:update", DELHI)).toEqual({ ok: true, regionId: REGION });
    const health = (await (await fetch(`${node.url}/health`)).json()) as { status: string };
    expect(health.status).toBe("degraded");

    const revived = await startRedisServer({ port, dir, output: "ignore" });
    cleanups.push(() => revived.stop());
    const redis = new Redis(revived.url);
    cleanups.push(() => redis.disconnect());
    // The snapshot brought back the stale state (the leaver, the mover in the old region), which
    // the node must now correct, not just add to.
    expect(await redis.info("persistence")).toMatch(/rdb_last_load_keys_loaded:[1-9]/);

    await waitFor(
      "Redis to agree with the node's live sockets",
      async () => {
        const here = (await redis.smembers(`region:${REGION}:members`)).sort();
        const east = await redis.smembers(`region:${EAST}:members`);
        return (
          JSON.stringify(here) === JSON.stringify([newcomer.id]) &&
          JSON.stringify(east) === JSON.stringify([mover.id]) &&
          (await redis.exists(`session:${leaverId}`)) === 0
        );
      },
      10_000,
      100,
    );
    expect((await redis.smembers(`user:${account.userId}:sessions`)).sort()).toEqual([mover.id, newcomer.id].sort());
    const session = JSON.parse((await redis.get(`session:${mover.id}`)) ?? "{}") as Record<string, unknown>;
    expect(session).toMatchObject({ currentRegionId: EAST, lastLocation: EAST_SPOT, nodeId: node.ctx.config.nodeId });
    expect(await redis.ttl(`session:${mover.id}`)).toBeGreaterThanOrEqual(3590);
    expect(await redis.ttl(`heartbeat:${newcomer.id}`)).toBeGreaterThanOrEqual(290);
    expect(await send(mover, "heartbeat", {})).toMatchObject({ ok: true });
  });
});
