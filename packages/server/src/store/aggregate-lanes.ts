import { type Collection, type Db, MongoServerError, ObjectId } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { DUPLICATE_KEY, DURABLE, timedWrite } from "./durability.js";

/**
 * `aggregate_lanes`: the rounds of aggregate folds, one lane at a time (docs/road-aggregates.md).
 * A node leases one lane (`claim`, renewed at every round and while idle) and applies its rounds
 * in it strictly one after the other, numbered by `seq`. Before the first aggregate write of a
 * round, the lane document records the round: its `seq` and the ingest batches it folds. A lane
 * whose holder stopped renewing it is taken over by another node, which re-applies the recorded
 * round (idempotent, see folds.ts) if any of its batches' journal entries are still open, and then
 * leaves the lane free. Lanes are few (one per running node), so the whole set is read at once.
 */
export interface LaneDoc {
  _id: number;
  /** Holder's node id, or null when free. */
  owner: string | null;
  claim: ObjectId;
  claimedAt: Date;
  /** Sequence number of the last round begun in this lane (0: none yet). */
  seq: number;
  /** The ingest batches of round `seq`. */
  batches: ObjectId[];
}

/** A lane held by this node: its index, the holder's token and the last round begun in it. */
export interface LaneLease {
  lane: number;
  claim: ObjectId;
  seq: number;
  /** When the lease was last confirmed (this node's monotonic clock, ms). */
  renewedAt: number;
}

/** At most this many lanes, so an aggregate document keeps at most this many fold marks. */
export const MAX_LANES = 64;
export const AGGREGATE_LANES = "aggregate_lanes";
const FREE = new Date(0);

export class AggregateLanes {
  readonly #collection: Collection<LaneDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
    private readonly owner: string,
    private readonly readTimeoutMs: number,
  ) {
    this.#collection = db.collection<LaneDoc>(AGGREGATE_LANES);
  }

  /** Every lane document (at most MAX_LANES). */
  async all(): Promise<LaneDoc[]> {
    return await this.#collection.find({}, { limit: MAX_LANES, maxTimeMS: this.readTimeoutMs }).toArray();
  }

  /**
   * Leases a free lane: one left free, one whose holder stopped renewing it for `staleMs` and whose
   * recorded round is closed (`closed(lane)` says so), or a new one. Null when none is to be had.
   */
  async acquire(staleMs: number, closed: (lane: LaneDoc) => Promise<boolean>): Promise<LaneLease | null> {
    const lanes = await this.all();
    const cutoff = new Date(Date.now() - staleMs);
    for (const lane of lanes.sort((a, b) => a._id - b._id)) {
      if (lane.claimedAt >= cutoff || !(await closed(lane))) continue;
      const lease = await this.take(lane);
      if (lease !== null) return lease;
    }
    const taken = new Set(lanes.map((lane) => lane._id));
    for (let index = 0; index < MAX_LANES; index++) {
      if (taken.has(index)) continue;
      const claim = new ObjectId();
      try {
        await timedWrite(this.metrics, AGGREGATE_LANES, () =>
          this.#collection.insertOne(
            { _id: index, owner: this.owner, claim, claimedAt: new Date(), seq: 0, batches: [] },
            { writeConcern: DURABLE },
          ),
        );
        return { lane: index, claim, seq: 0, renewedAt: performance.now() };
      } catch (error) {
        // Another node created it first: try the next one.
        if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      }
    }
    return null;
  }

  /** Takes a lane over from its holder, as seen in `seen`; null when someone else moved first. */
  async take(seen: LaneDoc): Promise<LaneLease | null> {
    const claim = new ObjectId();
    const renewedAt = performance.now();
    const result = await timedWrite(this.metrics, AGGREGATE_LANES, () =>
      this.#collection.updateOne(
        { _id: seen._id, claim: seen.claim },
        { $set: { owner: this.owner, claim, claimedAt: new Date() } },
        { writeConcern: DURABLE },
      ),
    );
    return result.matchedCount === 1 ? { lane: seen._id, claim, seq: seen.seq, renewedAt } : null;
  }

  /**
   * Records round `seq` of a held lane and the batches it folds, before any of its aggregate
   * writes; renews the lease. False when the lane was taken over: the round must not be applied.
   */
  async begin(lease: LaneLease, seq: number, batches: ObjectId[]): Promise<boolean> {
    const renewedAt = performance.now();
    const result = await timedWrite(this.metrics, AGGREGATE_LANES, () =>
      this.#collection.updateOne(
        { _id: lease.lane, claim: lease.claim },
        { $set: { seq, batches, claimedAt: new Date() } },
        { writeConcern: DURABLE },
      ),
    );
    if (result.matchedCount !== 1) return false;
    lease.seq = seq;
    lease.renewedAt = renewedAt;
    return true;
  }

  /** Renews a held lane's lease; false when it was taken over. */
  async renew(lease: LaneLease): Promise<boolean> {
    const renewedAt = performance.now();
    const result = await timedWrite(this.metrics, AGGREGATE_LANES, () =>
      this.#collection.updateOne({ _id: lease.lane, claim: lease.claim }, { $set: { claimedAt: new Date() } }),
    );
    if (result.matchedCount !== 1) return false;
    lease.renewedAt = renewedAt;
    return true;
  }

  /** Leaves a held lane free for any node (its `seq` stays: the lane's numbering goes on). */
  async release(lease: LaneLease): Promise<void> {
    await timedWrite(this.metrics, AGGREGATE_LANES, () =>
      this.#collection.updateOne(
        { _id: lease.lane, claim: lease.claim },
        { $set: { owner: null, claimedAt: FREE } },
        { writeConcern: DURABLE },
      ),
    );
  }
}
