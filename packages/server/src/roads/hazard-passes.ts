import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { distanceMetres } from "../domain/distance.js";
import { PASS_GAP_MS, PASS_RADIUS_METRES } from "../domain/hazard-rules.js";
import type { RedisConnection } from "../redis/connection.js";
import type { HazardDoc } from "../store/hazards.js";
import type { ObservationDoc } from "../store/observations.js";
import { HAZARD_CELL_PRECISION, type HazardClusters, type NearbyHazard } from "./hazard-clusters.js";
import type { PassCounts } from "./pass-counts.js";

/** (hazard, device) pairs remembered at most; past it new pairs are not counted, never miscounted. */
const MAX_TRACKED_PAIRS = 200_000;
/**
 * How long this node keeps its rounds' observations, to count them for a hazard it learns of later
 * (opened by another node, whose round ran beside this node's): several slow rounds.
 */
const RECENT_MS = 30_000;
/** Observations kept for that at most (a node takes ~2,000 a second at fleet load). */
const MAX_RECENT = 60_000;
/** How often memory no later round needs is dropped (a walk over every pair remembered). */
const FORGET_EVERY_MS = 5_000;
/**
 * A hazard learnt of late counts the observations received from this long before it opened: the
 * traffic around the time of its first report, which its id's time trails by a round or more when
 * the node is behind.
 */
const LOOKBACK_MS = 10_000;

/** An observation as passes need it. */
interface Seen {
  latitude: number;
  longitude: number;
  deviceId: string;
  recordedMs: number;
  receivedMs: number;
}

/** When a hazard was opened: its id is an ObjectId, whose first 4 bytes are seconds since 1970. */
function openedMs(id: string): number {
  return Number.parseInt(id.slice(0, 8), 16) * 1000;
}

/**
 * Counts the devices that pass each open hazard, for the reports per pass a hazard needs before it
 * is confirmed (CONFIRMING_PASSES_PER_REPORT in domain/hazard-rules.ts). A device passes a hazard
 * when one of its observations lies within PASS_RADIUS_METRES of it; its observations there less
 * than PASS_GAP_MS apart (by their own clocks) are one pass, so a car stuck in traffic beside a
 * pothole passes it once.
 *
 * The hazards near a round's observations come from the GEO sets hazard clustering keeps in Redis,
 * read afresh every round (one pipelined GEOSEARCH per geohash-7 cell, region and type), after the
 * round's reports are counted: a hazard the round opened is judged with the devices the round saw
 * pass it. A hazard new to this node also counts the node's observations of the LOOKBACK_MS before
 * it opened, kept for RECENT_MS, so one opened by another node's round misses none of this node's.
 * Which devices passed which hazard lately is remembered in this node's memory: a device's batches
 * come to one node (sticky sessions), so a pass is counted once. The totals live in Redis beside
 * the GEO sets (pass-counts.ts), never on the hazard's document.
 *
 * Passes are a statistic, not an exactly-once aggregate: a device moving between nodes mid-pass may
 * count twice, a round taken over from a dead node counts none, and without Redis none are
 * counted. Each errs by a pass or two in hundreds; a rule of one report per 5 passes needs no more.
 */
export class HazardPasses {
  /** `${hazard} ${device}` → its newest observation near the hazard: device clock and ours. */
  readonly #lastNear = new Map<string, { recordedMs: number; seenMs: number }>();
  /** Hazards this node has counted passes for → when it last saw them near its observations. */
  readonly #known = new Map<string, number>();
  /**
   * Hazards this node settled as confirmed (or closed) → when it last saw them. Their passes
   * change nothing (confirmed stays confirmed), so they are neither counted nor written: on a
   * fleet's roads most hazards near traffic are confirmed potholes, and writing their passes every
   * round took longer than the round's reports.
   */
  readonly #decided = new Map<string, number>();
  /** This node's observations of the last RECENT_MS by geohash-7 cell, each in the order taken. */
  readonly #recent = new Map<string, Seen[]>();
  #recentCount = 0;
  #forgotAt = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly clusters: HazardClusters | null,
    private readonly redis: RedisConnection,
    private readonly counts: PassCounts | null,
  ) {}

  /**
   * Counts the passes in one round's observations and adds them to the hazards' totals; returns
   * the totals so far of the hazards passed in this round (hazard id → passes). Never fails the
   * round: a pass not counted makes a hazard easier to confirm, as before passes were counted.
   */
  async count(observations: readonly ObservationDoc[]): Promise<ReadonlyMap<string, number>> {
    const passes = new Map<string, number>();
    if (this.clusters === null || this.counts === null || !this.redis.available || observations.length === 0) {
      return passes;
    }
    const nowMs = this.ctx.clock().getTime();
    const cells = observations.map((o) => ngeohash.encode(o.latitude, o.longitude, HAZARD_CELL_PRECISION));
    let near: Map<string, NearbyHazard[]>;
    try {
      near = await this.clusters.nearCells([...new Set(cells)], PASS_RADIUS_METRES);
    } catch (error) {
      this.redis.reportFailure(error);
      return passes;
    }
    this.#forgetOld(nowMs);
    const pass = (hazard: NearbyHazard, seen: Seen) => {
      if (distanceMetres(seen, hazard) > PASS_RADIUS_METRES) return;
      if (this.#isNewPass(`${hazard.id} ${seen.deviceId}`, seen.recordedMs, nowMs)) {
        passes.set(hazard.id, (passes.get(hazard.id) ?? 0) + 1);
      }
    };
    const known = new Set<string>();
    for (const hazards of near.values()) {
      for (const hazard of hazards) {
        if (known.has(hazard.id)) continue;
        known.add(hazard.id);
        if (this.#decided.has(hazard.id)) {
          this.#decided.set(hazard.id, nowMs);
          continue;
        }
        // New to this node: its devices that passed before this round count too.
        if (!this.#known.has(hazard.id)) {
          const since = openedMs(hazard.id) - LOOKBACK_MS;
          const cell = ngeohash.encode(hazard.latitude, hazard.longitude, HAZARD_CELL_PRECISION);
          for (const around of [cell, ...ngeohash.neighbors(cell)]) {
            for (const seen of this.#recent.get(around) ?? []) if (seen.receivedMs >= since) pass(hazard, seen);
          }
        }
        this.#known.set(hazard.id, nowMs);
      }
    }
    const round: Seen[] = observations.map((o) => ({
      latitude: o.latitude,
      longitude: o.longitude,
      deviceId: o.deviceId,
      recordedMs: o.recordedAt.getTime(),
      receivedMs: o.receivedAt.getTime(),
    }));
    round.forEach((seen, i) => {
      for (const hazard of near.get(cells[i] as string) ?? []) if (!this.#decided.has(hazard.id)) pass(hazard, seen);
    });
    this.#remember(round, cells);
    if (passes.size === 0) return passes;
    try {
      return await this.counts.add(passes);
    } catch (error) {
      this.redis.reportFailure(error);
      this.ctx.log.warn({ err: error, hazards: passes.size }, "hazard passes not counted");
      return new Map();
    }
  }

  /** Learns the statuses this node settled: only hazards still `reported` need their passes. */
  noteStatuses(hazards: ReadonlyArray<Pick<HazardDoc, "_id" | "status">>): void {
    const nowMs = this.ctx.clock().getTime();
    for (const hazard of hazards) {
      const id = hazard._id.toHexString();
      if (hazard.status === "reported") this.#decided.delete(id);
      else this.#decided.set(id, nowMs);
    }
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

  /** Keeps a round's observations for hazards learnt of later (bounded: past it, all are dropped). */
  #remember(round: readonly Seen[], cells: readonly string[]): void {
    if (this.#recentCount + round.length > MAX_RECENT) {
      this.#recent.clear();
      this.#recentCount = 0;
    }
    round.forEach((seen, i) => {
      const cell = cells[i] as string;
      const list = this.#recent.get(cell);
      if (list === undefined) this.#recent.set(cell, [seen]);
      else list.push(seen);
    });
    this.#recentCount += round.length;
  }

  /** Drops what no later round needs: old observations, pairs and hazards not seen for a while. */
  #forgetOld(nowMs: number): void {
    if (nowMs - this.#forgotAt < FORGET_EVERY_MS) return;
    this.#forgotAt = nowMs;
    for (const [cell, list] of this.#recent) {
      const keep = list.findIndex((seen) => nowMs - seen.receivedMs <= RECENT_MS);
      if (keep === 0) continue;
      this.#recentCount -= keep < 0 ? list.length : keep;
      if (keep < 0) this.#recent.delete(cell);
      else this.#recent.set(cell, list.slice(keep));
    }
    for (const [key, last] of this.#lastNear) if (nowMs - last.seenMs > 2 * PASS_GAP_MS) this.#lastNear.delete(key);
    for (const [id, seenMs] of this.#known) if (nowMs - seenMs > 2 * RECENT_MS) this.#known.delete(id);
    for (const [id, seenMs] of this.#decided) if (nowMs - seenMs > 2 * RECENT_MS) this.#decided.delete(id);
  }
}
