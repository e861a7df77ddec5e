import type { NodeContext } from "../context.js";
import type { IngestJournal, JournalEntry } from "../store/ingest-journal.js";
import type { ObservationDoc, ObservationsRepository } from "../store/observations.js";
import type { RegionStatsRepository } from "../store/region-stats.js";
import { MAX_SEGMENT_DEVICES, type SegmentsRepository } from "../store/segments.js";
import { roundDeltas } from "./deltas.js";
import type { HazardTracker } from "./hazard-tracker.js";
import { publishHazard, publishSegment } from "./live.js";
import { hazardSummary, segmentSummary } from "./summaries.js";

/** Observations folded into one round at most: bounds the size of one round's writes. */
const ROUND_MAX_OBSERVATIONS = 5_000;
/** Above this many queued observations, new batches wait for their ack (back-pressure). */
const BACKLOG_HIGH_WATER = 20_000;
/** A journal entry untouched this long belongs to a node that died: another node takes it over. */
export const JOURNAL_STALE_MS = 120_000;
/** Segments known to have a full device list; bounded memory, forgotten wholesale when full. */
const MAX_FULL_SEGMENTS_REMEMBERED = 100_000;

interface QueuedBatch {
  entry: JournalEntry;
  observations: ObservationDoc[];
}

/**
 * Turns stored observations into the road map. Ingest acks as soon as observations are durable and
 * queues them here; rounds then fold everything queued into one upsert per touched segment and
 * region-day (many batches on the same roads cost one write per segment), build hazards, delete
 * the batches' journal entries and announce each touched segment and hazard once.
 *
 * Rounds run one at a time per node. A round that fails (MongoDB away) leaves its journal entries
 * in place; `recover()` picks them up later, on this node or another.
 */
export class Aggregator {
  #queue: QueuedBatch[] = [];
  #backlog = 0;
  #running: Promise<void> | null = null;
  #waiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];
  readonly #fullSegments = new Set<string>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly journal: IngestJournal,
    private readonly observations: ObservationsRepository,
    private readonly segments: SegmentsRepository,
    private readonly regionStats: RegionStatsRepository,
    private readonly hazards: HazardTracker,
  ) {}

  /** Observations queued and not yet folded into the road map. */
  get backlog(): number {
    return this.#backlog;
  }

  /** Resolves when there is room for another batch. */
  async admit(): Promise<void> {
    if (this.#backlog < BACKLOG_HIGH_WATER) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  enqueue(entry: JournalEntry, observations: ObservationDoc[]): void {
    this.#queue.push({ entry, observations });
    this.#backlog += observations.length;
    this.#kick();
  }

  /** Resolves once everything queued so far has been applied (shutdown, benchmarks). */
  async idle(): Promise<void> {
    if (this.#running === null && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Takes over journal entries left by a node that died and applies their observations. */
  async recover(): Promise<number> {
    const claimed = await this.journal.claimStale(JOURNAL_STALE_MS);
    for (const entry of claimed) this.enqueue(entry, await this.observations.findByBatch(entry.batch));
    return claimed.length;
  }

  #kick(): void {
    if (this.#running !== null) return;
    this.#running = this.#drain().finally(() => {
      this.#running = null;
      if (this.#queue.length > 0) this.#kick();
      else for (const resolve of this.#idleWaiters.splice(0)) resolve();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const round: QueuedBatch[] = [];
      let size = 0;
      while (this.#queue.length > 0 && (round.length === 0 || size < ROUND_MAX_OBSERVATIONS)) {
        const next = this.#queue.shift() as QueuedBatch;
        round.push(next);
        size += next.observations.length;
      }
      try {
        await this.#apply(round);
      } catch (error) {
        this.ctx.log.error({ err: error, batches: round.length }, "aggregation round failed; journal keeps it");
      } finally {
        this.#backlog -= size;
        if (this.#backlog < BACKLOG_HIGH_WATER) for (const resolve of this.#waiters.splice(0)) resolve();
      }
    }
  }

  async #apply(round: QueuedBatch[]): Promise<void> {
    const now = this.ctx.clock();
    // Entries taken over by another holder (this node was too slow) are theirs to apply now.
    const held = await this.journal.renew(round.map((queued) => queued.entry));
    const heldClaims = new Set(held.map((entry) => entry.claim.toHexString()));
    const observations = round
      .filter((queued) => heldClaims.has(queued.entry.claim.toHexString()))
      .flatMap((queued) => queued.observations);
    const deltas = roundDeltas(observations);
    // One write at a time: FerretDB copes badly with concurrent bulk updates (see durability.ts).
    await this.segments.apply(deltas.segments, now, this.#fullSegments);
    await this.regionStats.apply(deltas.regionDays);
    const hazards = await this.hazards.applyEvents(deltas.events, now);
    await this.journal.close(held);

    const segments = await this.segments.findByIds(deltas.segments.map((s) => s.id));
    for (const segment of segments) {
      if ((segment.devices?.length ?? 0) >= MAX_SEGMENT_DEVICES) this.#rememberFull(segment._id);
      publishSegment(this.ctx, segmentSummary(segment));
    }
    for (const hazard of hazards) publishHazard(this.ctx, hazardSummary(hazard, now));
  }

  #rememberFull(id: string): void {
    if (this.#fullSegments.size >= MAX_FULL_SEGMENTS_REMEMBERED) this.#fullSegments.clear();
    this.#fullSegments.add(id);
  }
}
