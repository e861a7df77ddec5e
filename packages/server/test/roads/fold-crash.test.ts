import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type NodeProcess, startNodeProcess, waitFor } from "@roadpulse/devstack";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connected, emitAck, observation, openDevice } from "../support/devices.js";
import { mongoUri, redisUrl, register, registerDevice, TEST_JWT_SECRET, uniqueDbName } from "../support/env.js";

/** Segments of one batch: one upsert each, then one command of region-days. */
const SEGMENTS = 120;
const SAMPLES_PER_SEGMENT = 2;

/**
 * Steps of a node's first round with that batch (AGGREGATE_TEST_CRASH_AT, see aggregator.ts): the
 * node dies right before step n. 1..SEGMENTS are the segment upserts, then the region-day
 * command, then closing the journal entry. Segment upserts go FOLD_DOCUMENTS_IN_FLIGHT at a time,
 * so a death before step n also cuts the upserts before it that are still in flight.
 */
const CRASHES = [
  { step: 1, what: "after recording the round, before any aggregate write" },
  { step: Math.floor(SEGMENTS / 2) + 1, what: "after half of the segment upserts" },
  { step: SEGMENTS + 2, what: "after every aggregate write, before closing the journal" },
];

/**
 * SIGKILL during a fold: node processes that kill themselves at chosen steps of their first round
 * of aggregates, and one node that survives and recovers their rounds. Every stored observation
 * must then be counted exactly once in its segment and in daily history.
 */
describe("a node SIGKILLed in the middle of a fold", { timeout: 420_000 }, () => {
  let dir: string;
  let database: string;
  const nodes: NodeProcess[] = [];

  async function startNode(name: string, env: Record<string, string> = {}): Promise<NodeProcess> {
    const node = await startNodeProcess({
      nodeId: `${name}-${randomBytes(2).toString("hex")}`,
      port: await freePort(),
      env: {
        HOST: "127.0.0.1",
        REDIS_URL: redisUrl(),
        MONGODB_URI: database,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: "warn",
        ADAPTER_CHANNEL_PREFIX: `fc${randomBytes(4).toString("hex")}`,
        ...env,
      },
      output: join(dir, `${name}.log`),
    });
    nodes.push(node);
    return node;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roadpulse-fold-crash-"));
    database = mongoUri(uniqueDbName("fc"));
  });
  afterAll(async () => {
    await Promise.allSettled(nodes.map((node) => node.service.stop("SIGTERM", 10_000)));
    if (process.env.KEEP_FOLD_CRASH === undefined) rmSync(dir, { recursive: true, force: true });
    else console.log("kept", dir);
  });

  it("loses nothing and counts nothing twice once another node recovers the round", async () => {
    const survivor = await startNode("survivor");
    const crashing = await Promise.all(
      CRASHES.map((crash) => startNode(`crash${crash.step}`, { AGGREGATE_TEST_CRASH_AT: String(crash.step) })),
    );
    const account = await register(survivor.url, "folds");

    // One batch per crashing node, on roads of its own: 120 segments × 2 samples, ~55 m apart. One
    // node at a time, each batch once the previous node died: all at once, a node would wait for
    // the fold lock (roads:fold:lock) behind nodes that died holding it (20 s each), and on a busy
    // machine the survivor could take its stale batch over first, so it never reached its step.
    const acked: string[] = [];
    for (const [n, node] of crashing.entries()) {
      const device = await connected(
        openDevice(node.url, account.token, await registerDevice(node.url, account.token)),
      );
      const batch = Array.from({ length: SEGMENTS * SAMPLES_PER_SEGMENT }, (_, i) =>
        observation({ latitude: 28.6 + n * 0.1 + Math.floor(i / SAMPLES_PER_SEGMENT) * 0.0005, longitude: 77.2 }),
      );
      try {
        const ack = await emitAck(device, "observations:submit", { observations: batch }, 60_000);
        if (ack.ok) acked.push(...batch.map((o) => o.id));
      } catch {
        // The node may die before its ack leaves: such a batch is not acked, but it is stored.
      } finally {
        device.close();
      }
      await waitFor(`node ${CRASHES[n]?.what} to die`, () => !node.service.running, 90_000);
    }

    const mongo = new MongoClient(database);
    try {
      const db = mongo.db();
      const observations = db.collection<{ _id: string; segmentId: string; region: string }>("observations");
      // The survivor takes the dead nodes' lanes and entries over once they are stale (30 s). A
      // round's journal entries go only after its last aggregate write: none left = all applied.
      await waitFor(
        "the survivor to recover every round",
        async () => (await db.collection("ingest_batches").countDocuments()) === 0,
        180_000,
        1_000,
      );

      const stored = await observations.find({}, { projection: { segmentId: 1, region: 1 } }).toArray();
      expect(stored.length).toBe(CRASHES.length * SEGMENTS * SAMPLES_PER_SEGMENT);
      const storedIds = new Set(stored.map((o) => o._id));
      expect(acked.filter((id) => !storedIds.has(id))).toEqual([]);

      const perSegment = new Map<string, number>();
      const perRegion = new Map<string, number>();
      for (const o of stored) {
        perSegment.set(o.segmentId, (perSegment.get(o.segmentId) ?? 0) + 1);
        perRegion.set(o.region, (perRegion.get(o.region) ?? 0) + 1);
      }
      const segments = await db
        .collection<{ _id: string; samples: number }>("road_segments")
        .find({}, { projection: { samples: 1 } })
        .toArray();
      expect(Object.fromEntries(segments.map((s) => [s._id, s.samples]))).toEqual(Object.fromEntries(perSegment));
      const days = await db
        .collection<{ region: string; observations: number }>("region_daily_stats")
        .find({})
        .toArray();
      const daily = new Map<string, number>();
      for (const day of days) daily.set(day.region, (daily.get(day.region) ?? 0) + day.observations);
      expect(Object.fromEntries(daily)).toEqual(Object.fromEntries(perRegion));
    } finally {
      await mongo.close();
    }
  });
});
