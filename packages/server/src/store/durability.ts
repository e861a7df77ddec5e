import type { AnyBulkWriteOperation, BulkWriteOptions, Collection, Document, WriteConcernSettings } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { timed } from "../metrics/timing.js";

/**
 * The write concern of everything an acknowledgement promises: acknowledged by a majority of the
 * replica set and in its journal, so an acked observation survives a primary failover or a crash.
 * On a standalone server (and FerretDB) this means "journaled on the one server".
 */
export const DURABLE: WriteConcernSettings = { w: "majority", j: true };

export const DUPLICATE_KEY = 11000;

/** Times one MongoDB write into `roadpulse_mongodb_write_duration_seconds{collection}`. */
export function timedWrite<T>(metrics: Metrics, collection: string, write: () => Promise<T>): Promise<T> {
  return timed(metrics.mongoWriteDuration, { collection }, write);
}

/**
 * Update statements sent in one command. FerretDB 1.24 keeps every `updateOne` statement's query
 * open, each holding one of its backend connections, until the whole command ends (the closer is
 * deferred inside its loop over the statements), and a statement's write needs one more. A command
 * of as many statements as the pool has connections therefore waits forever for a connection,
 * and so do several smaller commands at once that add up to it: SQLite's pool is 100 (99
 * statements answer in ~0.1 s, 100 never do), PostgreSQL's is the URL's `pool_max_conns` (25 of 25
 * never answer, 24 do). A round of folds sends FOLD_COMMANDS_IN_FLIGHT of them at once (folds.ts):
 * 4 × (5 + 1) = 24 connections at most, beside the inserts, under the local cluster's 40 (its
 * segment writes, one document a command, hold 8 × 2). Five statements a command and four commands
 * at once also measured faster than ten at a time in one (230 against 120 upserts/s on FerretDB
 * 1.24 / PostgreSQL, 5,000 segments). MongoDB 7 is indifferent to the chunking.
 */
export const MAX_UPDATES_PER_COMMAND = 5;

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
