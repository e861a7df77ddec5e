import type { AnyBulkWriteOperation, BulkWriteOptions, Collection, Document, WriteConcernSettings } from "mongodb";
import type { Metrics } from "../metrics/registry.js";

/**
 * The write concern of everything an acknowledgement promises: acknowledged by a majority of the
 * replica set and in its journal, so an acked observation survives a primary failover or a crash.
 * On a standalone server (and FerretDB) this means "journaled on the one server".
 */
export const DURABLE: WriteConcernSettings = { w: "majority", j: true };

export const DUPLICATE_KEY = 11000;

/** Times one MongoDB write into `roadpulse_mongodb_write_duration_seconds{collection}`. */
export async function timedWrite<T>(metrics: Metrics, collection: string, write: () => Promise<T>): Promise<T> {
  const stop = metrics.mongoWriteDuration.startTimer({ collection });
  try {
    return await write();
  } finally {
    stop();
  }
}

/**
 * Update statements sent in one command. FerretDB 1.24 (SQLite backend) stops answering an
 * `update` command of 100 or more statements that touch existing documents (reproduced with plain
 * `$inc` upserts: 99 answer in ~0.1 s, 100 never do), so bulk updates go in sequential chunks well
 * below that. MongoDB 7 is indifferent to the chunking.
 */
export const MAX_UPDATES_PER_COMMAND = 50;

/** `bulkWrite` in sequential chunks of at most MAX_UPDATES_PER_COMMAND statements. */
export async function bulkWriteInChunks<T extends Document>(
  collection: Collection<T>,
  operations: AnyBulkWriteOperation<T>[],
  options: BulkWriteOptions,
): Promise<void> {
  for (let start = 0; start < operations.length; start += MAX_UPDATES_PER_COMMAND) {
    await collection.bulkWrite(operations.slice(start, start + MAX_UPDATES_PER_COMMAND), options);
  }
}
