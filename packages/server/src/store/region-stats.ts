import type { AnyBulkWriteOperation, Collection, Db } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { bulkWriteInChunks, DURABLE, timedWrite } from "./durability.js";

/** `region_daily_stats`: one document per geohash-5 region and UTC day, kept with `$inc` only. */
export interface RegionDayDoc {
  _id: string;
  region: string;
  day: string;
  observations: number;
  counted: number;
  sum: number;
  sumSquares: number;
  potholes: number;
  bumps: number;
}

export type RegionDayDelta = Omit<RegionDayDoc, "_id">;

export const REGION_DAILY_STATS = "region_daily_stats";

export function regionDayId(region: string, day: string): string {
  return `${region}:${day}`;
}

export class RegionStatsRepository {
  readonly #collection: Collection<RegionDayDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<RegionDayDoc>(REGION_DAILY_STATS);
  }

  async apply(deltas: RegionDayDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const operations: AnyBulkWriteOperation<RegionDayDoc>[] = deltas.map((d) => ({
      updateOne: {
        filter: { _id: regionDayId(d.region, d.day) },
        update: {
          $inc: {
            observations: d.observations,
            counted: d.counted,
            sum: d.sum,
            sumSquares: d.sumSquares,
            potholes: d.potholes,
            bumps: d.bumps,
          },
          $setOnInsert: { region: d.region, day: d.day },
        },
        upsert: true,
      },
    }));
    await timedWrite(this.metrics, REGION_DAILY_STATS, () =>
      bulkWriteInChunks(this.#collection, operations, { ordered: false, writeConcern: DURABLE }),
    );
  }

  /** Days `from`…`to` (inclusive, `YYYY-MM-DD`) that have data, ascending. */
  async range(region: string, from: string, to: string): Promise<RegionDayDoc[]> {
    return await this.#collection
      .find({ region, day: { $gte: from, $lte: to } })
      .sort({ day: 1 })
      .limit(400)
      .toArray();
  }
}
