import { randomUUID } from "node:crypto";
import { type Db, MongoClient, ObjectId } from "mongodb";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageUnavailable } from "../../src/errors.js";
import { Metrics } from "../../src/metrics/registry.js";
import { GROUP_COMMIT_DEFAULTS, GroupCommit, type NewObservation } from "../../src/roads/group-commit.js";
import { IngestJournal, type JournalEntry } from "../../src/store/ingest-journal.js";
import { type ObservationDoc, ObservationsRepository } from "../../src/store/observations.js";
import { mongoUri, uniqueDbName } from "../support/env.js";

function newObservation(deviceId = "device-0001"): NewObservation {
  const now = new Date();
  return {
    _id: randomUUID(),
    userId: "user-1",
    deviceId,
    latitude: 55.6761,
    longitude: 12.5683,
    recordedAt: now,
    receivedAt: now,
    roughness: 1.5,
    segmentId: "u3butzxb.ew",
    region: "u3but",
    counted: true,
  };
}

const silent = pino({ level: "silent" });

describe("group commit of observation batches", () => {
  let client: MongoClient;
  let db: Db;
  let metrics: Metrics;
  let observations: ObservationsRepository;
  let journal: IngestJournal;

  beforeAll(async () => {
    client = new MongoClient(mongoUri(uniqueDbName("group")), { socketTimeoutMS: 30_000 });
    db = client.db();
    metrics = new Metrics("test-node", "0.0.0");
    observations = new ObservationsRepository(db, metrics);
    journal = new IngestJournal(db, metrics, "test-node", 5_000);
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  function committer(overrides: Partial<typeof GROUP_COMMIT_DEFAULTS> = {}) {
    const groups: Array<{ entry: JournalEntry; inserted: ObservationDoc[] }> = [];
    const commits = new GroupCommit(
      journal,
      observations,
      (entry, inserted) => groups.push({ entry, inserted }),
      metrics,
      silent,
      { ...GROUP_COMMIT_DEFAULTS, ...overrides },
    );
    return { commits, groups };
  }

  it("stores the concurrent batches of many devices in a few inserts and acks each one its own", async () => {
    const { commits, groups } = committer({ lingerMs: 20 });
    const batches = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 5 }, () => newObservation(`device-${String(i).padStart(4, "0")}`)),
    );
    const results = await Promise.all(batches.map((batch) => commits.submit(batch)));

    for (const [i, result] of results.entries()) {
      expect(result.duplicates).toBe(0);
      expect(result.inserted.map((doc) => doc._id)).toEqual(batches[i]?.map((doc) => doc._id));
    }
    // Far fewer store inserts (and journal entries) than batches: that is the point.
    expect(groups.length).toBeLessThanOrEqual(4);
    expect(groups.flatMap((g) => g.inserted)).toHaveLength(200);
    // Every stored observation names its group's journal entry, which recovery reads them by.
    for (const group of groups) {
      const stored = await observations.findByBatch(group.entry.batch);
      expect(stored.map((doc) => doc._id).sort()).toEqual(group.inserted.map((doc) => doc._id).sort());
    }
  });

  it("stores an observation sent in two batches of one group once: one ack counts it, the other calls it a duplicate", async () => {
    const { commits } = committer({ lingerMs: 20 });
    const shared = newObservation();
    const first = [shared, newObservation()];
    const second = [{ ...shared }, newObservation()];
    const [a, b] = await Promise.all([commits.submit(first), commits.submit(second)]);
    expect(a.inserted.length + b.inserted.length).toBe(3);
    expect(a.duplicates + b.duplicates).toBe(1);
    expect(await observations.count({ _id: shared._id })).toBe(1);
  });

  it("stores the new observations of a group that also holds already stored ones", async () => {
    const { commits } = committer();
    const old = [newObservation(), newObservation()];
    await commits.submit(old);
    const batch = [
      newObservation(),
      old[0] as NewObservation,
      newObservation(),
      old[1] as NewObservation,
      newObservation(),
    ];
    const result = await commits.submit(batch.map((doc) => ({ ...doc })));
    expect(result.duplicates).toBe(2);
    expect(result.inserted.map((doc) => doc._id)).toEqual([batch[0]?._id, batch[2]?._id, batch[4]?._id]);
    for (const doc of batch) expect(await observations.count({ _id: doc._id })).toBe(1);
  });

  it("refuses a batch at once when too many observations are waiting, and stores none of it", async () => {
    const { commits } = committer({ lingerMs: 50, maxPending: 10 });
    const admitted = commits.submit(Array.from({ length: 8 }, () => newObservation()));
    const refusedBatch = Array.from({ length: 5 }, () => newObservation());
    const refused = commits.submit(refusedBatch);
    await expect(refused).rejects.toSatisfy(isStorageUnavailable);
    expect((await admitted).inserted).toHaveLength(8);
    expect(await observations.count({ _id: refusedBatch[0]?._id })).toBe(0);
  });

  it("fails every batch of a group when the store is unreachable, within the driver's deadline", async () => {
    // A port nothing listens on: the group's journal entry cannot even be written.
    const away = new MongoClient("mongodb://127.0.0.1:9/none", { serverSelectionTimeoutMS: 500 });
    const awayDb = away.db();
    const commits = new GroupCommit(
      new IngestJournal(awayDb, metrics, "test-node", 5_000),
      new ObservationsRepository(awayDb, metrics),
      () => {
        throw new Error("nothing may be handed on");
      },
      metrics,
      silent,
    );
    const results = await Promise.allSettled([commits.submit([newObservation()]), commits.submit([newObservation()])]);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") expect(isStorageUnavailable(result.reason)).toBe(true);
    }
    expect(commits.pending).toBe(0);
    await away.close();
  });

  it("keeps the batch id of each group distinct", async () => {
    const { commits, groups } = committer({ lingerMs: 0 });
    await commits.submit([newObservation()]);
    await commits.submit([newObservation()]);
    const ids = groups.map((g) => g.entry.batch);
    expect(ids[0]).toBeInstanceOf(ObjectId);
    expect(ids[0]?.equals(ids[1] as ObjectId)).toBe(false);
  });
});
