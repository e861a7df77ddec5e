import type { AnyBulkWriteOperation, Collection, Db, Filter } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { bulkWriteInChunks, DURABLE, timedWrite } from "./durability.js";
import { type FoldId, type FoldWrite, writeFoldsReturning } from "./folds.js";
import { changedInRegions } from "./region-changes.js";

/**
 * `road_segments`: one document per segment key, holding running sums only (count, Σx, Σx²),
 * never a list of observations, so reading a segment's quality costs one document.
 */
export interface SegmentDoc {
  _id: string;
  geohash: string;
  axis: string;
  /** Centre of the geohash-8 cell. */
  latitude: number;
  longitude: number;
  /** geohash-5 of the cell: the bounding-box reads select on it. */
  region: string;
  samples: number;
  count: number;
  sum: number;
  sumSquares: number;
  /** Distinct devices behind `count`, capped at MAX_SEGMENT_DEVICES. */
  devices: string[];
  firstObservedAt: Date;
  lastObservedAt: Date;
  updatedAt: Date;
  ml?: { score: number; model: string; scoredAt: Date };
  /** Last round folded in, per aggregate lane (folds.ts). */
  folds?: Record<string, number>;
}

/** The quality rule needs 2 devices; remembering up to 16 shows "how many" without growing forever. */
export const MAX_SEGMENT_DEVICES = 16;
export const ROAD_SEGMENTS = "road_segments";

/**
 * What one aggregation round adds to one segment: the document's own fields (where it is, its
 * sums and the time span of its samples) and the devices seen, as a set.
 */
export interface SegmentDelta extends Omit<SegmentDoc, "_id" | "devices" | "updatedAt" | "ml" | "folds"> {
  id: string;
  devices: Set<string>;
}

export interface SegmentRange {
  /** geohash-5 cells covering the box, and the box itself. */
  regions: string[];
  minLat: number;
  maxLat: number;
  minLon: number;
  maxLon: number;
}

export class SegmentsRepository {
  readonly #collection: Collection<SegmentDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<SegmentDoc>(ROAD_SEGMENTS);
  }

  /**
   * One upsert per segment, exactly once per round (folds.ts): `$inc` of the sums, `$min`/`$max`
   * of the time span, `$addToSet` of the devices (left out for segments already known to be at
   * the cap, so the list stays bounded). Returns the segments as they are with the round in them.
   */
  async apply(
    deltas: SegmentDelta[],
    fold: FoldId,
    now: Date,
    fullSegments: ReadonlySet<string>,
    guard?: () => Promise<void>,
  ): Promise<SegmentDoc[]> {
    if (deltas.length === 0) return [];
    const writes: FoldWrite[] = deltas.map((delta) => {
      const addDevices = delta.devices.size > 0 && !fullSegments.has(delta.id);
      return {
        id: delta.id,
        update: {
          $inc: { samples: delta.samples, count: delta.count, sum: delta.sum, sumSquares: delta.sumSquares },
          $min: { firstObservedAt: delta.firstObservedAt },
          $max: { lastObservedAt: delta.lastObservedAt },
          $set: { updatedAt: now },
          $setOnInsert: {
            geohash: delta.geohash,
            axis: delta.axis,
            latitude: delta.latitude,
            longitude: delta.longitude,
            region: delta.region,
            ...(addDevices ? {} : { devices: [] }),
          },
          ...(addDevices ? { $addToSet: { devices: { $each: [...delta.devices] } } } : {}),
        },
      };
    });
    return await timedWrite(this.metrics, ROAD_SEGMENTS, () =>
      writeFoldsReturning(this.#collection, writes, fold, guard),
    );
  }

  async findByIds(ids: string[], maxTimeMS?: number): Promise<SegmentDoc[]> {
    if (ids.length === 0) return [];
    return await this.#collection.find({ _id: { $in: ids } }, maxTimeMS === undefined ? {} : { maxTimeMS }).toArray();
  }

  async findById(id: string): Promise<SegmentDoc | null> {
    return await this.#collection.findOne({ _id: id });
  }

  /** Segments whose key starts with a geohash prefix: one range of the primary index. */
  async pageByGeohash(prefix: string, after: string | undefined, limit: number): Promise<SegmentDoc[]> {
    const range: Filter<SegmentDoc> = { _id: { $gte: prefix, $lt: `${prefix}~`, ...(after ? { $gt: after } : {}) } };
    return await this.#collection.find(range).sort({ _id: 1 }).limit(limit).toArray();
  }

  /** Segments whose cell centre lies in the box, in key order, from the covering regions' index. */
  async pageByBox(box: SegmentRange, after: string | undefined, limit: number): Promise<SegmentDoc[]> {
    const filter: Filter<SegmentDoc> = {
      region: { $in: box.regions },
      latitude: { $gte: box.minLat, $lte: box.maxLat },
      longitude: { $gte: box.minLon, $lte: box.maxLon },
      ...(after ? { _id: { $gt: after } } : {}),
    };
    return await this.#collection.find(filter).sort({ _id: 1 }).limit(limit).toArray();
  }

  /**
   * Segments of the given geohash-5 regions changed at or after `since`, oldest change first (the
   * `region_updated` index): what a reconnecting device missed (`region:sync`).
   */
  async changedSince(regions: string[], since: Date, limit: number, maxTimeMS: number): Promise<SegmentDoc[]> {
    return await changedInRegions(this.#collection, regions, since, limit, maxTimeMS);
  }

  /** Stores ML scores on existing segments; returns the ids that exist (and were updated). */
  async setMlScores(scores: Array<{ segmentId: string; score: number; model: string }>, now: Date): Promise<string[]> {
    const ids = [...new Set(scores.map((s) => s.segmentId))];
    const existing = new Set(
      (await this.#collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id),
    );
    const operations: AnyBulkWriteOperation<SegmentDoc>[] = scores
      .filter((s) => existing.has(s.segmentId))
      .map((s) => ({
        updateOne: {
          filter: { _id: s.segmentId },
          update: { $set: { ml: { score: s.score, model: s.model, scoredAt: now }, updatedAt: now } },
        },
      }));
    if (operations.length > 0) {
      await timedWrite(this.metrics, ROAD_SEGMENTS, () =>
        bulkWriteInChunks(this.#collection, operations, { ordered: true, writeConcern: DURABLE }),
      );
    }
    return [...existing];
  }
}
