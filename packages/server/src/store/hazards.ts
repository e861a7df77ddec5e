import { type Collection, type Db, type Filter, ObjectId } from "mongodb";
import type { Point } from "../domain/distance.js";
import {
  centroid,
  type GoneVote,
  type HazardStatus,
  type HazardType,
  type PositionSums,
} from "../domain/hazard-rules.js";
import type { Metrics } from "../metrics/registry.js";
import { DURABLE, timedWrite } from "./durability.js";
import type { SegmentRange } from "./segments.js";

/** `hazards`: one document per pothole/bump cluster (rules in domain/hazard-rules.ts). */
export interface HazardDoc {
  _id: ObjectId;
  type: HazardType;
  /** The centroid of its reports (see `foldPositions`), kept equal to the sums below. */
  latitude: number;
  longitude: number;
  /** Running sums of (clipped) report positions; absent on hazards stored before they existed. */
  sumLatitude?: number;
  sumLongitude?: number;
  positions?: number;
  /** geohash-7 cell (~150 m): nearby open hazards are found among a cell and its 8 neighbours. */
  cell: string;
  /** geohash-5 region, for bounding-box reads. */
  region: string;
  status: HazardStatus;
  devices: string[];
  reports: number;
  goneVotes: GoneVote[];
  firstReportedAt: Date;
  lastSeenAt: Date;
  updatedAt: Date;
}

export const HAZARDS = "hazards";

/** A hazard's position sums; a hazard stored without them counts its position as one report. */
export function positionSums(doc: HazardDoc): PositionSums {
  if (doc.positions !== undefined && doc.positions > 0) {
    return { sumLatitude: doc.sumLatitude ?? 0, sumLongitude: doc.sumLongitude ?? 0, positions: doc.positions };
  }
  return { sumLatitude: doc.latitude, sumLongitude: doc.longitude, positions: 1 };
}
export const OPEN_STATUSES: HazardStatus[] = ["reported", "confirmed"];

export class HazardsRepository {
  readonly #collection: Collection<HazardDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<HazardDoc>(HAZARDS);
  }

  async openNear(type: HazardType, cells: string[]): Promise<HazardDoc[]> {
    return await this.#collection
      .find({ type, cell: { $in: cells }, status: { $in: OPEN_STATUSES } })
      .limit(100)
      .toArray();
  }

  async create(doc: Omit<HazardDoc, "_id">): Promise<HazardDoc> {
    const stored: HazardDoc = { _id: new ObjectId(), ...doc };
    await timedWrite(this.metrics, HAZARDS, () => this.#collection.insertOne(stored, { writeConcern: DURABLE }));
    return stored;
  }

  /**
   * A report or "still there" vote: one more sighting, by a device remembered while there is room.
   * A report also adds its (clipped) position to the sums; the stored centroid then follows them,
   * written only while no later report has moved the sums on, so the last one wins.
   */
  async addSighting(
    current: HazardDoc,
    device: string | null,
    at: Date,
    report: Point | null,
    now: Date,
  ): Promise<HazardDoc> {
    const id = current._id;
    // A hazard stored before position sums existed gets them set from its one known position.
    const legacy = report !== null && current.positions === undefined;
    const base = positionSums(current);
    const updated = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.findOneAndUpdate(
        { _id: id },
        {
          $inc: {
            reports: report === null ? 0 : 1,
            ...(report === null || legacy
              ? {}
              : { sumLatitude: report.latitude, sumLongitude: report.longitude, positions: 1 }),
          },
          $max: { lastSeenAt: at },
          $set: {
            updatedAt: now,
            ...(legacy && report !== null
              ? {
                  sumLatitude: base.sumLatitude + report.latitude,
                  sumLongitude: base.sumLongitude + report.longitude,
                  positions: base.positions + 1,
                }
              : {}),
          },
          ...(device === null ? {} : { $addToSet: { devices: device } }),
        },
        { returnDocument: "after", writeConcern: DURABLE },
      ),
    );
    if (updated === null) throw new Error(`hazard ${id.toHexString()} vanished`);
    if (report === null) return updated;
    const position = centroid(positionSums(updated));
    await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.updateOne(
        { _id: id, positions: updated.positions },
        { $set: position },
        { writeConcern: DURABLE },
      ),
    );
    return { ...updated, ...position };
  }

  async addGoneVote(id: ObjectId, vote: GoneVote, now: Date): Promise<HazardDoc> {
    const updated = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.findOneAndUpdate(
        { _id: id },
        { $addToSet: { goneVotes: vote }, $set: { updatedAt: now } },
        { returnDocument: "after", writeConcern: DURABLE },
      ),
    );
    if (updated === null) throw new Error(`hazard ${id.toHexString()} vanished`);
    return updated;
  }

  /**
   * Moves a hazard from the status it was read with to a new one. Conditional on the old status, so
   * two nodes deciding the same transition record (and announce) it once.
   */
  async transition(id: ObjectId, from: HazardStatus, to: HazardStatus, now: Date): Promise<boolean> {
    const result = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.updateOne(
        { _id: id, status: from },
        { $set: { status: to, updatedAt: now } },
        { writeConcern: DURABLE },
      ),
    );
    return result.modifiedCount === 1;
  }

  async findById(id: string): Promise<HazardDoc | null> {
    if (!/^[0-9a-f]{24}$/.test(id)) return null;
    return await this.#collection.findOne({ _id: new ObjectId(id) });
  }

  /** Open hazards whose last sighting is before `cutoff`: the expiry sweep's work list. */
  async openSeenBefore(cutoff: Date, limit: number): Promise<HazardDoc[]> {
    return await this.#collection
      .find({ status: { $in: OPEN_STATUSES }, lastSeenAt: { $lt: cutoff } })
      .limit(limit)
      .toArray();
  }

  /**
   * Hazards in a box, in id order. The stored status lags time (expiry happens without a write), so
   * the status filter is phrased on `lastSeenAt` too: "confirmed" means confirmed and not expired.
   */
  async pageByBox(
    box: SegmentRange,
    status: HazardStatus | undefined,
    expiryCutoff: Date,
    after: string | undefined,
    limit: number,
  ): Promise<HazardDoc[]> {
    const filter: Filter<HazardDoc> = {
      region: { $in: box.regions },
      latitude: { $gte: box.minLat, $lte: box.maxLat },
      longitude: { $gte: box.minLon, $lte: box.maxLon },
      ...(after ? { _id: { $gt: new ObjectId(after) } } : {}),
    };
    if (status === "reported" || status === "confirmed") {
      filter.status = status;
      filter.lastSeenAt = { $gte: expiryCutoff };
    } else if (status === "expired") {
      filter.$or = [{ status: "expired" }, { status: { $in: OPEN_STATUSES }, lastSeenAt: { $lt: expiryCutoff } }];
    } else if (status === "fixed") {
      filter.status = "fixed";
    }
    return await this.#collection.find(filter).sort({ _id: 1 }).limit(limit).toArray();
  }
}
