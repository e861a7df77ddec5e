import type { Collection, Db } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { timedWrite } from "./durability.js";
import { type FoldId, type FoldWrite, writeFolds } from "./folds.js";

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
  /** Last round folded in, per aggregate lane (folds.ts). */
  folds?: Record<string, number>;
}

export type RegionDayDelta = Omit<RegionDayDoc, "_id" | "folds">;

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

  /** One upsert per region-day, exactly once per round (folds.ts). */
  async apply(deltas: RegionDayDelta[], fold: FoldId, guard?: () => Promise<void>): Promise<void> {
    if (deltas.length === 0) return;
    const writes: FoldWrite[] = deltas.map((d) => ({
      id: regionDayId(d.region, d.day),
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
    }));
    await timedWrite(this.metrics, REGION_DAILY_STATS, () => writeFolds(this.#collection, writes, fold, guard));
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
