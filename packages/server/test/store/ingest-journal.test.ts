import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../src/metrics/registry.js";
import { type IngestBatchDoc, IngestJournal } from "../../src/store/ingest-journal.js";
import { mongoUri, uniqueDbName } from "../support/env.js";

/** Take-over of journal entries whose holder went quiet, against the holder waking up. */
describe("stale journal entries", () => {
  let client: MongoClient;
  let db: Db;
  let holder: IngestJournal;
  let rescuer: IngestJournal;
  const STALE_MS = 30_000;

  beforeAll(async () => {
    client = new MongoClient(mongoUri(uniqueDbName("journal")), { socketTimeoutMS: 30_000 });
    db = client.db();
    const metrics = new Metrics("test-node", "0.0.0");
    holder = new IngestJournal(db, metrics, "sleeper", 5_000);
    rescuer = new IngestJournal(db, metrics, "rescuer", 5_000);
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  /** An entry of `holder`'s, last renewed `ageMs` ago (as after a pause of that length). */
  async function entryAged(ageMs: number) {
    const entry = await holder.open();
    const claimedAt = new Date(Date.now() - ageMs);
    await db.collection<IngestBatchDoc>("ingest_batches").updateOne({ _id: entry.batch }, { $set: { claimedAt } });
    return { ...entry, claimedAt: claimedAt.getTime() };
  }

  it("is taken over by another node once stale, and its holder then lets go", async () => {
    const entry = await entryAged(STALE_MS + 5_000);
    const taken = await rescuer.claimStale(STALE_MS);
    expect(taken.map((e) => e.batch.toHexString())).toContain(entry.batch.toHexString());
    // The holder, waking, renews its queue: the entry is no longer its own.
    expect(await holder.renew([entry], STALE_MS / 4)).toEqual([]);
  });

  it("stays with its holder when the holder renews it between another node's read and its claim", async () => {
    const entry = await entryAged(STALE_MS + 5_000);
    // Another node reads the stale entries ...
    const cutoff = new Date(Date.now() - STALE_MS);
    const read = await db
      .collection<IngestBatchDoc>("ingest_batches")
      .find({ _id: entry.batch, claimedAt: { $lt: cutoff } })
      .toArray();
    expect(read).toHaveLength(1);
    // ... the holder wakes and renews it (it still holds it: nobody claimed it yet) ...
    expect(await holder.renew([entry], STALE_MS / 4)).toHaveLength(1);
    // ... so the other node's claim must miss: both going on with the batch would count it twice.
    expect(await rescuer.claim(read, cutoff)).toEqual([]);
    const stored = await db.collection<IngestBatchDoc>("ingest_batches").findOne({ _id: entry.batch });
    expect(stored?.claim.toHexString()).toBe(entry.claim.toHexString());
  });
});
