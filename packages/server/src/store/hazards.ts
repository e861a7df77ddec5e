import { type Collection, type Db, type Filter, ObjectId } from "mongodb";
import type { Point } from "../domain/distance.js";
import {
  centroid,
  foldPositions,
  type GoneVote,
  type HazardStatus,
  type HazardType,
  MAX_REMEMBERED_REPORTS,
  type PositionSums,
  rememberReport,
} from "../domain/hazard-rules.js";
import type { Metrics } from "../metrics/registry.js";
import { DUPLICATE_KEY, DURABLE, timedWrite } from "./durability.js";
import { changedInRegions } from "./region-changes.js";
import type { SegmentRange } from "./segments.js";

/** Open hazards read per cell at most when clustering a report (a cell is about 150 m across). */
const OPEN_NEAR_LIMIT = 100;

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
  /** Distinct accounts that reported it or voted it still there (up to MAX_REMEMBERED_REPORTERS). */
  reporters: string[];
  reports: number;
  /** Ids of the newest reports counted (see MAX_REMEMBERED_REPORTS); absent on older hazards. */
  reportIds?: string[];
  /** Account id → its newest "gone" vote: one vote per account per hazard. */
  fixVotes: Record<string, Date>;
  /**
   * Hazards stored before device ids were bound to accounts counted devices and device votes:
   * read as reporters and voters (they were distinct then), never written.
   */
  devices?: string[];
  goneVotes?: Array<{ device: string; at: Date }>;
  firstReportedAt: Date;
  lastSeenAt: Date;
  updatedAt: Date;
}

export const HAZARDS = "hazards";
/** Reports one update counts at most: half the ids a hazard remembers, so none is forgotten at once. */
export const MAX_REPORTS_PER_UPDATE = MAX_REMEMBERED_REPORTS / 2;

/** A hazard's position sums; a hazard stored without them counts its position as one report. */
export function positionSums(doc: HazardDoc): PositionSums {
  if (doc.positions !== undefined && doc.positions > 0) {
    return { sumLatitude: doc.sumLatitude ?? 0, sumLongitude: doc.sumLongitude ?? 0, positions: doc.positions };
  }
  return { sumLatitude: doc.latitude, sumLongitude: doc.longitude, positions: 1 };
}
export const OPEN_STATUSES: HazardStatus[] = ["reported", "confirmed"];

/** The distinct accounts behind a hazard's sightings, older hazards' devices included. */
export function reportersOf(doc: HazardDoc): string[] {
  return doc.devices === undefined ? (doc.reporters ?? []) : [...new Set([...(doc.reporters ?? []), ...doc.devices])];
}

/** A hazard's "gone" votes, one per account (older hazards' device votes included). */
export function goneVotesOf(doc: HazardDoc): GoneVote[] {
  const votes = Object.entries(doc.fixVotes ?? {}).map(([voter, at]) => ({ voter, at }));
  for (const vote of doc.goneVotes ?? []) votes.push({ voter: vote.device, at: vote.at });
  return votes;
}

/** Account ids are ObjectId hex strings: safe as a field name in `fixVotes.<id>`. */
const ACCOUNT_ID = /^[0-9a-f]{24}$/;

/** One pothole/bump report as it counts towards a hazard. */
export interface HazardReport extends Point {
  /** The observation's id: a hazard counts each one once. */
  id: string;
  /** The reporting account, or null when the hazard's list of reporters is full. */
  reporter: string | null;
  at: Date;
}

export class HazardsRepository {
  readonly #collection: Collection<HazardDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
  ) {
    this.#collection = db.collection<HazardDoc>(HAZARDS);
  }

  /**
   * Open hazards of a type in the given geohash-7 cells (an event's cell and its neighbours), at
   * most OPEN_NEAR_LIMIT per cell. One equality read per cell, all at once: FerretDB pushes
   * `{type, cell}` down to its backend, where the local store indexes `cell`
   * (docs/store-backend.md), but not `cell: {$in}`, which read every hazard ever reported.
   */
  async openNear(type: HazardType, cells: string[]): Promise<HazardDoc[]> {
    const perCell = await Promise.all(
      [...new Set(cells)].map((cell) =>
        this.#collection
          .find({ type, cell, status: { $in: OPEN_STATUSES } })
          .limit(OPEN_NEAR_LIMIT)
          .toArray(),
      ),
    );
    return perCell.flat();
  }

  /**
   * Stores a new hazard under the id its first report was given. False when a hazard with that id
   * exists already: another node (or an earlier attempt at the same round) stored it first.
   */
  async create(doc: HazardDoc): Promise<boolean> {
    try {
      await timedWrite(this.metrics, HAZARDS, () => this.#collection.insertOne(doc, { writeConcern: DURABLE }));
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === DUPLICATE_KEY) return false;
      throw error;
    }
  }

  /**
   * Counts reports, in one update statement, and returns the hazard as stored; null when the
   * hazard is not as read (another report came first, it closed, it is gone, or it already counts
   * one of these reports): the caller reads it again. The position sums, centroid and report ids
   * are computed from `current`, so the filter requires that nothing counted a report since
   * (`reports` unchanged) and that none of these is among those counted (`reportIds`). At most
   * MAX_REPORTS_PER_UPDATE, so that all of them stay among the ids remembered.
   */
  async addReports(current: HazardDoc, reports: HazardReport[], now: Date): Promise<HazardDoc | null> {
    if (reports.length === 0 || reports.length > MAX_REPORTS_PER_UPDATE) {
      throw new RangeError(`addReports takes 1 to ${MAX_REPORTS_PER_UPDATE} reports, got ${reports.length}`);
    }
    const sums = foldPositions(positionSums(current), reports) as PositionSums;
    const position = centroid(sums);
    const ids = reports.map((report) => report.id);
    const reportIds = ids.reduce(rememberReport, current.reportIds ?? []);
    const added = [...new Set(reports.flatMap((report) => (report.reporter === null ? [] : [report.reporter])))];
    const lastSeen = reports.reduce((latest, report) => (report.at > latest ? report.at : latest), current.lastSeenAt);
    const result = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.updateOne(
        {
          _id: current._id,
          reports: current.reports,
          status: { $in: OPEN_STATUSES },
          reportIds: { $nin: ids },
        },
        {
          $set: { ...sums, ...position, reportIds, updatedAt: now },
          $inc: { reports: reports.length },
          $max: { lastSeenAt: lastSeen },
          ...(added.length === 0 ? {} : { $addToSet: { reporters: { $each: added } } }),
        },
        { writeConcern: DURABLE },
      ),
    );
    if (result.matchedCount === 0) return null;
    const known = current.reporters ?? [];
    return {
      ...current,
      ...sums,
      ...position,
      reportIds,
      reporters: [...known, ...added.filter((reporter) => !known.includes(reporter))],
      lastSeenAt: lastSeen,
      reports: current.reports + reports.length,
      updatedAt: now,
    };
  }

  /** A "still there" vote: one more sighting, by an account remembered while there is room. */
  async addSighting(id: ObjectId, reporter: string | null, at: Date, now: Date): Promise<HazardDoc> {
    const updated = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.findOneAndUpdate(
        { _id: id },
        {
          $max: { lastSeenAt: at },
          $set: { updatedAt: now },
          ...(reporter === null ? {} : { $addToSet: { reporters: reporter } }),
        },
        { returnDocument: "after", writeConcern: DURABLE },
      ),
    );
    if (updated === null) throw new Error(`hazard ${id.toHexString()} vanished`);
    return updated;
  }

  /**
   * Sets the account's "gone" vote (replacing its earlier one) and drops the votes of `stale`
   * voters, which can never count again, in one update.
   */
  async addGoneVote(id: ObjectId, vote: GoneVote, stale: string[], now: Date): Promise<HazardDoc> {
    if (!ACCOUNT_ID.test(vote.voter)) throw new Error("a gone vote's voter is an account id");
    // Older hazards' device votes are not in `fixVotes`: they stay, and stop counting in time.
    const dropped = stale.filter((voter) => voter !== vote.voter && ACCOUNT_ID.test(voter));
    const updated = await timedWrite(this.metrics, HAZARDS, () =>
      this.#collection.findOneAndUpdate(
        { _id: id },
        {
          $set: { [`fixVotes.${vote.voter}`]: vote.at, updatedAt: now },
          ...(dropped.length === 0 ? {} : { $unset: Object.fromEntries(dropped.map((v) => [`fixVotes.${v}`, ""])) }),
        },
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

  /** Hazards of the given geohash-5 regions changed at or after `since`, oldest change first. */
  async changedSince(regions: string[], since: Date, limit: number, maxTimeMS: number): Promise<HazardDoc[]> {
    return await changedInRegions(this.#collection, regions, since, limit, maxTimeMS);
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
