import { ErrorCodes } from "@roadpulse/protocol";
import type { HazardStatus } from "../domain/hazard-rules.js";
import { EXPIRY_MS } from "../domain/hazard-rules.js";
import { AppError } from "../errors.js";
import type { HazardDoc, HazardsRepository } from "../store/hazards.js";
import type { RegionDayDoc, RegionStatsRepository } from "../store/region-stats.js";
import type { SegmentDoc, SegmentsRepository } from "../store/segments.js";
import { parseBbox } from "./bbox.js";
import type { FoldLock } from "./fold-lock.js";
import type { LiveRoads } from "./live.js";
import { segmentSummary } from "./summaries.js";

/** Where a segment read looks: a bounding box or a geohash prefix, from a key on. */
export interface SegmentQuery {
  bbox?: string;
  geohash?: string;
  after?: string;
}

/**
 * The road map as it is read: segments, hazards and daily history straight from MongoDB (fresh
 * within the aggregation lag), and the ML pipeline's scores written onto segments. Routes read
 * through this service, never through the repositories.
 */
export class RoadReads {
  constructor(
    private readonly segmentsRepo: SegmentsRepository,
    private readonly hazardsRepo: HazardsRepository,
    private readonly regionStatsRepo: RegionStatsRepository,
    private readonly live: LiveRoads,
    private readonly lock: FoldLock,
  ) {}

  /** Up to `rows` segments in key order after `query.after`; exactly one of bbox or geohash. */
  async segments(query: SegmentQuery, rows: number): Promise<SegmentDoc[]> {
    if ((query.bbox === undefined) === (query.geohash === undefined)) {
      throw new AppError(ErrorCodes.ValidationFailed, "give exactly one of bbox or geohash");
    }
    return query.bbox !== undefined
      ? await this.segmentsRepo.pageByBox(parseBbox(query.bbox), query.after, rows)
      : await this.segmentsRepo.pageByGeohash(query.geohash as string, query.after, rows);
  }

  async segment(id: string): Promise<SegmentDoc> {
    const doc = await this.segmentsRepo.findById(id);
    if (doc === null) throw new AppError(ErrorCodes.NotFound, "No data for this segment");
    return doc;
  }

  /** Up to `rows` hazards in the box (of one status, as the rules give it at `now`), in id order. */
  async hazards(
    query: { bbox: string; status?: HazardStatus; after?: string },
    rows: number,
    now: Date,
  ): Promise<HazardDoc[]> {
    const expiryCutoff = new Date(now.getTime() - EXPIRY_MS);
    return await this.hazardsRepo.pageByBox(parseBbox(query.bbox), query.status, expiryCutoff, query.after, rows);
  }

  async regionDays(region: string, from: string, to: string): Promise<RegionDayDoc[]> {
    return await this.regionStatsRepo.range(region, from, to);
  }

  /**
   * Stores model scores on the segments that exist and pushes each changed segment live; returns
   * how many scores were stored and the ids of segments that do not exist (never created).
   * Written under the fold lock, between rounds: FerretDB applies an update by rewriting the whole
   * document, so a score written while a round folds into the same segment could undo the fold's
   * counts (fold-lock.ts). While Redis is away the lock cannot be had: STORAGE_UNAVAILABLE, retry.
   */
  async scoreSegments(
    scores: Array<{ segmentId: string; score: number; model: string }>,
    now: Date,
  ): Promise<{ updated: number; unknown: string[] }> {
    const existing = await this.lock.hold(() => this.segmentsRepo.setMlScores(scores, now));
    const known = new Set(existing);
    for (const doc of await this.segmentsRepo.findByIds(existing)) this.live.segment(segmentSummary(doc));
    const unknown = [...new Set(scores.map((s) => s.segmentId).filter((id) => !known.has(id)))];
    return { updated: scores.filter((s) => known.has(s.segmentId)).length, unknown };
  }
}
