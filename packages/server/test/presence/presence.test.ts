import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisInstance, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Keys } from "../../src/presence/keys.js";
import { RedisPresenceStore } from "../../src/presence/redis-store.js";
import {
  adminCli,
  connectDevice,
  dropDatabase,
  register,
  startTestNode,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";

/** A spot in New Delhi (the seed's example region `ttngkc`) and helpers to move around it. */
const DELHI = { latitude: 28.7037, longitude: 77.2079 };
const REGION = ngeohash.encode(DELHI.latitude, DELHI.longitude, 6);

function centreOf(regionId: string): { latitude: number; longitude: number } {
  const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(regionId);
  return { latitude: (minLat + maxLat) / 2, longitude: (minLon + maxLon) / 2 };
}

type AckReply = { ok: boolean; regionId?: string; serverTime?: string; error?: { code: string; message: string } };

function send(socket: ClientSocket, event: string, payload: unknown): Promise<AckReply> {
  return socket.timeout(10_000).emitWithAck(event, payload) as Promise<AckReply>;
}

/**
 * Every key with its type and value, except the liveness and status keys' values (rewritten every
 * tick; the status holds the node's memory and connections for the ops map), the
 * reaper's lock (a lease the node takes and lets expire on its own clock, whatever a client sends:
 * whether it exists at a given instant is timing, not an effect of the payload), and the counts
 * last pushed per region (written by the broadcast timer, up to an interval after a move).
 */
async function snapshot(redis: Redis): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  for (const key of (await redis.keys("*")).sort()) {
    // Locks come and go with the node's own timers (the reaper; the aggregate recovery, which
    // takes the fold lock every few seconds even with nothing to fold): not state a client changed.
    if (key === Keys.reaperLock || key === Keys.foldLock || key.startsWith("presence:pushed:")) continue;
    const type = await redis.type(key);
    if (key.endsWith(":alive") || key.endsWith(":status")) result[key] = type;
    else if (type === "set") result[key] = (await redis.smembers(key)).sort();
    else if (type === "hash") result[key] = await redis.hgetall(key);
    else result[key] = await redis.get(key);
  }
  return result;
}

describe("sessions and presence in Redis", () => {
  let redisServer: RedisInstance;
  let redis: Redis;
  let node: TestNode;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    // A redis-server of this file's own: the tests assert the exact set of keys in it.
    redisServer = await startRedisServer({ dir: join(tmpdir(), uniqueDbName("redis")), output: "ignore" });
    redis = new Redis(redisServer.url);
    node = await startTestNode({ REDIS_URL: redisServer.url });
  });
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await waitFor("sessions of closed sockets to be removed", async () => (await redis.keys("session:*")).length === 0);
  });
  afterAll(async () => {
    await node.close();
    redis.disconnect();
    await redisServer.stop();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  async function device(token: string): Promise<ClientSocket> {
    const socket = await connectDevice(node.url, token);
    sockets.push(socket);
    const socketId = socket.id ?? "";
    await waitFor("the session to be written", async () => (await redis.exists(`session:${socketId}`)) === 1);
    return socket;
  }

  it("writes the seed's keys on connect, with the configured TTLs", async () => {
    const account = await register(node.url, "keys");
    const socket = await device(account.token);
    const id = socket.id ?? "";
    const nodeId = node.ctx.config.nodeId;

    // The login's session (auth/refresh-families.ts) is there too; the fold lock only while the
    // node's aggregate recovery holds it, every few seconds. The node's status for the ops map is
    // written by its first liveness tick: waited for, not raced.
    await waitFor("the node's first status report", async () => (await redis.exists(Keys.nodeStatus(nodeId))) === 1);
    const sessionId = (
      JSON.parse(Buffer.from(account.token.split(".")[1] ?? "", "base64url").toString()) as { sid: string }
    ).sid;
    expect((await redis.keys("*")).filter((key) => key !== Keys.foldLock).sort()).toEqual(
      [
        `auth:refresh:${sessionId}`,
        `heartbeat:${id}`,
        "presence:nodes",
        `presence:node:${nodeId}:alive`,
        `presence:node:${nodeId}:sockets`,
        `presence:node:${nodeId}:status`,
        `session:${id}`,
        `user:${account.userId}:sessions`,
      ].sort(),
    );
    const session = JSON.parse((await redis.get(`session:${id}`)) ?? "{}") as Record<string, unknown>;
    expect(session).toEqual({
      socketId: id,
      userId: account.userId,
      nodeId,
      currentRegionId: null,
      lastLocation: null,
      connectedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      lastActivityAt: session.connectedAt,
      userAgent: expect.any(String),
    });
    expect(await redis.smembers(`user:${account.userId}:sessions`)).toEqual([id]);
    expect(Number(await redis.get(`heartbeat:${id}`))).toBeGreaterThan(Date.now() - 60_000);
    expect(await redis.ttl(`session:${id}`)).toBeGreaterThanOrEqual(3590);
    expect(await redis.ttl(`session:${id}`)).toBeLessThanOrEqual(3600);
    expect(await redis.ttl(`user:${account.userId}:sessions`)).toBeGreaterThanOrEqual(3590);
    expect(await redis.ttl(`heartbeat:${id}`)).toBeGreaterThanOrEqual(290);
    expect(await redis.ttl(`heartbeat:${id}`)).toBeLessThanOrEqual(300);
    expect(await redis.ttl(`presence:node:${nodeId}:alive`)).toBeGreaterThan(0);
    expect(await redis.ttl(`presence:node:${nodeId}:alive`)).toBeLessThanOrEqual(10);
    expect(await redis.ttl(`presence:node:${nodeId}:status`)).toBeGreaterThan(0);
    expect(await redis.ttl(`presence:node:${nodeId}:status`)).toBeLessThanOrEqual(10);
  });

  it("lists both sockets of one user in user:{userId}:sessions", async () => {
    const account = await register(node.url, "twice");
    const phone = await device(account.token);
    const tablet = await device(account.token);
    expect((await redis.smembers(`user:${account.userId}:sessions`)).sort()).toEqual([phone.id, tablet.id].sort());
  });

  it("puts a located socket in its region set and updates the session", async () => {
    const account = await register(node.url, "located");
    const socket = await device(account.token);
    const id = socket.id ?? "";

    expect(await send(socket, "location:update", { ...DELHI, accuracy: 8, speed: 12.5 })).toEqual({
      ok: true,
      regionId: REGION,
    });
    expect(REGION).toBe("ttngkc");
    expect(await redis.smembers(`region:${REGION}:members`)).toEqual([id]);
    expect(await redis.ttl(`region:${REGION}:members`)).toBeGreaterThanOrEqual(3590);
    expect(await redis.ttl(`region:${REGION}:members`)).toBeLessThanOrEqual(3600);
    const session = JSON.parse((await redis.get(`session:${id}`)) ?? "{}") as Record<string, unknown>;
    expect(session).toMatchObject({ currentRegionId: REGION, lastLocation: DELHI });
    expect(Date.parse(String(session.lastActivityAt))).toBeGreaterThanOrEqual(Date.parse(String(session.connectedAt)));
  });

  it("moves a socket between regions in one atomic command", async () => {
    const account = await register(node.url, "mover");
    const socket = await device(account.token);
    const id = socket.id ?? "";
    await send(socket, "location:update", DELHI);
    const next = ngeohash.neighbors(REGION)[2] ?? ""; // east

    const monitor = await redis.monitor();
    const seen: Array<{ source: string; args: string[] }> = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      // Commands run by a script are reported in upper case, with "lua" as their source.
      if (args.some((arg) => arg.includes(id)))
        seen.push({ source, args: [args[0]?.toLowerCase() ?? "", ...args.slice(1)] });
    });
    expect(await send(socket, "location:update", centreOf(next))).toEqual({ ok: true, regionId: next });
    expect(await redis.smembers(`region:${REGION}:members`)).toEqual([]);
    expect(await redis.smembers(`region:${next}:members`)).toEqual([id]);
    await waitFor("MONITOR to show the move", () => seen.some((entry) => entry.args[0] === "srem"));
    monitor.disconnect();

    // The client sent exactly one command for the move; the leave and the join ran inside it (as a
    // script, atomically): no reader can see the socket in both region sets or in neither.
    const fromClient = seen.filter((entry) => !entry.source.includes("lua"));
    expect(fromClient).toHaveLength(1);
    expect(fromClient[0]?.args[0]).toMatch(/^eval(sha)?$/);
    expect(fromClient[0]?.args).toEqual(
      expect.arrayContaining([`region:${REGION}:members`, `region:${next}:members`, `session:${id}`]),
    );
    const inScript = seen.filter((entry) => entry.source.includes("lua")).map((entry) => entry.args);
    expect(inScript).toContainEqual(["srem", `region:${REGION}:members`, id]);
    expect(inScript).toContainEqual(["sadd", `region:${next}:members`, id]);
  });

  it("refreshes the heartbeat and every TTL of the socket on heartbeat", async () => {
    const account = await register(node.url, "beat");
    const socket = await device(account.token);
    const id = socket.id ?? "";
    await send(socket, "location:update", DELHI);
    const owned = [`session:${id}`, `user:${account.userId}:sessions`, `region:${REGION}:members`, `heartbeat:${id}`];
    for (const key of owned) await redis.expire(key, 20);
    const before = Number(await redis.get(`heartbeat:${id}`));

    const reply = await send(socket, "heartbeat", {});
    expect(reply).toEqual({ ok: true, serverTime: expect.any(String) });
    expect(Math.abs(Date.parse(reply.serverTime ?? "") - Date.now())).toBeLessThan(60_000);
    expect(Number(await redis.get(`heartbeat:${id}`))).toBeGreaterThanOrEqual(before);
    expect(await redis.ttl(`heartbeat:${id}`)).toBeGreaterThanOrEqual(290);
    for (const key of owned.slice(0, 3)) expect(await redis.ttl(key)).toBeGreaterThanOrEqual(3590);
  });

  it("removes everything the socket owned on disconnect", async () => {
    const account = await register(node.url, "leaver");
    const socket = await device(account.token);
    const id = socket.id ?? "";
    await send(socket, "location:update", DELHI);
    socket.close();
    await waitFor("the session to go", async () => (await redis.exists(`session:${id}`)) === 0);
    expect(await redis.exists(`heartbeat:${id}`, `user:${account.userId}:sessions`, `region:${REGION}:members`)).toBe(
      0,
    );
    expect(await redis.sismember(`presence:node:${node.ctx.config.nodeId}:sockets`, id)).toBe(0);
  });

  it("tells the devices in a region its count, coalesced, once per change; the cells around hear nothing", async () => {
    const listen = (socket: ClientSocket) => {
      const heard: Array<{ regionId: string; count: number }> = [];
      socket.on("presence:updated", (update: { regionId: string; count: number }) => heard.push(update));
      return heard;
    };
    const watcher = await device((await register(node.url, "watcher")).token);
    const neighbour = await device((await register(node.url, "neighbour")).token);
    const west = ngeohash.neighbors(REGION)[6] ?? "";
    const watcherHeard = listen(watcher);
    const neighbourHeard = listen(neighbour);
    expect(await send(neighbour, "location:update", centreOf(west))).toMatchObject({ regionId: west });
    expect(await send(watcher, "location:update", DELHI)).toMatchObject({ regionId: REGION });
    await waitFor("the watcher to hear itself counted", () =>
      watcherHeard.some((update) => update.regionId === REGION && update.count === 1),
    );

    // Five drivers enter the region at once: the watcher learns the new count in fewer messages
    // than there were moves (one per region and interval, and only when the count changed).
    const drivers = await Promise.all(
      [1, 2, 3, 4, 5].map(async (i) => await device((await register(node.url, `driver${i}`)).token)),
    );
    await Promise.all(drivers.map((driver) => send(driver, "location:update", DELHI)));
    await waitFor("the watcher to hear the drivers arrive", () =>
      watcherHeard.find((update) => update.regionId === REGION && update.count === 6),
    );
    const counts = watcherHeard.filter((update) => update.regionId === REGION).map((update) => update.count);
    expect(counts.length).toBeLessThan(6);
    expect(new Set(counts).size).toBe(counts.length);
    // Anything sent to the neighbour before now arrives before this ack on its connection.
    await send(neighbour, "heartbeat", {});
    expect(neighbourHeard.filter((update) => update.regionId === REGION)).toEqual([]);
    expect(neighbourHeard.every((update) => update.regionId === west)).toBe(true);
  });

  it("tells a device that enters a region the count even when the count did not change", async () => {
    const leaving = await device((await register(node.url, "leaving")).token);
    expect(await send(leaving, "location:update", DELHI)).toMatchObject({ regionId: REGION });
    await waitFor(
      "the region's count to be pushed",
      async () => (await redis.get(`presence:pushed:${REGION}`)) === "1",
    );
    const arriving = await device((await register(node.url, "arriving")).token);
    const heard: Array<{ regionId: string; count: number }> = [];
    arriving.on("presence:updated", (update: { regionId: string; count: number }) => heard.push(update));
    // One in, one out: the region holds one device before and after.
    const away = ngeohash.neighbors(REGION)[2] ?? "";
    await Promise.all([send(leaving, "location:update", centreOf(away)), send(arriving, "location:update", DELHI)]);
    await waitFor("the newcomer to hear the region's count", () =>
      heard.some((update) => update.regionId === REGION && update.count === 1),
    );
  });

  it("pushes a region's change once, whichever of several nodes counts it first", async () => {
    const region = ngeohash.neighbors(REGION)[4] ?? "";
    const [a, b] = ["node-a", "node-b"].map(
      (nodeId) => new RedisPresenceStore(redis, { session: 60, heartbeat: 60, nodeLiveness: 15 }, nodeId),
    );
    if (a === undefined || b === undefined) throw new Error("two stores expected");
    await redis.sadd(Keys.regionMembers(region), "socket-1");
    expect(await a.regionPushes([region])).toEqual(new Map([[region, { count: 1, changed: true }]]));
    expect(await b.regionPushes([region])).toEqual(new Map([[region, { count: 1, changed: false }]]));
    await redis.srem(Keys.regionMembers(region), "socket-1");
    expect(await b.regionPushes([region])).toEqual(new Map([[region, { count: 0, changed: true }]]));
    expect(await a.regionPushes([region])).toEqual(new Map([[region, { count: 0, changed: false }]]));
    expect(await redis.ttl(Keys.presencePushed(region))).toBeGreaterThan(0);
    await redis.del(Keys.presencePushed(region));
  });

  it.each([
    ["a missing field", { latitude: 28.7 }],
    ["latitude 91", { latitude: 91, longitude: 77.2 }],
    ["longitude -181", { latitude: 28.7, longitude: -181 }],
    ["NaN (JSON null)", { latitude: Number.NaN, longitude: 77.2 }],
    ["a string for a number", { latitude: "28.7", longitude: 77.2 }],
    ["an extra key", { latitude: 28.7, longitude: 77.2, admin: true }],
    ["an operator object", { latitude: { $gt: "" }, longitude: 77.2 }],
    ["not an object", "28.7,77.2"],
    ["nothing", null],
  ])("refuses location:update with %s and changes nothing", async (_what, payload) => {
    const socket = await device((await register(node.url, "bad")).token);
    await send(socket, "location:update", DELHI);
    const before = await snapshot(redis);
    const reply = await send(socket, "location:update", payload);
    expect(reply).toEqual({ ok: false, error: { code: "VALIDATION_FAILED", message: expect.any(String) } });
    expect(await snapshot(redis)).toEqual(before);
  });

  it("names an unknown key by a short excerpt, never echoing a 100 KB key back", async () => {
    const socket = await device((await register(node.url, "echo")).token);
    const before = await snapshot(redis);
    const reply = (await send(socket, "location:update", { ...DELHI, ["k".repeat(100_000)]: 1 })) as {
      error: { code: string; message: string };
    };
    expect(reply.error.code).toBe("VALIDATION_FAILED");
    expect(reply.error.message).toBe(`payload has an unknown field "${"k".repeat(40)}… (100000 characters)"`);
    expect(await snapshot(redis)).toEqual(before);
  });

  it.each([
    ["an extra key", { beat: 1 }],
    ["an operator object", { $gt: "" }],
    ["a string", "ping"],
  ])("refuses heartbeat with %s and changes nothing", async (_what, payload) => {
    const socket = await device((await register(node.url, "badbeat")).token);
    const before = await snapshot(redis);
    expect(await send(socket, "heartbeat", payload)).toMatchObject({ ok: false, error: { code: "VALIDATION_FAILED" } });
    expect(await snapshot(redis)).toEqual(before);
  });

  it("drops a 1 MB message at the transport and changes nothing", async () => {
    const socket = await device((await register(node.url, "huge")).token);
    await send(socket, "location:update", DELHI);
    const before = await snapshot(redis);
    const closed = new Promise<string>((resolve) => socket.once("disconnect", resolve));
    socket.emit("location:update", { ...DELHI, padding: "x".repeat(1_000_000) }, () => undefined);
    // Engine.IO refuses the frame before it is parsed (maxHttpBufferSize), so no handler runs and no
    // ack can be sent: the connection is closed instead, and the disconnect removes the session.
    expect(await closed).toEqual(expect.any(String));
    await waitFor("the dropped socket's session to go", async () => (await redis.keys("session:*")).length === 0);
    const after = await snapshot(redis);
    for (const [key, value] of Object.entries(after)) {
      if (!key.startsWith("presence:")) expect(before[key]).toEqual(value);
    }
  });

  describe("GET /api/regions/:regionId/presence", () => {
    it("counts a region for any user and lists members for admins only", async () => {
      const account = await register(node.url, "counter");
      const socket = await device(account.token);
      await send(socket, "location:update", DELHI);
      const asUser = await fetch(`${node.url}/api/regions/${REGION}/presence`, {
        headers: { authorization: `Bearer ${account.token}` },
      });
      expect(asUser.status).toBe(200);
      expect(await asUser.json()).toEqual({ regionId: REGION, count: 1 });

      const chief = await register(node.url, "chief");
      expect((await adminCli(node.env.MONGODB_URI ?? "", "grant", chief.email)).code).toBe(0);
      const login = await fetch(`${node.url}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: chief.email, password: chief.password }),
      });
      const { token } = (await login.json()) as { token: string };
      const asAdmin = await fetch(`${node.url}/api/regions/${REGION}/presence`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await asAdmin.json()).toEqual({
        regionId: REGION,
        count: 1,
        members: [
          {
            socketId: socket.id,
            userId: account.userId,
            nodeId: node.ctx.config.nodeId,
            lastActivityAt: expect.any(String),
          },
        ],
      });
    });

    it("refuses a malformed region id with 400 and a missing token with 401", async () => {
      const account = await register(node.url, "asker");
      for (const bad of ["TTNGKC", "ttngka", "x".repeat(13), "%7B%22%24gt%22%3A%22%22%7D"]) {
        const response = await fetch(`${node.url}/api/regions/${bad}/presence`, {
          headers: { authorization: `Bearer ${account.token}` },
        });
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({
          error: { code: "VALIDATION_FAILED", message: expect.any(String) },
        });
      }
      const anonymous = await fetch(`${node.url}/api/regions/${REGION}/presence`);
      expect(anonymous.status).toBe(401);
    });
  });
});
