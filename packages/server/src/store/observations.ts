import { type Collection, type Db, MongoBulkWriteError, type ObjectId } from "mongodb";
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
   * duplicate does not stop the rest; duplicate-key errors are the expected "already stored" answer,
   * any other write error is a real failure and is thrown.
   */
  async insertNew(docs: ObservationDoc[]): Promise<{ inserted: ObservationDoc[]; duplicates: number }> {
    try {
      await timedWrite(this.metrics, OBSERVATIONS, () =>
        this.#collection.insertMany(docs, { ordered: false, writeConcern: DURABLE }),
      );
      return { inserted: docs, duplicates: 0 };
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      if (writeErrors.some((e) => e.code !== DUPLICATE_KEY) || error.writeConcernError) throw error;
      const failed = new Set(writeErrors.map((e) => e.index));
      return { inserted: docs.filter((_, index) => !failed.has(index)), duplicates: failed.size };
    }
  }

  /** The observations a given batch stored (crash recovery of aggregates). */
  async findByBatch(batch: ObjectId): Promise<ObservationDoc[]> {
    return await this.#collection.find({ batch }).toArray();
  }

  async count(filter: Partial<Pick<ObservationDoc, "_id" | "deviceId">> = {}): Promise<number> {
    return await this.#collection.countDocuments(filter);
  }
}
