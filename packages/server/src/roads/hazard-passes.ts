import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { distanceMetres } from "../domain/distance.js";
import { PASS_GAP_MS, PASS_RADIUS_METRES } from "../domain/hazard-rules.js";
import type { RedisConnection } from "../redis/connection.js";
import type { HazardsRepository } from "../store/hazards.js";
import type { ObservationDoc } from "../store/observations.js";
import { HAZARD_CELL_PRECISION, type HazardClusters, type NearbyHazard } from "./hazard-clusters.js";

/** How long a cell's nearby hazards are reused: a new hazard is counted from this much later on. */
const CELL_CACHE_MS = 10_000;
/** Cells remembered at most; past it the cache starts afresh (a fleet spread over a country). */
const MAX_CACHED_CELLS = 20_000;
/** (hazard, device) pairs remembered at most; past it new pairs are not counted, never miscounted. */
const MAX_TRACKED_PAIRS = 200_000;

/**
 * Counts the devices that pass each open hazard, for the share of passes that must report it before
 * it is confirmed (CONFIRMING_SHARE in domain/hazard-rules.ts). A device passes a hazard when one of
 * its observations lies within PASS_RADIUS_METRES of it; its observations there less than
 * PASS_GAP_MS apart (by their own clocks) are one pass, so a car stuck in traffic beside a pothole
 * passes it once.
 *
 * The hazards near each observation come from the GEO sets hazard clustering keeps in Redis, read
 * per geohash-7 cell and reused for CELL_CACHE_MS. Which observations were near which hazard is
 * remembered in this node's memory: a device's batches come to one node (sticky sessions), so a
 * pass is counted once. Passes are a statistic, not an exactly-once aggregate: a device moving
 * between nodes mid-pass may count twice, a round re-applied after its node died counts none, and
 * without Redis none are counted. Each of these errs by a pass or two in hundreds; the share needs
 * no more.
 */
export class HazardPasses {
  /** geohash-7 cell → hazards within PASS_RADIUS_METRES of it, and when that was read. */
  readonly #cells = new Map<string, { readAt: number; hazards: NearbyHazard[] }>();
  /** `${hazard} ${device}` → its newest observation near the hazard: device clock and ours. */
  readonly #lastNear = new Map<string, { recordedMs: number; seenMs: number }>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly clusters: HazardClusters | null,
    private readonly redis: RedisConnection,
    private readonly hazards: HazardsRepository,
  ) {}

  /**
   * Counts the passes in one round's observations and adds them to the hazards; returns how many.
   * Never fails the round: a pass not counted makes a hazard easier to confirm, as before passes.
   */
  async count(observations: readonly ObservationDoc[]): Promise<number> {
    if (this.clusters === null || !this.redis.available || observations.length === 0) return 0;
    const nowMs = this.ctx.clock().getTime();
    const cells = observations.map((o) => ngeohash.encode(o.latitude, o.longitude, HAZARD_CELL_PRECISION));
    let near: Map<string, NearbyHazard[]>;
    try {
      near = await this.#nearCells(this.clusters, cells, nowMs);
    } catch (error) {
      this.redis.reportFailure(error);
      return 0;
    }
    this.#forgetOld(nowMs);
    const passes = new Map<string, number>();
    observations.forEach((observation, i) => {
      for (const hazard of near.get(cells[i] as string) ?? []) {
        if (distanceMetres(observation, hazard) > PASS_RADIUS_METRES) continue;
        if (this.#isNewPass(`${hazard.id} ${observation.deviceId}`, observation.recordedAt.getTime(), nowMs)) {
          passes.set(hazard.id, (passes.get(hazard.id) ?? 0) + 1);
        }
      }
    });
    if (passes.size === 0) return 0;
    try {
      await this.hazards.addPasses(passes);
    } catch (error) {
      this.ctx.log.warn({ err: error, hazards: passes.size }, "hazard passes not counted");
      return 0;
    }
    let total = 0;
    for (const count of passes.values()) total += count;
    return total;
  }

  /** The hazards near every cell the observations lie in, from the cache or one Redis pipeline. */
  async #nearCells(
    clusters: HazardClusters,
    cells: readonly string[],
    nowMs: number,
  ): Promise<Map<string, NearbyHazard[]>> {
    const near = new Map<string, NearbyHazard[]>();
    const missing = new Set<string>();
    for (const cell of cells) {
      if (near.has(cell) || missing.has(cell)) continue;
      const cached = this.#cells.get(cell);
      if (cached !== undefined && nowMs - cached.readAt < CELL_CACHE_MS) near.set(cell, cached.hazards);
      else missing.add(cell);
    }
    if (missing.size > 0) {
      const read = await clusters.nearCells([...missing], PASS_RADIUS_METRES);
      if (this.#cells.size + read.size > MAX_CACHED_CELLS) this.#cells.clear();
      for (const [cell, hazards] of read) {
        this.#cells.set(cell, { readAt: nowMs, hazards });
        near.set(cell, hazards);
      }
    }
    return near;
  }

  /** Whether this observation starts a new pass of the device by the hazard (and remembers it). */
  #isNewPass(key: string, recordedMs: number, nowMs: number): boolean {
    const last = this.#lastNear.get(key);
    if (last === undefined) {
      if (this.#lastNear.size >= MAX_TRACKED_PAIRS) return false;
      this.#lastNear.set(key, { recordedMs, seenMs: nowMs });
      return true;
    }
    const isNew = Math.abs(recordedMs - last.recordedMs) > PASS_GAP_MS;
    // Out-of-order observations of one pass never move its newest time back.
    if (isNew || recordedMs > last.recordedMs) last.recordedMs = recordedMs;
    last.seenMs = nowMs;
    return isNew;
  }

  /** Drops pairs not seen for two gaps: their device has long passed (or went to another node). */
  #forgetOld(nowMs: number): void {
    for (const [key, last] of this.#lastNear) {
      if (nowMs - last.seenMs > 2 * PASS_GAP_MS) this.#lastNear.delete(key);
    }
    for (const [cell, cached] of this.#cells) {
      if (nowMs - cached.readAt >= CELL_CACHE_MS) this.#cells.delete(cell);
    }
  }
}
