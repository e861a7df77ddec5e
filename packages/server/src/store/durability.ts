import type { WriteConcernSettings } from "mongodb";
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
