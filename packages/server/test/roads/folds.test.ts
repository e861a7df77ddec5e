import { MongoBulkWriteError, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalStaleMs } from "../../src/roads/aggregator.js";
import { MAX_UPDATES_PER_COMMAND } from "../../src/store/durability.js";
import {
  duplicateAt,
  type FoldId,
  type FoldWrite,
  foldFilter,
  writeFolds,
  writeFoldsReturning,
} from "../../src/store/folds.js";
import { mongoUri, uniqueDbName } from "../support/env.js";

interface Counter {
  _id: string;
  n: number;
  folds?: Record<string, number>;
}

function adds(ids: string[], n = 1): FoldWrite[] {
  return ids.map((id) => ({ id, update: { $inc: { n } } }));
}

describe("fold writes (pure parts)", () => {
  it("filters out documents holding the round or a later one of the same lane", () => {
    expect(foldFilter("s1", { lane: 3, seq: 7 })).toEqual({ _id: "s1", "folds.l3": { $not: { $gte: 7 } } });
  });

  it("reads a duplicate key as 'already applied' and nothing else", () => {
    const bulkError = (code: number) =>
      new MongoBulkWriteError(
        { message: `code ${code}`, code, writeErrors: [{ index: 4, code, errmsg: `code ${code}` }] } as never,
        {} as never,
      );
    expect(duplicateAt(bulkError(11000))).toBe(4);
    expect(duplicateAt(bulkError(2))).toBeNull();
    expect(duplicateAt(new Error("network"))).toBeNull();
  });

  it("gives a lane's holder more than twice the store deadline before others take over", () => {
    expect(journalStaleMs(10_000)).toBe(30_000);
    expect(journalStaleMs(60_000)).toBe(180_000);
    expect(journalStaleMs(500)).toBeGreaterThan(2 * 500);
  });
});

/** Against the run's FerretDB: what a retried or recovered round does to the counts. */
describe("fold writes on the store", () => {
  let client: MongoClient;
  let collectionName = 0;
  beforeAll(async () => {
    client = new MongoClient(mongoUri(uniqueDbName("folds")));
    await client.connect();
  });
  afterAll(async () => {
    await client.db().dropDatabase();
    await client.close();
  });

  function fresh() {
    collectionName += 1;
    return client.db().collection<Counter>(`counters${collectionName}`);
  }

  async function counts(collection: ReturnType<typeof fresh>): Promise<Record<string, number>> {
    const docs = await collection.find({}).toArray();
    return Object.fromEntries(docs.map((doc) => [doc._id, doc.n]));
  }

  it("counts a round once however often it is applied, across several commands", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 120 }, (_, i) => `s${String(i).padStart(3, "0")}`);
    const round: FoldId = { lane: 0, seq: 1 };
    await writeFolds(collection, adds(ids), round);
    await writeFolds(collection, adds(ids), round);
    await writeFolds(collection, adds(ids), round);
    const n = await counts(collection);
    expect(Object.keys(n)).toHaveLength(120);
    expect(Object.values(n).every((value) => value === 1)).toBe(true);
  });

  it("re-applies a round cut short (a crash after some commands) without counting any part twice", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 80 }, (_, i) => `s${i}`);
    const round: FoldId = { lane: 2, seq: 5 };
    // What a node wrote before it died: every other document, then a few more of them.
    await writeFolds(collection, adds(ids.filter((_, i) => i % 2 === 0)), round);
    await writeFolds(collection, adds(ids.slice(0, 7)), round);
    await writeFolds(collection, adds(ids), round);
    expect(Object.values(await counts(collection))).toEqual(ids.map(() => 1));
  });

  it("applies the next round of a lane and ignores an earlier one arriving late", async () => {
    const collection = fresh();
    await writeFolds(collection, adds(["a"], 1), { lane: 1, seq: 1 });
    await writeFolds(collection, adds(["a"], 10), { lane: 1, seq: 2 });
    await writeFolds(collection, adds(["a"], 100), { lane: 1, seq: 1 });
    await writeFolds(collection, adds(["a"], 1_000), { lane: 4, seq: 1 });
    expect(await counts(collection)).toEqual({ a: 1_011 });
    expect((await collection.findOne({ _id: "a" }))?.folds).toEqual({ l1: 2, l4: 1 });
  });

  // Not at the same instant: FerretDB 1.24 loses concurrent updates of one document (fold-lock.ts).
  it("counts every lane's round on documents that other lanes created", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 60 }, (_, i) => `new${i}`);
    await writeFolds(collection, adds(ids.slice(0, 20), 1), { lane: 0, seq: 1 });
    await writeFolds(collection, adds(ids, 1), { lane: 0, seq: 1 });
    await writeFolds(collection, adds(ids, 10), { lane: 1, seq: 1 });
    await writeFolds(collection, adds([...ids].reverse(), 100), { lane: 2, seq: 1 });
    expect(Object.values(await counts(collection))).toEqual(ids.map(() => 111));
  });

  it("stops before a command when the guard says the lease is gone, writing nothing more", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 120 }, (_, i) => `g${i}`);
    let commands = 0;
    const guard = async () => {
      commands += 1;
      if (commands > 1) throw new Error("lease lost");
    };
    await expect(writeFolds(collection, adds(ids), { lane: 0, seq: 1 }, guard)).rejects.toThrow("lease lost");
    // Only the first command (one chunk of statements) went through.
    expect(await collection.countDocuments()).toBe(MAX_UPDATES_PER_COMMAND);
  });

  it("returns each document with the round in it, also when the round is re-applied after a crash", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    const round: FoldId = { lane: 3, seq: 9 };
    await writeFoldsReturning(collection, adds(ids.slice(0, 17), 2), { lane: 3, seq: 8 });
    // A node died after writing some of round 9; the round is then applied whole, twice.
    await writeFoldsReturning(collection, adds(ids.filter((_, i) => i % 3 === 0)), round);
    const first = await writeFoldsReturning(collection, adds(ids), round);
    const again = await writeFoldsReturning(collection, adds(ids), round);
    const expected = Object.fromEntries(ids.map((id, i) => [id, i < 17 ? 3 : 1]));
    for (const returned of [first, again]) {
      expect(Object.fromEntries(returned.map((doc) => [doc._id, doc.n]))).toEqual(expected);
      expect(returned.every((doc) => doc.folds?.l3 === 9)).toBe(true);
    }
    expect(await counts(collection)).toEqual(expected);
  });

  it("starts no document write once the guard says the lease is gone", async () => {
    const collection = fresh();
    const ids = Array.from({ length: 40 }, (_, i) => `q${i}`);
    let writes = 0;
    const guard = async () => {
      writes += 1;
      if (writes > 1) throw new Error("lease lost");
    };
    await expect(writeFoldsReturning(collection, adds(ids), { lane: 0, seq: 1 }, guard)).rejects.toThrow("lease lost");
    expect(await collection.countDocuments()).toBe(1);
  });
});
