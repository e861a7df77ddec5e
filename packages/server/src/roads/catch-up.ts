import type { RegionSyncAck } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import { ROAD_REGION_PRECISION } from "../domain/segment-key.js";
import { StorageUnavailableError } from "../errors.js";
import { regionWithNeighbours } from "../publish.js";
import type { HazardsRepository } from "../store/hazards.js";
import type { SegmentsRepository } from "../store/segments.js";
import { hazardSummary, segmentSummary } from "./summaries.js";

/**
 * How far before `since` a catch-up looks: `updatedAt` is each writing node's clock, and a device's
 * cursor may come from another node's. Repeating a few seconds of updates costs little; an update
 * stamped a little before the cursor by a node whose clock is behind would otherwise be lost.
 */
export const CATCH_UP_OVERLAP_MS = 5_000;

/**
 * Catch-ups one node reads at once, at most. Devices come back together (a node restarted, a store
 * outage ended), and each catch-up reads up to two regions' worth of segments: unbounded, a fleet
 * retrying its catch-ups at every location kept 25 reads of `road_segments` running at once on the
 * local store until its pool stalled, again after every restart (`truth`, 1,000 devices). Past the
 * bound a device is answered STORAGE_UNAVAILABLE at once and catches up later.
 */
export const MAX_CATCH_UPS_IN_FLIGHT = 4;

/**
 * A reconnecting device's catch-up (`region:sync`): every segment and hazard changed since a moment
 * in the region the device is in and the 8 around it, the same area live updates reach it from.
 * Read from MongoDB, which keeps every change, so it works whichever node the device comes back to
 * and however long it was away; bounded in size (past `limit` of a kind the device reads its area
 * again). Socket.IO's connection state recovery was the other way: it replays missed packets, but
 * the sharded Redis adapter does not support it, and it bounds the time away, not the size.
 */
export class RegionCatchUp {
  #inFlight = 0;

  constructor(
    private readonly segments: SegmentsRepository,
    private readonly hazards: HazardsRepository,
    private readonly regionPrecision: number,
    /** Each read's deadline (`maxTimeMS`): the store stops a read its client gave up on. */
    private readonly readTimeoutMs: number,
  ) {}

  async since(regionId: string, since: Date, limit: number, now: Date): Promise<RegionSyncAck> {
    if (this.#inFlight >= MAX_CATCH_UPS_IN_FLIGHT) {
      throw new StorageUnavailableError("too many devices are catching up at once; try again shortly");
    }
    this.#inFlight += 1;
    try {
      return await this.#read(regionId, since, limit, now);
    } finally {
      this.#inFlight -= 1;
    }
  }

  async #read(regionId: string, since: Date, limit: number, now: Date): Promise<RegionSyncAck> {
    const cells = new Set(regionWithNeighbours(regionId));
    const roadRegions = this.#roadRegions([...cells]);
    const from = new Date(since.getTime() - CATCH_UP_OVERLAP_MS);
    const [segments, hazards] = await Promise.all([
      this.segments.changedSince(roadRegions, from, limit, this.readTimeoutMs),
      this.hazards.changedSince(roadRegions, from, limit, this.readTimeoutMs),
    ]);
    const inArea = (doc: { latitude: number; longitude: number }) =>
      cells.has(ngeohash.encode(doc.latitude, doc.longitude, this.regionPrecision));
    return {
      regionId,
      segments: segments.filter(inArea).map(segmentSummary),
      hazards: hazards.filter(inArea).map((doc) => hazardSummary(doc, now)),
      until: now.toISOString(),
      complete: segments.length < limit && hazards.length < limit,
    };
  }

  /** The stored regions (geohash-5 cells) that cover the given presence cells. */
  #roadRegions(cells: string[]): string[] {
    if (this.regionPrecision >= ROAD_REGION_PRECISION) {
      return [...new Set(cells.map((cell) => cell.slice(0, ROAD_REGION_PRECISION)))];
    }
    // Presence cells larger than the stored regions (REGION_PRECISION below 5): every region inside.
    return cells.flatMap((cell) => {
      const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(cell);
      const inner = 1e-9;
      return ngeohash.bboxes(minLat + inner, minLon + inner, maxLat - inner, maxLon - inner, ROAD_REGION_PRECISION);
    });
  }
}
