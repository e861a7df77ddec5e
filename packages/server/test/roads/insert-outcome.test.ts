import { randomUUID } from "node:crypto";
import { type BulkWriteResult, type Db, MongoBulkWriteError, MongoServerError } from "mongodb";
// The driver's own result class (internal: a type-only export at the top level).
import { BulkWriteResult as DriverBulkWriteResult } from "mongodb/lib/bulk/common.js";
// The driver's own error for a pool cleared under an in-flight operation (not re-exported at the
// top level): what an insert gets when the store stalls and the server monitor times out.
import { PoolClearedOnNetworkError } from "mongodb/lib/cmap/errors.js";
import { describe, expect, it } from "vitest";
import { StorageUnavailableError } from "../../src/errors.js";
import { Metrics } from "../../src/metrics/registry.js";
import { type ObservationDoc, ObservationsRepository } from "../../src/store/observations.js";

/** The driver's running result of a bulk write, as `BulkOperationBase` starts and fills it. */
interface BulkResult {
  ok: number;
  writeErrors: unknown[];
  writeConcernErrors: unknown[];
  insertedIds: Array<{ index: number; _id: unknown }>;
  nInserted: number;
  nUpserted: number;
  nMatched: number;
  nModified: number;
  nRemoved: number;
  upserted: unknown[];
}

// Its constructor is left out of the driver's type declarations.
const NewBulkWriteResult = DriverBulkWriteResult as unknown as new (
  result: BulkResult,
  ordered: boolean,
) => BulkWriteResult;

function bulkResult(docs: ObservationDoc[], nInserted: number, writeErrors: unknown[] = []): BulkResult {
  return {
    ok: 1,
    writeErrors,
    writeConcernErrors: [],
    // The driver lists every document it was asked to insert here, before knowing the outcome.
    insertedIds: docs.map((doc, index) => ({ index, _id: doc._id })),
    nInserted,
    nUpserted: 0,
    nMatched: 0,
    nModified: 0,
    nRemoved: 0,
    upserted: [],
  };
}

function docs(n: number): ObservationDoc[] {
  return Array.from({ length: n }, () => ({ _id: randomUUID() }) as ObservationDoc);
}

/** A repository whose collection's insertMany fails with `error` (nothing else is called). */
function repositoryFailingWith(error: unknown): ObservationsRepository {
  const db = {
    collection: () => ({
      insertMany: async () => {
        throw error;
      },
    }),
  } as unknown as Db;
  return new ObservationsRepository(db, new Metrics("test-node", "0.0.0"));
}

describe("insertNew counts only what the store confirmed", () => {
  it("throws when the pool was cleared under the insert (the driver's wrapped network error)", async () => {
    const batch = docs(5);
    const pool = { address: "127.0.0.1:27017" };
    // Exactly what BulkOperationBase.execute throws for "a driver related error": the cause
    // wrapped in a MongoBulkWriteError with no write errors and nothing confirmed.
    const cleared = new PoolClearedOnNetworkError(pool);
    const error = new MongoBulkWriteError(cleared, new NewBulkWriteResult(bulkResult(batch, 0), false));
    expect(error.writeErrors).toEqual([]);
    expect(error.writeConcernError).toBeUndefined();

    const outcome = repositoryFailingWith(error).insertNew(batch);
    await expect(outcome).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(outcome).rejects.toThrow(/confirmed 0 inserts and 0 duplicates of 5/);
  });

  it("throws when part of the batch was confirmed before the connection broke", async () => {
    const batch = docs(4);
    const cleared = new PoolClearedOnNetworkError({ address: "127.0.0.1:27017" });
    const error = new MongoBulkWriteError(cleared, new NewBulkWriteResult(bulkResult(batch, 2), false));
    await expect(repositoryFailingWith(error).insertNew(batch)).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it("reports duplicates, and the rest as stored, when every other document was confirmed", async () => {
    const batch = docs(3);
    const duplicate = { index: 1, code: 11000, errmsg: "E11000 duplicate key error", op: batch[1] };
    const error = new MongoBulkWriteError(
      { message: "E11000 duplicate key error", code: 11000, writeErrors: [duplicate as never] },
      new NewBulkWriteResult(bulkResult(batch, 2, [duplicate]), false),
    );
    const outcome = await repositoryFailingWith(error).insertNew(batch);
    expect(outcome.duplicates).toBe(1);
    expect(outcome.inserted.map((doc) => doc._id)).toEqual([batch[0]?._id, batch[2]?._id]);
  });

  it("rethrows a write error other than a duplicate key", async () => {
    const batch = docs(2);
    const invalid = { index: 0, code: 121, errmsg: "Document failed validation", op: batch[0] };
    const error = new MongoBulkWriteError(
      { message: "Document failed validation", code: 121, writeErrors: [invalid as never] },
      new NewBulkWriteResult(bulkResult(batch, 1, [invalid]), false),
    );
    await expect(repositoryFailingWith(error).insertNew(batch)).rejects.toBe(error);
  });

  it("passes on an error that is not a bulk write error", async () => {
    const error = new MongoServerError({ message: "not primary", code: 10107 });
    await expect(repositoryFailingWith(error).insertNew(docs(1))).rejects.toBe(error);
  });
});
