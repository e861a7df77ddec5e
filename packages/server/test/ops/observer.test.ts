import { waitFor } from "@roadpulse/devstack";
import type { HazardSummary, NodeStatusList, OpsWatchAck, SegmentSummary } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { Socket } from "socket.io-client";
import { describe, expect, it, onTestFinished } from "vitest";
import { connected, emitAck, HERE, observation, openDevice } from "../support/devices.js";
import { nodePerFile, register, registerDevice } from "../support/env.js";
import { observerAccount } from "../support/observers.js";

/** A box of about 2 km around HERE: a handful of regions. */
const AROUND_HERE = `${HERE.longitude - 0.01},${HERE.latitude - 0.01},${HERE.longitude + 0.01},${HERE.latitude + 0.01}`;

type WatchAck = { ok: true } & OpsWatchAck;

/**
 * The observer role, as the ops map uses it: read-only (no reports, moves or votes, over the socket
 * or HTTP), allowed to watch an area (`ops:watch`) and list the nodes; users may do neither.
 */
describe("observers and ops:watch", () => {
  const theNode = nodePerFile();

  async function socketOf(token: string): Promise<Socket> {
    const socket = await connected(openDevice(theNode().url, token, await registerDevice(theNode().url, token)));
    onTestFinished(() => {
      socket.close();
    });
    return socket;
  }

  async function observer(): Promise<{ token: string; socket: Socket }> {
    const account = await observerAccount(theNode().url, theNode().ctx.config.mongodbUri);
    return { token: account.token, socket: await socketOf(account.token) };
  }

  it("lets an observer watch an area: devices per region now, then its road and presence updates live", async () => {
    const { socket: watcher } = await observer();
    const driver = await register(theNode().url, "driver");
    const device = await socketOf(driver.token);
    expect((await emitAck(device, "location:update", HERE)).ok).toBe(true);

    const ack = (await emitAck(watcher, "ops:watch", { bbox: AROUND_HERE })) as WatchAck;
    expect(ack.ok).toBe(true);
    const region = ngeohash.encode(HERE.latitude, HERE.longitude, theNode().ctx.config.regionPrecision);
    expect(ack.regions).toEqual([{ regionId: region, count: 1 }]);
    expect(ack.watched).toBeGreaterThan(1);
    expect(ack.live).toBe(true);
    expect(ack.nodes.clusterWide).toBe(true);
    expect(ack.nodes.nodes.map((node) => [node.node, node.status])).toContainEqual([theNode().ctx.config.nodeId, "ok"]);

    const segments: SegmentSummary[] = [];
    const hazards: HazardSummary[] = [];
    const presence: Array<{ regionId: string; count: number }> = [];
    watcher.on("segment:updated", (segment: SegmentSummary) => segments.push(segment));
    watcher.on("hazard:updated", (hazard: HazardSummary) => hazards.push(hazard));
    watcher.on("presence:updated", (update: { regionId: string; count: number }) => presence.push(update));
    const batch = [
      observation(HERE, { event: "pothole" }),
      observation({ ...HERE, longitude: HERE.longitude + 0.0002 }),
    ];
    expect(await emitAck(device, "observations:submit", { observations: batch })).toMatchObject({ accepted: 2 });
    await waitFor(
      "the watcher to hear the new segments and the hazard",
      () => segments.length > 0 && hazards.length > 0,
    );
    expect(hazards[0]).toMatchObject({ type: "pothole", status: "reported" });

    // The driver leaves the watched area: its region's count drops to 0 on the watcher's map.
    expect(
      (await emitAck(device, "location:update", { latitude: HERE.latitude + 1, longitude: HERE.longitude })).ok,
    ).toBe(true);
    await waitFor("the watcher to see the region empty", () =>
      presence.some((p) => p.regionId === region && p.count === 0),
    );

    // Watching elsewhere: updates of the old area no longer come.
    const elsewhere = `${HERE.longitude + 0.5},${HERE.latitude + 0.5},${HERE.longitude + 0.51},${HERE.latitude + 0.51}`;
    expect((await emitAck(watcher, "ops:watch", { bbox: elsewhere })) as WatchAck).toMatchObject({
      ok: true,
      regions: [],
    });
    const heard = segments.length;
    const other = await socketOf((await register(theNode().url, "other")).token);
    expect((await emitAck(other, "location:update", HERE)).ok).toBe(true);
    expect((await emitAck(other, "observations:submit", { observations: [observation(HERE)] })).ok).toBe(true);
    // A device in the old area hears its own update: by then the watcher would have too.
    const mine: SegmentSummary[] = [];
    other.on("segment:updated", (segment: SegmentSummary) => mine.push(segment));
    await emitAck(other, "observations:submit", { observations: [observation(HERE)] });
    await waitFor("the device to hear its segment", () => mine.length > 0);
    expect(segments.length).toBe(heard);
  });

  it("keeps observers read-only and the ops reads to observers and admins", async () => {
    const { token, socket } = await observer();
    for (const [event, payload] of [
      ["location:update", HERE],
      ["observations:submit", { observations: [observation(HERE)] }],
      ["hazard:vote", { hazardId: "0123456789abcdef01234567", stillThere: false }],
      ["region:sync", { since: new Date().toISOString() }],
    ] as const) {
      expect(await emitAck(socket, event, payload)).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    }
    const deviceId = await registerDevice(theNode().url, token);
    const post = await fetch(`${theNode().url}/api/observations`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "x-device-id": deviceId, "content-type": "application/json" },
      body: JSON.stringify({ observations: [observation(HERE)] }),
    });
    expect(post.status).toBe(403);
    // A node still registered but silent for a whole liveness TTL shows as unreachable.
    const ghost = `ghost-${Date.now()}`;
    await theNode().ctx.redis.client?.sadd("presence:nodes", ghost);
    onTestFinished(async () => {
      await theNode().ctx.redis.client?.srem("presence:nodes", ghost);
    });
    const nodes = await fetch(`${theNode().url}/api/ops/nodes`, { headers: { authorization: `Bearer ${token}` } });
    expect(nodes.status).toBe(200);
    const list = (await nodes.json()) as NodeStatusList;
    expect(list.nodes.find((node) => node.node === ghost)).toMatchObject({ status: "unreachable", reportedAt: null });
    expect(list.nodes.find((node) => node.node === theNode().ctx.config.nodeId)).toMatchObject({
      status: "ok",
      services: { mongodb: "connected", redis: "connected", socketio: "active" },
    });

    const user = await register(theNode().url, "user");
    const userSocket = await socketOf(user.token);
    expect(await emitAck(userSocket, "ops:watch", { bbox: AROUND_HERE })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    const refused = await fetch(`${theNode().url}/api/ops/nodes`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(refused.status).toBe(403);
    expect((await fetch(`${theNode().url}/api/ops/nodes`)).status).toBe(401);
  });

  it("refuses malformed boxes, and follows none of a box too large to watch live", async () => {
    const { socket } = await observer();
    for (const bbox of ["1,2,3", "a,b,c,d", "77.3,28.7,77.2,28.8", "0,0,0.6,0.6", `${AROUND_HERE},1`]) {
      expect(await emitAck(socket, "ops:watch", { bbox })).toMatchObject({
        ok: false,
        error: { code: "VALIDATION_FAILED" },
      });
    }
    // 0.3° × 0.3° is readable over HTTP but covers thousands of regions: not followed live, and the
    // regions of the box watched before are left, but the node list still comes.
    expect(await emitAck(socket, "ops:watch", { bbox: AROUND_HERE })).toMatchObject({ ok: true, live: true });
    const wide = (await emitAck(socket, "ops:watch", { bbox: "77.0,28.5,77.3,28.8" })) as WatchAck;
    expect(wide).toMatchObject({ ok: true, live: false, watched: 0, regions: [] });
    expect(wide.nodes.nodes.length).toBeGreaterThan(0);
    const driver = await socketOf((await register(theNode().url, "wide")).token);
    expect((await emitAck(driver, "location:update", HERE)).ok).toBe(true);
    const heard: unknown[] = [];
    socket.on("segment:updated", (segment) => heard.push(segment));
    const mine: unknown[] = [];
    driver.on("segment:updated", (segment) => mine.push(segment));
    expect((await emitAck(driver, "observations:submit", { observations: [observation(HERE)] })).ok).toBe(true);
    await waitFor("the driver to hear its segment", () => mine.length > 0);
    expect(heard).toEqual([]);
    expect(await emitAck(socket, "ops:watch", { bbox: AROUND_HERE, extra: 1 })).toMatchObject({
      ok: false,
      error: { code: "VALIDATION_FAILED" },
    });
  });

  it("serves the map page under its own content security policy, and its settings", async () => {
    const page = await fetch(`${theNode().url}/map`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(await page.text()).toContain("/map/app.js");
    const script = await fetch(`${theNode().url}/map/app.js`);
    expect(script.status).toBe(200);
    const etag = script.headers.get("etag") ?? "";
    expect((await fetch(`${theNode().url}/map/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const config = await fetch(`${theNode().url}/map/config.json`);
    expect(await config.json()).toEqual({ tileUrl: null, tileAttribution: "", center: null });
  });
});
