import { type Collection, type Db, MongoBulkWriteError, type ObjectId } from "mongodb";
import { StorageUnavailableError } from "../errors.js";
import type { Metrics } from "../metrics/registry.js";
import { DUPLICATE_KEY, DURABLE, timedWrite } from "./durability.js";

/**
 * One stored observation. `_id` is the device-chosen UUID: the primary key's uniqueness is what
 * makes a resent or concurrently delivered observation a duplicate, stored once, on any node.
 */
export interface ObservationDoc {
  _id: string;
  userId: string;
  deviceId: string;
  latitude: number;
  longitude: number;
  recordedAt: Date;
  receivedAt: Date;
  roughness: number;
  speed?: number;
  heading?: number;
  event?: "pothole" | "bump";
  segmentId: string;
  /** geohash-5 region of daily history. */
  region: string;
  /** Passed the speed gate: counts for segment quality. */
  counted: boolean;
  /** The ingest batch that stored it (see ingest-journal.ts). */
  batch: ObjectId;
}

export const OBSERVATIONS = "observations";

export class ObservationsRepository {
  readonly #collection: Collection<ObservationDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<ObservationDoc>(OBSERVATIONS);
  }

  /**
   * Inserts every document whose id is new and tells which ones this call stored. Unordered, so one
   * duplicate does not stop the rest. What is reported as stored is what the store confirmed:
   * see `insertOutcome` for the failures that must never be read as success.
   */
  async insertNew(docs: ObservationDoc[]): Promise<{ inserted: ObservationDoc[]; duplicates: number }> {
    let confirmed: number;
    try {
      const result = await timedWrite(this.metrics, OBSERVATIONS, () =>
        this.#collection.insertMany(docs, { ordered: false, writeConcern: DURABLE }),
      );
      confirmed = result.insertedCount;
    } catch (error) {
      return insertOutcome(docs, error);
    }
    if (confirmed !== docs.length) {
      throw new StorageUnavailableError(`the store confirmed ${confirmed} of ${docs.length} inserts`);
    }
    return { inserted: docs, duplicates: 0 };
  }

  /** The observations a given batch stored (crash recovery of aggregates). */
  async findByBatch(batch: ObjectId): Promise<ObservationDoc[]> {
    return await this.#collection.find({ batch }).toArray();
  }

  async count(filter: Partial<Pick<ObservationDoc, "_id" | "deviceId">> = {}): Promise<number> {
    return await this.#collection.countDocuments(filter);
  }
}

/**
 * What an unordered `insertMany` that threw did store. Duplicate keys are the expected "already
 * stored" answer; the rest of the batch counts as stored only when the store confirmed every other
 * document (`insertedCount`). The driver wraps *any* failure of the command in a
 * `MongoBulkWriteError`, a broken connection or a cleared pool included, with no write errors at
 * all and nothing confirmed: reading "no write error" as "all stored" would acknowledge data the
 * store never kept. Such an outcome is unknown, so it throws StorageUnavailableError; a write error
 * other than a duplicate, or a write-concern error, is rethrown as it is.
 */
export function insertOutcome<T>(docs: T[], error: unknown): { inserted: T[]; duplicates: number } {
  if (!(error instanceof MongoBulkWriteError)) throw error;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.some((e) => e.code !== DUPLICATE_KEY) || error.writeConcernError) throw error;
  const failed = new Set(writeErrors.map((e) => e.index));
  const confirmed = error.result?.insertedCount ?? 0;
  if (confirmed + failed.size !== docs.length) {
    throw new StorageUnavailableError(
      `the store confirmed ${confirmed} inserts and ${failed.size} duplicates of ${docs.length}: ${error.message}`,
      { cause: error },
    );
  }
  return { inserted: docs.filter((_, index) => !failed.has(index)), duplicates: failed.size };
}
