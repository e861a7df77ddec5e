import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type RedisInstance, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { MongoClient, ObjectId } from "mongodb";
import ngeohash from "ngeohash";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { EXPIRY_MS } from "../../src/domain/hazard-rules.js";
import { Keys } from "../../src/presence/keys.js";
import { assignArgs, clusterArea } from "../../src/roads/hazard-clusters.js";
import type { HazardDoc } from "../../src/store/hazards.js";
import type { ObservationDoc } from "../../src/store/observations.js";
import {
  connectDevice,
  dropDatabase,
  mongoUri,
  register,
  startTestNode,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";
import { observation, spot, storedObservation, submit } from "../support/roads.js";

const DAY = 24 * 3600 * 1000;

/** Write commands a node has sent to `hazards`, from its own metrics. */
async function hazardWrites(node: TestNode): Promise<number> {
  const text = await (await fetch(`${node.metricsUrl}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("roadpulse_mongodb_write_duration_seconds_count{") && l.includes('collection="hazards"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function freshBase(): { latitude: number; longitude: number } {
  // Somewhere in Norway, away from the other tests' Copenhagen and Delhi, new for every test.
  return { latitude: 60 + Math.random() * 5, longitude: 6 + Math.random() * 6 };
}

/** A stored pothole report by an account, as ingest hands it to the aggregator. */
function pothole(at: { latitude: number; longitude: number }, account: string, recordedAt: Date): ObservationDoc {
  return storedObservation({ at, account, device: `device-of-${account}`, recordedAt, event: "pothole" });
}

describe("hazard cluster script arguments", () => {
  // geohash-5 "u4pru" (Copenhagen): [minLat, minLon, maxLat, maxLon].
  const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox("u4pru") as [number, number, number, number];
  const inside = 1e-6;
  it.each([
    ["the middle of a region", (minLat + maxLat) / 2, (minLon + maxLon) / 2, ["u4pru"]],
    ["its eastern edge", (minLat + maxLat) / 2, maxLon - inside, ["u4pru", "u4prv"]],
    ["its north-east corner", maxLat - inside, maxLon - inside, ["u4pru", "u4prv", "u4r2h", "u4r2j"]],
  ])("a point in %s searches the regions of its cell and the 8 around it", (_, latitude, longitude, regions) => {
    const area = clusterArea({ latitude, longitude });
    expect(area.cells).toHaveLength(9);
    expect(area.cells[0]).toBe(ngeohash.encode(latitude, longitude, 7));
    expect([...area.regions].sort()).toEqual(regions);
    expect(area.regions[0]).toBe("u4pru");
  });

  it("passes regions, cells and only the seeds whose cell is in the area", () => {
    const point = { latitude: (minLat + maxLat) / 2, longitude: (minLon + maxLon) / 2 };
    const now = new Date(1_800_000_000_000);
    const cell = ngeohash.encode(point.latitude, point.longitude, 7);
    const seed = { id: "a".repeat(24), cell, ...point, lastSeenAt: now };
    const far = { ...seed, id: "b".repeat(24), cell: "u4zzzzz" };
    const { keys, args } = assignArgs({
      type: "bump",
      point,
      newId: "c".repeat(24),
      seenAt: now,
      now,
      seeds: [seed, far],
    });
    expect(keys).toEqual(["hazards:geo:u4pru:bump", "hazards:seen:u4pru:bump"]);
    expect(args.slice(0, 11)).toEqual([
      1,
      point.longitude,
      point.latitude,
      15,
      "c".repeat(24),
      now.getTime(),
      now.getTime() - EXPIRY_MS,
      args[7],
      args[8],
      1,
      9,
    ]);
    expect(args[11 + 4 * 9 - 3]).toMatch(/^cell:u4pru/);
    expect(args.slice(11 + 4 * 9)).toEqual([1, seed.id, point.longitude, point.latitude, now.getTime()]);
    expect(assignArgs({ type: "bump", point, newId: "c".repeat(24), seenAt: now, now, seeds: null }).args[9]).toBe(0);
  });
});

describe("hazards built exactly once across nodes (real Redis and FerretDB)", () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Two nodes on one database and one Redis, as a cluster's nodes are. */
  async function twoNodes(
    redisUrl?: string,
  ): Promise<{ a: TestNode; b: TestNode; hazards: () => Promise<HazardDoc[]> }> {
    const uri = mongoUri(uniqueDbName("hz"));
    const env = { MONGODB_URI: uri, ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl }) };
    const a = await startTestNode(env);
    cleanups.push(() => dropDatabase(uri));
    cleanups.push(() => a.close());
    const b = await startTestNode(env);
    cleanups.push(() => b.close());
    const client = new MongoClient(uri);
    cleanups.push(() => client.close());
    const hazards = async () => await client.db().collection<HazardDoc>("hazards").find({}).toArray();
    return { a, b, hazards };
  }

  it("opens one hazard per pothole when two nodes get its first reports at the same instant", async () => {
    const { a, b, hazards } = await twoNodes();
    // Two people, each through another node: every pothole gets two distinct reporters.
    const devices: ClientSocket[] = [];
    for (const node of [a, b]) {
      const account = await register(node.url, "race");
      const socket = await connectDevice(node.url, account.token);
      cleanups.push(() => socket.close());
      devices.push(socket);
    }
    const base = freshBase();
    const potholes = Array.from({ length: 20 }, (_, i) => spot(base, i * 200));
    // Two nodes upserting the same *new* segment or region-day at once fail that round with a
    // duplicate key (a segment aggregation matter, not this test's): so they exist first.
    for (const at of potholes) await submit(devices[0] as ClientSocket, [observation({ ...at })]);
    await a.services.roads.aggregator.idle();
    // Each pothole is reported through both nodes at once; the next once both reports are counted,
    // so both nodes' aggregation rounds start together every time.
    const counted = async (expected: number) =>
      await waitFor(`${expected} reports counted`, async () => {
        const docs = await hazards();
        return docs.reduce((sum, doc) => sum + doc.reports, 0) >= expected ? docs : undefined;
      });
    for (const [i, at] of potholes.entries()) {
      const acks = await Promise.all(
        devices.map((device) => submit(device, [observation({ ...at, event: "pothole" })])),
      );
      expect(acks.every((ack) => ack.ok)).toBe(true);
      await counted(2 * (i + 1));
    }
    const all = await counted(40);
    expect(all).toHaveLength(20);
    expect(all.every((doc) => doc.reports === 2 && doc.reporters.length === 2)).toBe(true);

    // And straight into both nodes' trackers, awaited together: the tightest race there is.
    const now = new Date();
    const tight = Array.from({ length: 20 }, (_, i) => spot(base, 10_000 + i * 200));
    for (const at of tight) {
      await Promise.all([
        a.services.roads.hazards.applyEvents([pothole(at, "account-a", now)], now),
        b.services.roads.hazards.applyEvents([pothole(at, "account-b", now)], now),
      ]);
    }
    const after = await hazards();
    expect(after).toHaveLength(40);
    expect(after.every((doc) => doc.reports === 2 && doc.reporters.length === 2)).toBe(true);
  });

  it("counts nothing twice when a round is applied again, on the same node or another", async () => {
    const { a, b, hazards } = await twoNodes();
    const base = freshBase();
    const now = new Date();
    const round = [
      pothole(spot(base, 0), "account-1", new Date(now.getTime() - 3_000)),
      pothole(spot(base, 4), "account-2", new Date(now.getTime() - 2_000)),
      pothole(spot(base, -3, 2), "account-3", new Date(now.getTime() - 1_000)),
    ];
    const first = await a.services.roads.hazards.applyEvents(round, now);
    expect(first.map((doc) => [doc.reports, doc.reporters.length, doc.status])).toEqual([[3, 3, "confirmed"]]);
    const [stored] = await hazards();

    // Recovery: the same journal entry taken over by another node, then by the first again.
    expect(await b.services.roads.hazards.applyEvents(round, now)).toEqual([]);
    expect(await a.services.roads.hazards.applyEvents([...round].reverse(), now)).toEqual([]);
    const [again] = await hazards();
    expect(again).toMatchObject({ reports: 3, positions: 3, reporters: ["account-1", "account-2", "account-3"] });
    expect(again?.latitude).toBe(stored?.latitude);
    expect(again?.reportIds).toEqual(round.map((event) => event._id));

    // A round that opened the hazard and died before the rest: re-applied whole, still one each.
    const next = spot(base, 1_000);
    const partial = [pothole(next, "account-1", now), pothole(spot(base, 1_005), "account-2", now)];
    await a.services.roads.hazards.applyEvents(partial.slice(0, 1), now);
    await b.services.roads.hazards.applyEvents(partial, now);
    const docs = await hazards();
    expect(docs).toHaveLength(2);
    expect(docs.find((doc) => doc._id.toHexString() !== stored?._id.toHexString())).toMatchObject({ reports: 2 });
  });

  it("counts a round's many reports of one pothole in a few writes, each once", async () => {
    const { a, b, hazards } = await twoNodes();
    const base = freshBase();
    const now = new Date();
    // 60 reports by 8 accounts within a few metres: a busy pothole in one round of a fleet.
    const round = Array.from({ length: 60 }, (_, i) =>
      pothole(spot(base, (i % 7) - 3, (i % 5) - 2), `account-${i % 8}`, new Date(now.getTime() - 60_000 + i * 1_000)),
    );
    const writesBefore = await hazardWrites(a);
    const [doc] = await a.services.roads.hazards.applyEvents(round, now);
    // One insert for the first report, two updates for the other 59, one for the status.
    expect(await hazardWrites(a)).toBe(writesBefore + 4);
    expect(doc).toMatchObject({ reports: 60, positions: 60, status: "confirmed" });
    const stored = await hazards();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ reports: 60, positions: 60, status: "confirmed" });
    expect(new Set(stored[0]?.reporters)).toEqual(new Set(Array.from({ length: 8 }, (_, i) => `account-${i}`)));
    expect(stored[0]?.reportIds).toEqual(round.map((event) => event._id));
    const mean = (pick: (e: ObservationDoc) => number) => round.reduce((sum, e) => sum + pick(e), 0) / round.length;
    expect(stored[0]?.latitude).toBeCloseTo(
      mean((e) => e.latitude),
      9,
    );
    expect(stored[0]?.longitude).toBeCloseTo(
      mean((e) => e.longitude),
      9,
    );

    // Re-applied after a crash, on another node, or half of it on this one: nothing counts twice.
    expect(await b.services.roads.hazards.applyEvents(round, now)).toEqual([]);
    expect(await a.services.roads.hazards.applyEvents(round.slice(30), now)).toEqual([]);
    expect((await hazards())[0]).toMatchObject({ reports: 60, positions: 60 });
  });

  it("matches a round's later reports against the centroid of the earlier ones, not the first", async () => {
    const { a, hazards } = await twoNodes();
    const base = freshBase();
    const now = new Date();
    const at = (i: number) => new Date(now.getTime() - 60_000 + i * 100);
    // A first report 10 m east of the pothole, 40 around it, then 10 from 8 m west: 18 m from the
    // first report, beyond the 15 m a report joins within, but 8 m from where the hazard is by then.
    const round = [
      pothole(spot(base, 0, 10), "account-0", at(0)),
      ...Array.from({ length: 40 }, (_, i) =>
        pothole(spot(base, (i % 5) - 2, (i % 3) - 1), `account-${i % 6}`, at(1 + i)),
      ),
      ...Array.from({ length: 10 }, (_, i) => pothole(spot(base, (i % 3) - 1, -8), `account-${i % 6}`, at(41 + i))),
    ];
    await a.services.roads.hazards.applyEvents(round, now);
    const stored = await hazards();
    expect(stored.map((doc) => doc.reports)).toEqual([51]);
  });

  it("keeps a busy pothole one hazard: a satellite opened by an outlier does not take its reports", async () => {
    const { a, b, hazards } = await twoNodes();
    const base = freshBase();
    const now = new Date();
    const at = (i: number) => new Date(now.getTime() - 60_000 + i * 100);
    // 20 reports around the pothole, then one from the far tail of GPS error, 17 m east: beyond the
    // 15 m a report joins within, so it opens a second hazard there.
    const around = Array.from({ length: 20 }, (_, i) =>
      pothole(spot(base, (i % 5) - 2, (i % 3) - 1), `account-${i % 6}`, at(i)),
    );
    await a.services.roads.hazards.applyEvents(around, now);
    await a.services.roads.hazards.applyEvents([pothole(spot(base, 0, 17), "account-7", at(20))], now);
    expect((await hazards()).map((doc) => doc.reports).sort((x, y) => x - y)).toEqual([1, 20]);
    // Then the pothole's reports on that side, 9 m east: nearer to the satellite (8 m) than to the
    // pothole's hazard (9 m), and within 15 m of both. Through both nodes, one report per round.
    for (let i = 0; i < 12; i++) {
      const node = i % 2 === 0 ? a : b;
      await node.services.roads.hazards.applyEvents(
        [pothole(spot(base, (i % 3) - 1, 9), `account-${i % 6}`, at(21 + i))],
        now,
      );
    }
    const stored = await hazards();
    const first = stored.find((doc) => doc.reports > 1);
    // Joined to the nearest hazard, the satellite would have 13 reports, confirmed by 6 accounts.
    expect(stored.map((doc) => [doc.reports, doc.status]).sort()).toEqual([
      [1, "reported"],
      [32, "confirmed"],
    ]);
    expect(first?.reportIds).toHaveLength(32);
  });

  it("still finds an existing hazard after Redis lost its GEO sets", async () => {
    const { a, b, hazards } = await twoNodes();
    const base = freshBase();
    const now = new Date();
    await a.services.roads.hazards.applyEvents([pothole(spot(base, 0), "account-1", now)], now);
    const redis = new Redis(a.env.REDIS_URL ?? "");
    cleanups.push(() => redis.disconnect());
    const region = ngeohash.encode(base.latitude, base.longitude, 5);
    expect(await redis.zcard(Keys.hazardGeo(region, "pothole"))).toBeGreaterThan(1); // the hazard and markers
    // What a Redis restart without persistence does to them: gone.
    const lost = await redis.keys("hazards:*");
    expect(lost.length).toBeGreaterThanOrEqual(2);
    await redis.del(...lost);

    await b.services.roads.hazards.applyEvents([pothole(spot(base, 6), "account-2", now)], now);
    const docs = await hazards();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ reports: 2, reporters: ["account-1", "account-2"] });
    // Loaded back into Redis: the next report is matched there.
    expect(await redis.geopos(Keys.hazardGeo(region, "pothole"), docs[0]?._id.toHexString() ?? "")).not.toEqual([null]);
  });

  it("removes fixed and expired hazards from the GEO sets: a later report opens a new hazard", async () => {
    const { a, hazards } = await twoNodes();
    const base = freshBase();
    const redis = new Redis(a.env.REDIS_URL ?? "");
    cleanups.push(() => redis.disconnect());
    const key = Keys.hazardGeo(ngeohash.encode(base.latitude, base.longitude, 5), "pothole");
    const tracker = a.services.roads.hazards;
    const now = new Date();
    const [opened] = await tracker.applyEvents([pothole(spot(base, 0), "account-1", now)], now);
    const id = opened?._id.toHexString() ?? "";
    expect(await redis.zscore(key, id)).not.toBeNull();

    // Two people vote it gone (votes are keyed by account id).
    await tracker.vote(id, false, new ObjectId().toHexString());
    await tracker.vote(id, false, new ObjectId().toHexString());
    expect(await redis.zscore(key, id)).toBeNull();
    const [reopened] = await tracker.applyEvents([pothole(spot(base, 2), "account-4", now)], now);
    expect(reopened?._id.toHexString()).not.toBe(id);

    // 91 days on, the second one has expired: the next event there prunes it and opens a third.
    const later = new Date(now.getTime() + EXPIRY_MS + DAY);
    const [third] = await tracker.applyEvents([pothole(spot(base, 1), "account-5", later)], later);
    expect(third?._id.toHexString()).not.toBe(reopened?._id.toHexString());
    expect(await redis.zscore(key, reopened?._id.toHexString() ?? "")).toBeNull();
    expect((await hazards()).map((doc) => doc.reports)).toEqual([1, 1, 1]);
  });

  it("builds hazards while Redis is down, and other nodes find them once it is back", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "roadpulse-hazard-outage-"));
    // Cleanups run last-in first-out: registered first, both Redis servers stop after the nodes
    // that use them have closed, as in a real shutdown.
    let second: RedisInstance | undefined;
    cleanups.push(() => second?.stop());
    const first = await startRedisServer({ port, dir, output: "ignore" });
    cleanups.push(() => first.stop());
    const { a, b, hazards } = await twoNodes(first.url);
    const base = freshBase();
    const now = new Date();
    // A known pothole, so the cells around it are loaded into Redis (and saved with it).
    await a.services.roads.hazards.applyEvents([pothole(spot(base, 0), "account-1", now)], now);
    const before = new Redis(first.url);
    await before.save();
    before.disconnect();
    await first.service?.kill();
    await waitFor("both nodes to notice Redis is gone", () => !a.ctx.redis.available && !b.ctx.redis.available);

    // A new pothole 40 m away, and a second report of the known one: built from MongoDB alone.
    const changed = await a.services.roads.hazards.applyEvents(
      [pothole(spot(base, 40), "account-2", now), pothole(spot(base, 2), "account-3", now)],
      now,
    );
    expect(changed.map((doc) => doc.reports).sort()).toEqual([1, 2]);
    const outageId = changed.find((doc) => doc.reports === 1)?._id.toHexString() ?? "";
    // A person's vote is taken meanwhile too (rounds, which votes otherwise wait for, wait for Redis).
    expect(await a.services.roads.hazards.vote(outageId, true, "account-5")).toMatchObject({ reporters: 2 });

    // Redis comes back with its snapshot: the cells are marked loaded, the new pothole is not there.
    second = await startRedisServer({ port, dir, output: "ignore" });
    const redis = new Redis(second.url);
    cleanups.push(() => redis.disconnect());
    const key = Keys.hazardGeo(ngeohash.encode(base.latitude, base.longitude, 5), "pothole");
    await waitFor(
      "node a to add the hazard it opened meanwhile",
      async () => (await redis.zscore(key, outageId)) !== null,
    );
    await waitFor("node b to see Redis", () => b.ctx.redis.available);

    await b.services.roads.hazards.applyEvents([pothole(spot(base, 42), "account-4", now)], now);
    const docs = await hazards();
    expect(docs).toHaveLength(2);
    expect(docs.find((doc) => doc._id.toHexString() === outageId)).toMatchObject({ reports: 2 });
  });
});
