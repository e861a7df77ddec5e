import type { ObjectId } from "mongodb";
import type { NodeContext } from "../context.js";
import { StorageUnavailableError } from "../errors.js";
import type { AggregateLanes, LaneLease } from "../store/aggregate-lanes.js";
import type { FoldId } from "../store/folds.js";
import type { HazardDoc } from "../store/hazards.js";
import type { IngestJournal, JournalEntry } from "../store/ingest-journal.js";
import type { ObservationDoc, ObservationsRepository } from "../store/observations.js";
import type { RegionStatsRepository } from "../store/region-stats.js";
import { MAX_SEGMENT_DEVICES, type SegmentsRepository } from "../store/segments.js";
import { roundDeltas } from "./deltas.js";
import { type FoldLock, FoldLockUnavailableError } from "./fold-lock.js";
import type { HazardPasses } from "./hazard-passes.js";
import type { HazardTracker } from "./hazard-tracker.js";
import type { LiveRoads } from "./live.js";
import { hazardSummary, segmentSummary } from "./summaries.js";

/** Observations folded into one round at most: bounds the memory and duration of one round. */
const ROUND_MAX_OBSERVATIONS = 20_000;
/** Above this many queued observations, new batches wait for their ack (back-pressure). */
const BACKLOG_HIGH_WATER = 20_000;
/** Segments known to have a full device list; bounded memory, forgotten wholesale when full. */
const MAX_FULL_SEGMENTS_REMEMBERED = 100_000;

/**
 * How long a journal entry or a lane may go unrenewed before another node takes it over. It must
 * be more than twice the store's deadline (MONGODB_TIMEOUT_MS): a holder sends no write later than
 * half of it after its last renewal, and a write the client gave up on must have landed or died
 * before anyone else acts (docs/road-aggregates.md).
 */
export function journalStaleMs(mongodbTimeoutMs: number): number {
  return Math.max(30_000, 3 * mongodbTimeoutMs);
}

interface QueuedBatch {
  entry: JournalEntry;
  observations: ObservationDoc[];
}

/** A round recorded in its lane: from now on it is applied exactly as recorded, however often. */
interface Round {
  fold: FoldId;
  lease: LaneLease;
  batches: ObjectId[];
  observations: ObservationDoc[];
  /** Observations it holds in the backlog. */
  size: number;
  /** The hazards its reports changed, their status not settled yet; null until counted. */
  hazards: HazardDoc[] | null;
  /** A dead node's lane taken over to finish its round: left free afterwards. */
  recovered: boolean;
}

/** The lane was taken over by another node: this node must not go on with the round. */
class LaneLostError extends Error {}

/**
 * Turns stored observations into the road map. Ingest acks as soon as observations are durable and
 * queues them here. At most once per flush interval (AGGREGATE_FLUSH_MS) a round folds everything
 * queued into one upsert per touched segment and region-day, so the store's write rate follows the
 * roads that changed, not the observations. Each round is recorded in the node's lane before its
 * first write and every write is idempotent (store/folds.ts): a round is retried by this node
 * after an error, or re-applied by another node after a crash, and counts exactly once.
 */
export class Aggregator {
  #queue: QueuedBatch[] = [];
  #pending: Round[] = [];
  /** Rounds applied whose hazards wait for their passes and statuses (#settleHazards). */
  readonly #toSettle: Array<{ hazards: HazardDoc[]; observations: ObservationDoc[]; now: Date }> = [];
  #backlog = 0;
  #lease: LaneLease | null = null;
  #timer: NodeJS.Timeout | null = null;
  #renewal: NodeJS.Timeout | null = null;
  #queueRenewal: NodeJS.Timeout | null = null;
  readonly #renewing = new Set<"fresh" | "late">();
  #running: Promise<void> | null = null;
  #lastStart = Number.NEGATIVE_INFINITY;
  #waiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];
  readonly #fullSegments = new Set<string>();
  readonly #flushMs: number;
  readonly #staleMs: number;
  #steps = 0;
  #closed = false;

  constructor(
    private readonly ctx: NodeContext,
    private readonly journal: IngestJournal,
    private readonly lanes: AggregateLanes,
    private readonly observations: ObservationsRepository,
    private readonly segments: SegmentsRepository,
    private readonly regionStats: RegionStatsRepository,
    private readonly hazards: HazardTracker,
    private readonly passes: HazardPasses,
    private readonly lock: FoldLock,
    private readonly live: LiveRoads,
  ) {
    this.#flushMs = ctx.config.aggregateFlushMs;
    this.#staleMs = journalStaleMs(ctx.config.mongodbTimeoutMs);
  }

  /** Observations queued and not yet folded into the road map. */
  get backlog(): number {
    return this.#backlog;
  }

  /**
   * Resolves when there is room for another batch; past the store's deadline it throws
   * StorageUnavailableError, so a device is told to retry instead of waiting without end.
   */
  async admit(): Promise<void> {
    if (this.#backlog < BACKLOG_HIGH_WATER) return;
    let timer: NodeJS.Timeout | undefined;
    let waiter: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        waiter = resolve;
        this.#waiters.push(resolve);
        timer = setTimeout(
          () => reject(new StorageUnavailableError("the road map is behind; try again shortly")),
          this.ctx.config.mongodbTimeoutMs,
        );
      });
    } finally {
      clearTimeout(timer);
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    }
  }

  enqueue(entry: JournalEntry, observations: ObservationDoc[]): void {
    this.#queue.push({ entry, observations });
    this.#addBacklog(observations.length);
    if (this.#queueRenewal === null && !this.#closed) {
      this.#queueRenewal = setInterval(() => void this.#renewQueued(), this.#staleMs / 4);
      this.#queueRenewal.unref();
    }
    this.#schedule();
  }

  /** Resolves once everything queued so far has been applied (shutdown, benchmarks). */
  async idle(): Promise<void> {
    if (this.#isIdle()) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Shutdown: finishes what is queued, waiting at most the store's deadline (a round that keeps
   * failing stays recorded in the lane and the journal, for another node to finish), then leaves
   * the lane free for other nodes.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.ctx.config.mongodbTimeoutMs);
    });
    const idle = await Promise.race([this.idle().then(() => true), gaveUp]);
    clearTimeout(timer);
    if (this.#renewal !== null) clearInterval(this.#renewal);
    this.#renewal = null;
    if (this.#queueRenewal !== null) clearInterval(this.#queueRenewal);
    this.#queueRenewal = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#closed = true;
    const lease = this.#lease;
    this.#lease = null;
    if (!idle) {
      this.ctx.log.warn({ queued: this.#queue.length, pending: this.#pending.length }, "aggregates left to recovery");
    } else if (lease !== null) {
      await this.lanes.release(lease).catch(() => undefined);
    }
  }

  /**
   * Finishes the rounds of lanes whose holder died (re-applied as recorded), then takes over
   * journal entries of batches no round has recorded (folded in a round of this node).
   */
  async recover(): Promise<number> {
    return await this.lock.hold(() => this.#recover());
  }

  async #recover(): Promise<number> {
    let recovered = 0;
    const cutoff = new Date(Date.now() - this.#staleMs);
    const busy = new Set(this.#pending.map((round) => round.fold.lane));
    for (const lane of await this.lanes.all()) {
      if (lane.claimedAt >= cutoff || lane.batches.length === 0 || busy.has(lane._id)) continue;
      if (!(await this.journal.anyOpen(lane.batches))) continue;
      const lease = await this.lanes.take(lane);
      if (lease === null) continue;
      const observations: ObservationDoc[] = [];
      for (const batch of lane.batches) observations.push(...(await this.observations.findByBatch(batch)));
      this.#pending.push({
        fold: { lane: lane._id, seq: lane.seq },
        lease,
        batches: lane.batches,
        observations,
        size: observations.length,
        hazards: null,
        recovered: true,
      });
      this.#addBacklog(observations.length);
      recovered += 1;
    }
    const claimed = await this.journal.claimStale(this.#staleMs);
    if (claimed.length > 0) {
      // Read after claiming: a batch a round recorded meanwhile is that round's to close.
      const recorded = new Set((await this.lanes.all()).flatMap((lane) => lane.batches.map((b) => b.toHexString())));
      for (const entry of claimed) {
        if (recorded.has(entry.batch.toHexString())) continue;
        this.enqueue(entry, await this.observations.findByBatch(entry.batch));
        recovered += 1;
      }
    }
    this.#schedule();
    return recovered;
  }

  #addBacklog(observations: number): void {
    this.#backlog += observations;
    this.ctx.metrics.aggregateBacklog.set(this.#backlog);
  }

  #isIdle(): boolean {
    return this.#running === null && this.#queue.length === 0 && this.#pending.length === 0;
  }

  /** Starts the next round one flush interval after the previous one ended, at the earliest. */
  #schedule(): void {
    if (this.#closed || this.#timer !== null || this.#running !== null) return;
    if (this.#queue.length === 0 && this.#pending.length === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
      return;
    }
    const delay = Math.max(0, this.#lastStart + this.#flushMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#lastStart = performance.now();
      this.#running = this.lock
        .hold((keep) => this.#tick(keep))
        .catch((error: unknown) => {
          // Redis away: the lock said so once; rounds start again when it is back.
          if (error instanceof FoldLockUnavailableError) return;
          this.ctx.log.error({ err: error }, "aggregation round not started");
        })
        .then(() => this.#settleHazards())
        .catch((error: unknown) => this.ctx.log.error({ err: error }, "hazard statuses not settled"))
        .finally(() => {
          // The interval counts from the end of a round: the lock is then free for at least that
          // long, so another node waiting for it gets its turn (it is not a fair lock).
          this.#lastStart = performance.now();
          this.#running = null;
          this.#schedule();
        });
    }, delay);
  }

  async #tick(keep: () => Promise<void>): Promise<void> {
    let round: Round | null = this.#pending[0] ?? null;
    try {
      if (round === null) {
        round = await this.#timed("begin", () => this.#begin());
        if (round === null) return;
        this.#pending.push(round);
      }
      await this.#apply(round, keep);
      this.#finish(round);
      if (round.recovered) await this.lanes.release(round.lease);
    } catch (error) {
      if (round !== null && error instanceof LaneLostError) {
        // Its new holder re-applies the round as recorded; this node's share of it is done.
        this.#finish(round);
        if (round.lease === this.#lease) this.#lease = null;
      }
      this.ctx.log.error({ err: error, lane: round?.fold.lane, seq: round?.fold.seq }, "aggregation round failed");
    }
  }

  #finish(round: Round): void {
    this.#pending = this.#pending.filter((r) => r !== round);
    this.#addBacklog(-round.size);
    if (this.#backlog < BACKLOG_HIGH_WATER) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Forms a round of what is queued and records it in this node's lane; null if nothing to do. */
  async #begin(): Promise<Round | null> {
    const taken: QueuedBatch[] = [];
    let size = 0;
    while (this.#queue.length > 0 && (taken.length === 0 || size < ROUND_MAX_OBSERVATIONS)) {
      const next = this.#queue.shift() as QueuedBatch;
      taken.push(next);
      size += next.observations.length;
    }
    try {
      const lease = await this.#ownLane();
      const startedAt = performance.now();
      // Entries taken over by another node (this one was too slow) are that node's to apply.
      const held = new Set(
        await this.journal.renew(
          taken.map((queued) => queued.entry),
          this.#staleMs / 4,
        ),
      );
      const mine = taken.filter((queued) => held.has(queued.entry));
      // Past half the stale time, another node may be taking these entries over: start afresh.
      if (performance.now() - startedAt > this.#staleMs / 2) throw new Error("journal renewal took too long");
      const seq = lease.seq + 1;
      const batches = mine.map((queued) => queued.entry.batch);
      if (!(await this.lanes.begin(lease, seq, batches))) {
        this.#lease = null;
        throw new LaneLostError(`lane ${lease.lane} was taken over`);
      }
      return {
        fold: { lane: lease.lane, seq },
        lease,
        batches,
        observations: mine.flatMap((queued) => queued.observations),
        size,
        hazards: null,
        recovered: false,
      };
    } catch (error) {
      // Nothing was written for them: they go back to the front of the queue, unchanged.
      this.#queue.unshift(...taken);
      throw error;
    }
  }

  async #apply(round: Round, keep: () => Promise<void>): Promise<void> {
    const now = this.ctx.clock();
    const deltas = roundDeltas(round.observations);
    this.ctx.log.debug(
      { observations: round.observations.length, segments: deltas.segments.length, events: deltas.events.length },
      "aggregation round",
    );
    const guard = async () => {
      await keep();
      await this.#guard(round.lease);
    };
    const segments = await this.#timed("segments", () =>
      this.segments.apply(deltas.segments, round.fold, now, this.#fullSegments, guard),
    );
    await this.#timed("region_stats", () => this.regionStats.apply(deltas.regionDays, round.fold, guard));
    const changed =
      round.hazards ?? (await this.#timed("hazards", () => this.hazards.countReports(deltas.events, now)));
    round.hazards = changed;
    this.#step();
    await this.#timed("close", () => this.journal.close(round.batches));

    for (const segment of segments) {
      if ((segment.devices?.length ?? 0) >= MAX_SEGMENT_DEVICES) this.#rememberFull(segment._id);
      this.live.segment(segmentSummary(segment));
    }
    // A round taken over from a dead node counts no passes: the dead node may have counted them.
    this.#toSettle.push({ hazards: changed, observations: round.recovered ? [] : round.observations, now });
  }

  /**
   * After the round's fold lock is released: counts the passes of the rounds just applied, then
   * settles and announces the hazards their reports changed. Passes come after the reports, so a
   * hazard a round opened is judged with the devices that round saw pass it (a fleet's rush brings
   * hundreds in one round, behind a few mistaken reports of three accounts). Counting them needs
   * only Redis and this node's memory, so it runs without the lock: held for it, the lock kept
   * every node's folds waiting. The statuses are written under the lock, taken again: they are
   * writes of hazards that another node's round may be counting reports on, and FerretDB may undo
   * one of two updates of a document at once (fold-lock.ts). A node that dies here leaves statuses
   * to the hazards' next report or vote; reads give the stored status meanwhile.
   */
  async #settleHazards(): Promise<void> {
    for (const { hazards, observations, now } of this.#toSettle.splice(0)) {
      const passes = await this.#timed("hazard_passes", () => this.passes.count(observations));
      let settled: HazardDoc[] = hazards;
      if (hazards.length > 0) {
        try {
          settled = await this.#timed("hazard_status", () =>
            this.lock.hold(() => this.hazards.settleAll(hazards, passes, now)),
          );
        } catch (error) {
          this.ctx.log.warn({ err: error, hazards: hazards.length }, "hazard statuses not settled");
        }
      }
      this.passes.noteStatuses(settled);
      for (const hazard of settled) this.live.hazard(hazardSummary(hazard, now));
    }
  }

  /** Times one phase of a round (roadpulse_aggregate_round_phase_seconds). */
  async #timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const end = this.ctx.metrics.aggregatePhase.startTimer({ phase });
    try {
      return await work();
    } finally {
      end();
    }
  }

  /** This node's lane, leased on first use and kept renewed while idle. */
  async #ownLane(): Promise<LaneLease> {
    if (this.#lease !== null) return this.#lease;
    const lease = await this.lanes.acquire(this.#staleMs, async (lane) => !(await this.journal.anyOpen(lane.batches)));
    if (lease === null) throw new StorageUnavailableError("no free aggregate lane");
    this.#lease = lease;
    if (this.#renewal === null) {
      this.#renewal = setInterval(() => void this.#renewIdle(), this.#staleMs / 4);
      this.#renewal.unref();
    }
    return lease;
  }

  /**
   * Keeps the journal entries of queued batches claimed while they wait for a round. Staleness
   * must mean "its node died", not "its node is behind": an entry that went stale in the queue was
   * taken over by another node, whose recovery reads its observations back by batch (a scan of the
   * whole collection on FerretDB) while holding the fold lock, so a node falling behind made
   * every node fall further behind. Entries found taken over anyway leave the queue: they are
   * their new holder's to apply.
   *
   * FerretDB 1.24 does not isolate two updates of one document, so a renewal at the very moment
   * another node claims the entry could leave both nodes holding it, and both fold the batch. A
   * claim needs the entry stale, so the race needs a renewal that is late: one confirmed less than
   * half the stale time ago lands (within MONGODB_TIMEOUT_MS, at most a third of it) before any
   * node may claim it, and is written without the fold lock. One older than that (its node was
   * paused: a node waking from a 30 s SIGSTOP renews at once, just when the others take its stale
   * entries over) waits for the lock, as the take-overs do. Renewing every entry under the lock
   * instead let a node that kept losing the lock to busy rounds lose its whole queue to take-overs
   * (`truth` with 1,000 devices: one round per 10 s, the backlog at 100,000 observations).
   */
  async #renewQueued(): Promise<void> {
    const now = Date.now();
    const late = this.#queue.filter((queued) => this.#overdue(now - queued.entry.claimedAt));
    const fresh = this.#queue.filter((queued) => !this.#overdue(now - queued.entry.claimedAt));
    await Promise.all([
      fresh.length > 0 && !this.#renewing.has("fresh") && this.#renewEntries("fresh", fresh),
      late.length > 0 && !this.#renewing.has("late") && this.#renewEntries("late", late),
    ]);
  }

  async #renewEntries(kind: "fresh" | "late", waiting: QueuedBatch[]): Promise<void> {
    this.#renewing.add(kind);
    const renew = async () => {
      // Entries due a quarter of the stale time early: the timer runs every quarter, so an entry
      // is renewed at every tick and never near half the stale time while its node keeps up.
      const entries = waiting.map((queued) => queued.entry);
      const held = new Set(await this.journal.renew(entries, this.#staleMs / 8));
      // A round may have taken (and closed) some of them meanwhile: those are not lost.
      const queue = new Set(this.#queue);
      const lost = new Set(waiting.filter((queued) => !held.has(queued.entry) && queue.has(queued)));
      if (lost.size === 0) return;
      this.#queue = this.#queue.filter((queued) => !lost.has(queued));
      this.#addBacklog(-[...lost].reduce((sum, queued) => sum + queued.observations.length, 0));
      this.ctx.log.warn({ batches: lost.size }, "queued batches were taken over by another node");
    };
    try {
      await (kind === "fresh" ? renew() : this.lock.hold(renew));
    } catch (error) {
      // Redis away: the lock said so once, and nobody takes entries over meanwhile.
      if (!(error instanceof FoldLockUnavailableError)) {
        this.ctx.log.warn({ err: error, late: kind === "late" }, "renewing queued journal entries failed");
      }
    } finally {
      this.#renewing.delete(kind);
    }
  }

  /** Keeps this node's lane while no round runs; late renewals under the fold lock, as above. */
  async #renewIdle(): Promise<void> {
    const lease = this.#lease;
    if (lease === null || this.#running !== null) return;
    const renew = async () => {
      if (!(await this.lanes.renew(lease)) && this.#lease === lease) this.#lease = null;
    };
    try {
      await (this.#overdue(performance.now() - lease.renewedAt) ? this.lock.hold(renew) : renew());
    } catch (error) {
      if (!(error instanceof FoldLockUnavailableError)) {
        this.ctx.log.warn({ err: error, lane: lease.lane }, "aggregate lane renewal failed");
      }
    }
  }

  /**
   * A claim of this node confirmed this long ago may be near its take-over: renewing it competes
   * with the take-over and takes the fold lock.
   */
  #overdue(confirmedAgoMs: number): boolean {
    return confirmedAgoMs >= this.#staleMs / 2;
  }

  /** Renews the lease when a quarter of the stale time has gone by since it was last confirmed. */
  async #fresh(lease: LaneLease): Promise<void> {
    if (performance.now() - lease.renewedAt < this.#staleMs / 4) return;
    if (!(await this.lanes.renew(lease))) throw new LaneLostError(`lane ${lease.lane} was taken over`);
  }

  /**
   * Before every aggregate write: renews the lease when due, and lets no write leave later than
   * half the stale time after the lease was last confirmed.
   */
  async #guard(lease: LaneLease): Promise<void> {
    this.#step();
    await this.#fresh(lease);
    if (performance.now() - lease.renewedAt > this.#staleMs / 2) {
      throw new Error(`lane ${lease.lane} lease not confirmed for ${this.#staleMs / 2} ms; retrying the round`);
    }
  }

  /**
   * Counts the steps of folds: each aggregate write command, and closing a round's journal
   * entries. AGGREGATE_TEST_CRASH_AT=n (tests only) kills the process right before step n, so a
   * test can stop a node at any chosen point of a round, as a crash would.
   */
  #step(): void {
    this.#steps += 1;
    if (this.#steps === this.ctx.config.aggregateTestCrashAt) process.kill(process.pid, "SIGKILL");
  }

  #rememberFull(id: string): void {
    if (this.#fullSegments.size >= MAX_FULL_SEGMENTS_REMEMBERED) this.#fullSegments.clear();
    this.#fullSegments.add(id);
  }
}
