import { ErrorCodes, type HazardSummary } from "@roadpulse/protocol";
import { ObjectId } from "mongodb";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import {
  centroid,
  EXPIRY_MS,
  foldPositions,
  type HazardCandidate,
  type HazardType,
  hazardStatus,
  isFinal,
  MAX_REMEMBERED_GONE_VOTES,
  MAX_REMEMBERED_REPORTERS,
  matchHazard,
  type PositionSums,
  staleGoneVoters,
} from "../domain/hazard-rules.js";
import { ROAD_REGION_PRECISION } from "../domain/segment-key.js";
import { AppError } from "../errors.js";
import type { RedisConnection } from "../redis/connection.js";
import {
  goneVotesOf,
  type HazardDoc,
  type HazardReport,
  type HazardsRepository,
  MAX_REPORTS_PER_UPDATE,
  positionSums,
  reportersOf,
} from "../store/hazards.js";
import type { ObservationDoc } from "../store/observations.js";
import type { FoldLock } from "./fold-lock.js";
import {
  type Assignment,
  type ClusterMember,
  clusterArea,
  HAZARD_CELL_PRECISION,
  type HazardClusters,
} from "./hazard-clusters.js";
import type { LiveRoads } from "./live.js";
import type { PassCounts } from "./pass-counts.js";
import { hazardFacts, hazardSummary } from "./summaries.js";

/**
 * Attempts at one event before its round fails (the journal keeps it for a later round). Each
 * retry follows a real change: another node counted a report on the same hazard first, or the
 * hazard closed, and both settle within a couple of attempts.
 */
const MAX_ATTEMPTS = 8;
/** Hazards opened while Redis was away, remembered (bounded) until they are in the GEO sets. */
const MAX_UNCLUSTERED = 10_000;

type HazardEvent = ObservationDoc & { event: HazardType };

/** Where an event goes: a hazard to join (as read, when read already) or a new one with this id. */
interface Target {
  id: ObjectId;
  isNew: boolean;
  current: HazardDoc | null;
  /** Chosen without Redis: the hazard is not in the GEO sets yet. */
  unclustered: boolean;
}

/** A round's reports of one hazard, and its position sums with them (its GEO member follows). */
interface Group {
  target: Target;
  events: HazardEvent[];
  sums: PositionSums | null;
}

function candidate(doc: HazardDoc): HazardCandidate {
  return { id: doc._id.toHexString(), ...hazardFacts(doc) };
}

function member(doc: HazardDoc): ClusterMember {
  return {
    id: doc._id.toHexString(),
    cell: doc.cell,
    latitude: doc.latitude,
    longitude: doc.longitude,
    lastSeenAt: doc.lastSeenAt,
  };
}

/** Remembers an account while the hazard's list has room (the rules never need more). */
function reporterToRemember(doc: HazardDoc, account: string): string | null {
  const known = reportersOf(doc);
  return known.includes(account) || known.length < MAX_REMEMBERED_REPORTERS ? account : null;
}

/** The reports of `events` on `doc`, each reporter remembered while the hazard's list has room. */
function reportsOf(doc: HazardDoc, events: HazardEvent[]): HazardReport[] {
  const remembered = new Set(reportersOf(doc));
  return events.map((event) => {
    const room = remembered.has(event.userId) || remembered.size < MAX_REMEMBERED_REPORTERS;
    if (room) remembered.add(event.userId);
    const { latitude, longitude } = event;
    return { id: event._id, reporter: room ? event.userId : null, at: event.recordedAt, latitude, longitude };
  });
}

/** How soon a failed restore of the hazards opened during a Redis outage is tried again. */
const RESTORE_RETRY_MS = 1_000;

/**
 * Applies hazard events and votes: the rules come from domain/hazard-rules.ts, this class reads and
 * writes the `hazards` collection and announces every change with `hazard:updated`.
 *
 * Which hazard an event joins is decided in Redis (hazard-clusters.ts), atomically across nodes,
 * so two nodes given the first reports of one pothole at once open one hazard. Without Redis it is
 * decided from MongoDB alone, as before: correct on one node, and nodes racing may then open two.
 * Either way a report counts once: the hazard remembers the ids of its newest reports and the one
 * update that counts a report requires its id absent (a re-applied round changes nothing).
 */
export class HazardTracker {
  /** Hazard id → hazard opened without Redis, to add to the GEO sets once Redis answers. */
  readonly #unclustered = new Map<string, { type: HazardType; member: ClusterMember }>();
  #restoreRetry: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: NodeContext,
    private readonly hazards: HazardsRepository,
    private readonly redis: RedisConnection,
    private readonly clusters: HazardClusters | null,
    private readonly passCounts: PassCounts | null,
    private readonly lock: FoldLock,
    private readonly live: LiveRoads,
  ) {
    // Hazards opened during an outage join the GEO sets as soon as Redis is back, not only at the
    // next event this node applies: another node's next event there must find them.
    redis.on("up", () => void this.#restoreClusters());
  }

  /**
   * Joins or opens a hazard per event (oldest first); returns the hazards that changed. Which hazard
   * an event goes to is decided event by event (one Redis script each); the reports one hazard
   * gets in a round are then counted together, MAX_REPORTS_PER_UPDATE to an update, so a round
   * writes each hazard it touched about once, not once per report: `truth` with 1,000 devices
   * passing 32 potholes spent 5–6 s of every round here counting reports one at a time.
   */
  async applyEvents(events: ObservationDoc[], now: Date): Promise<HazardDoc[]> {
    return await this.settleAll(await this.countReports(events, now), new Map(), now);
  }

  /**
   * `applyEvents` without settling the statuses: the hazards the events changed, as stored. The
   * aggregator counts the round's passes in between (hazard-passes.ts), then calls `settleAll`.
   */
  async countReports(events: ObservationDoc[], now: Date): Promise<HazardDoc[]> {
    const changed = new Map<string, HazardDoc>();
    await this.#restoreClusters();
    const groups = new Map<string, Group>();
    for (const observation of events) {
      if (observation.event === undefined) continue;
      const event = observation as HazardEvent;
      const target = await this.#target(event, now);
      const key = target.id.toHexString();
      let group = groups.get(key);
      if (group === undefined) {
        // The first report of a new hazard opens it; the round's other reports of it then join it.
        const opened = target.isNew ? await this.#open(target, event, now) : null;
        if (opened !== null) changed.set(key, opened);
        const current = opened ?? target.current ?? (await this.hazards.findById(key));
        group = { target: { ...target, isNew: false, current }, events: [], sums: null };
        groups.set(key, group);
        if (opened !== null) continue;
      }
      group.events.push(event);
      await this.#followInCluster(group, event);
    }
    for (const [key, group] of groups) {
      if (group.events.length === 0) continue;
      const { doc, unplaced } = await this.#join(group.target, group.events, now);
      if (doc !== null) changed.set(key, doc);
      // The hazard closed meanwhile: each of the rest finds (or opens) another, as a lone report.
      for (const event of unplaced) {
        const placed = await this.#applyEvent(event, now);
        if (placed !== null) changed.set(placed._id.toHexString(), placed);
      }
    }
    return [...changed.values()];
  }

  /**
   * Stores the status the rules give each hazard now; returns them as settled. `passes` are the
   * totals of the hazards the round passed (hazard id → passes, from HazardPasses.count); the others
   * that their accounts would confirm are read in one call.
   */
  async settleAll(docs: readonly HazardDoc[], passes: ReadonlyMap<string, number>, now: Date): Promise<HazardDoc[]> {
    const unknown = docs
      .filter((doc) => !passes.has(doc._id.toHexString()) && this.#confirmsOnAccounts(doc, now))
      .map((doc) => doc._id.toHexString());
    const read = await this.#passesOf(unknown);
    const settled: HazardDoc[] = [];
    for (const doc of docs) {
      const id = doc._id.toHexString();
      settled.push(await this.#settle(doc, now, passes.get(id) ?? read.get(id) ?? 0));
    }
    return settled;
  }

  /**
   * Moves the hazard's GEO member to the centroid of its reports so far, this round's included, as
   * each is assigned: the next report of the round is matched against it, as it would be one
   * report at a time. Matched against the first report's position all round long, the reports of
   * 1,000 devices passing one pothole fell outside its radius and opened more hazards around it.
   */
  async #followInCluster(group: Group, event: HazardEvent): Promise<void> {
    const current = group.target.current;
    if (current === null || group.target.unclustered || current.reportIds?.includes(event._id)) return;
    group.sums = foldPositions(group.sums ?? positionSums(current), [event]);
    const lastSeenAt = event.recordedAt > current.lastSeenAt ? event.recordedAt : current.lastSeenAt;
    await this.#updateCluster({ ...current, ...centroid(group.sums as PositionSums), lastSeenAt });
  }

  /** The hazard one event now counts towards, or null when it counted already (nothing changed). */
  async #applyEvent(event: HazardEvent, now: Date): Promise<HazardDoc | null> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const target = await this.#target(event, now);
      // A new id that exists already was stored by another attempt at this event: join it.
      const opened = target.isNew ? await this.#open(target, event, now) : null;
      if (opened !== null) return opened;
      const { doc, unplaced } = await this.#join(target, [event], now);
      if (unplaced.length === 0) return doc;
    }
    throw new Error(`hazard event ${event._id} found no stable hazard in ${MAX_ATTEMPTS} attempts`);
  }

  /** Redis decides when it answers; MongoDB alone otherwise. */
  async #target(event: HazardEvent, now: Date): Promise<Target> {
    if (this.clusters !== null && this.redis.available) {
      try {
        return await this.#targetFromRedis(this.clusters, event, now);
      } catch (error) {
        this.redis.reportFailure(error);
        this.ctx.log.warn({ err: error }, "hazard clustering without Redis for this event");
      }
    }
    const nearby = await this.hazards.openNear(event.event, clusterArea(event).cells);
    const match = matchHazard(event, event.event, nearby.map(candidate), now);
    if (match === null) return { id: new ObjectId(), isNew: true, current: null, unclustered: true };
    const current = nearby.find((h) => h._id.toHexString() === match.id) as HazardDoc;
    return { id: current._id, isNew: false, current, unclustered: true };
  }

  async #targetFromRedis(clusters: HazardClusters, event: HazardEvent, now: Date): Promise<Target> {
    const request = {
      type: event.event,
      point: event,
      newId: new ObjectId().toHexString(),
      seenAt: event.recordedAt,
      now,
    };
    let assignment: Assignment = await clusters.assign({ ...request, seeds: null });
    if (assignment.kind === "seed") {
      // The GEO sets do not know these cells (first use, or Redis lost them): load them from MongoDB.
      const open = await this.hazards.openNear(event.event, clusterArea(event).cells);
      const seeds = open.filter((doc) => !isFinal(hazardStatus(hazardFacts(doc), now))).map(member);
      assignment = await clusters.assign({ ...request, seeds });
      if (assignment.kind === "seed") throw new Error("the hazard cluster script asked for seeds it was given");
    }
    return { id: new ObjectId(assignment.id), isNew: assignment.kind === "new", current: null, unclustered: false };
  }

  /** Stores a new hazard from its first report; null when a hazard with the id exists already. */
  async #open(target: Target, event: HazardEvent, now: Date): Promise<HazardDoc | null> {
    const cell = ngeohash.encode(event.latitude, event.longitude, HAZARD_CELL_PRECISION);
    const doc: HazardDoc = {
      _id: target.id,
      type: event.event,
      latitude: event.latitude,
      longitude: event.longitude,
      sumLatitude: event.latitude,
      sumLongitude: event.longitude,
      positions: 1,
      cell,
      region: ngeohash.encode(event.latitude, event.longitude, ROAD_REGION_PRECISION),
      status: "reported",
      reporters: [event.userId],
      reports: 1,
      reportIds: [event._id],
      fixVotes: {},
      firstReportedAt: event.recordedAt,
      lastSeenAt: event.recordedAt,
      updatedAt: now,
    };
    if (!(await this.hazards.create(doc))) return null;
    this.ctx.metrics.hazardTransitions.inc({ status: "reported" });
    if (target.unclustered) this.#rememberUnclustered(doc);
    return doc;
  }

  /**
   * Counts the events' reports on the target hazard. `doc` is the hazard as it is then (null when
   * every report counted already); `unplaced` are the events left when the hazard turned out fixed
   * or expired, which need another hazard. A hazard Redis knows but MongoDB does not yet (its first
   * report is being stored, or its node died first) is stored here.
   */
  async #join(
    target: Target,
    events: HazardEvent[],
    now: Date,
  ): Promise<{ doc: HazardDoc | null; unplaced: HazardEvent[] }> {
    let current = target.current;
    let doc: HazardDoc | null = null;
    let remaining = events;
    let conflicts = 0;
    while (remaining.length > 0) {
      if (conflicts >= MAX_ATTEMPTS) {
        throw new Error(`hazard ${target.id.toHexString()} kept changing under ${remaining.length} reports`);
      }
      current ??= await this.hazards.findById(target.id.toHexString());
      if (current === null) {
        const [first, ...rest] = remaining as [HazardEvent, ...HazardEvent[]];
        const opened = await this.#open(target, first, now);
        if (opened === null) conflicts += 1;
        else [doc, current, remaining] = [opened, opened, rest];
        continue;
      }
      if (isFinal(hazardStatus(hazardFacts(current), now))) {
        await this.#settle(current, now);
        await this.#forgetCluster(current);
        return { doc, unplaced: remaining };
      }
      const counted = new Set(current.reportIds ?? []);
      remaining = remaining.filter((event) => !counted.has(event._id));
      const chunk = remaining.slice(0, MAX_REPORTS_PER_UPDATE);
      if (chunk.length === 0) break;
      const updated = await this.hazards.addReports(current, reportsOf(current, chunk), now);
      if (updated === null) {
        conflicts += 1;
        current = null;
        continue;
      }
      [doc, current, remaining] = [updated, updated, remaining.slice(chunk.length)];
    }
    if (doc !== null && !target.unclustered) await this.#updateCluster(doc);
    return { doc, unplaced: [] };
  }

  /** Moves the hazard's GEO member to its new centroid; a miss only costs precision, not a hazard. */
  async #updateCluster(doc: HazardDoc): Promise<void> {
    if (this.clusters === null || !this.redis.available) return;
    try {
      await this.clusters.update(doc.type, member(doc));
    } catch (error) {
      this.redis.reportFailure(error);
    }
  }

  #rememberUnclustered(doc: HazardDoc): void {
    if (this.clusters === null || this.#unclustered.size >= MAX_UNCLUSTERED) return;
    this.#unclustered.set(doc._id.toHexString(), { type: doc.type, member: member(doc) });
  }

  /** Adds the hazards opened while Redis was away to the GEO sets, once Redis answers again. */
  async #restoreClusters(): Promise<void> {
    if (this.clusters === null || this.#unclustered.size === 0 || !this.redis.available) return;
    const pending = [...this.#unclustered.values()];
    try {
      for (const type of new Set(pending.map((entry) => entry.type))) {
        await this.clusters.restore(
          type,
          pending.filter((entry) => entry.type === type).map((entry) => entry.member),
        );
      }
      for (const entry of pending) this.#unclustered.delete(entry.member.id);
    } catch (error) {
      this.redis.reportFailure(error);
      // The "up" that started this comes once: a first command that fails on a Redis just back (a
      // timeout on a busy machine) must not leave these hazards out until this node's next event.
      if (this.#restoreRetry === null) {
        this.#restoreRetry = setTimeout(() => {
          this.#restoreRetry = null;
          void this.#restoreClusters();
        }, RESTORE_RETRY_MS);
        this.#restoreRetry.unref();
      }
    }
  }

  /**
   * `hazard:vote` by an account: "still there" is a sighting, "gone" a vote towards `fixed` (its
   * newest vote replaces its earlier one, so each account counts once).
   */
  async vote(hazardId: string, stillThere: boolean, account: string): Promise<HazardSummary> {
    // Between rounds: a round counting reports on this hazard at the same moment could lose them,
    // or this vote, on FerretDB, which rewrites the whole document for an update (fold-lock.ts).
    return await this.lock.holdUnlessAway(() => this.#vote(hazardId, stillThere, account));
  }

  async #vote(hazardId: string, stillThere: boolean, account: string): Promise<HazardSummary> {
    const now = this.ctx.clock();
    const found = await this.hazards.findById(hazardId);
    if (found === null) throw new AppError(ErrorCodes.NotFound, "No hazard with this id");
    let doc = await this.#settle(found, now);
    if (doc.status === "fixed" || doc.status === "expired") {
      const summary = hazardSummary(doc, now);
      if (doc.status !== found.status) this.live.hazard(summary);
      return summary;
    }
    if (stillThere) {
      doc = await this.hazards.addSighting(doc._id, reporterToRemember(doc, account), now, now);
      await this.#updateCluster(doc);
    } else {
      const stale = staleGoneVoters(hazardFacts(doc), now);
      const kept = goneVotesOf(doc).filter((vote) => !stale.includes(vote.voter));
      if (kept.length < MAX_REMEMBERED_GONE_VOTES || kept.some((vote) => vote.voter === account)) {
        doc = await this.hazards.addGoneVote(doc._id, { voter: account, at: now }, stale, now);
      }
    }
    doc = await this.#settle(doc, now);
    const summary = hazardSummary(doc, now);
    this.live.hazard(summary);
    return summary;
  }

  /** Marks open hazards past their expiry as expired (and announces them); returns how many. */
  async expireDue(limit = 200): Promise<number> {
    const now = this.ctx.clock();
    const due = await this.hazards.openSeenBefore(new Date(now.getTime() - EXPIRY_MS), limit);
    let expired = 0;
    for (const doc of due) {
      const settled = await this.#settle(doc, now);
      if (settled.status === "expired" && doc.status !== "expired") {
        expired += 1;
        this.live.hazard(hazardSummary(settled, now));
      }
    }
    return expired;
  }

  /**
   * Stores the status the rules give the hazard now, once, even when two nodes decide it together.
   * `passes` is its pass total when the caller has it; otherwise it is read when it matters, that
   * is when its accounts alone would confirm it.
   */
  async #settle(doc: HazardDoc, now: Date, passes?: number): Promise<HazardDoc> {
    let status = hazardStatus(hazardFacts(doc), now);
    if (this.#confirmsOnAccounts(doc, now)) {
      const id = doc._id.toHexString();
      const counted = passes ?? (await this.#passesOf([id])).get(id) ?? 0;
      status = hazardStatus({ ...hazardFacts(doc), passes: counted }, now);
    }
    if (status === doc.status) return doc;
    if (await this.hazards.transition(doc._id, doc.status, status, now)) {
      this.ctx.metrics.hazardTransitions.inc({ status });
    }
    if (isFinal(status)) await this.#forgetCluster(doc);
    // Its passes no longer matter: confirmed stays confirmed, closed is final.
    if (doc.status === "reported") await this.#forgetPasses(doc._id.toHexString());
    return { ...doc, status };
  }

  /** Whether the hazard is `reported` and its accounts alone would confirm it now. */
  #confirmsOnAccounts(doc: HazardDoc, now: Date): boolean {
    return doc.status === "reported" && hazardStatus(hazardFacts(doc), now) === "confirmed";
  }

  /** Pass totals from Redis; none (the hazards judged on their accounts) when it does not answer. */
  async #passesOf(ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0 || this.passCounts === null || !this.redis.available) return new Map();
    try {
      return await this.passCounts.read(ids);
    } catch (error) {
      this.redis.reportFailure(error);
      return new Map();
    }
  }

  async #forgetPasses(id: string): Promise<void> {
    if (this.passCounts === null || !this.redis.available) return;
    try {
      await this.passCounts.forget([id]);
    } catch (error) {
      this.redis.reportFailure(error);
    }
  }

  /** A closed hazard leaves the GEO sets (expired ones would also be pruned there in time). */
  async #forgetCluster(doc: HazardDoc): Promise<void> {
    this.#unclustered.delete(doc._id.toHexString());
    if (this.clusters === null || !this.redis.available) return;
    try {
      await this.clusters.forget(doc.type, member(doc));
    } catch (error) {
      this.redis.reportFailure(error);
    }
  }
}
