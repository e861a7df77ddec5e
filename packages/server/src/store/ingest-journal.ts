import { type Collection, type Db, ObjectId } from "mongodb";
import type { Metrics } from "../metrics/registry.js";
import { DURABLE, timedWrite } from "./durability.js";

/**
 * `ingest_batches`: one small document per stored batch whose aggregates (segments, hazards, daily
 * history) are not applied yet. It is written before the observations and deleted once their
 * aggregates are written, so a node that dies in between leaves a trace another node picks up:
 * acked observations always reach the road map.
 *
 * Each holder of an entry has its own `claim` token; taking an entry over changes the token, so a
 * slow former holder can no longer renew it. Once a round of folds has recorded a batch in its lane
 * (aggregate-lanes.ts), the lane owns it: the round's writes are idempotent, and its entries are
 * deleted by batch id once they are all written, by whichever node applies the round. A node dying
 * anywhere in between leaves the lane's record and the entries for another node to finish.
 */
export interface IngestBatchDoc {
  _id: ObjectId;
  owner: string;
  claim: ObjectId;
  /** When the current holder took or renewed it (wall clock: operations, not a road rule). */
  claimedAt: Date;
}

export interface JournalEntry {
  batch: ObjectId;
  claim: ObjectId;
}

export const INGEST_BATCHES = "ingest_batches";

export class IngestJournal {
  readonly #collection: Collection<IngestBatchDoc>;

  constructor(
    db: Db,
    private readonly metrics: Metrics,
    private readonly owner: string,
    private readonly readTimeoutMs: number,
  ) {
    this.#collection = db.collection<IngestBatchDoc>(INGEST_BATCHES);
  }

  async open(): Promise<JournalEntry> {
    const doc: IngestBatchDoc = {
      _id: new ObjectId(),
      owner: this.owner,
      claim: new ObjectId(),
      claimedAt: new Date(),
    };
    await timedWrite(this.metrics, INGEST_BATCHES, () => this.#collection.insertOne(doc, { writeConcern: DURABLE }));
    return { batch: doc._id, claim: doc.claim };
  }

  /** Refreshes entries about to be applied; returns the ones still held (others were taken over). */
  async renew(entries: JournalEntry[]): Promise<JournalEntry[]> {
    const claims = entries.map((e) => e.claim);
    const result = await timedWrite(this.metrics, INGEST_BATCHES, () =>
      this.#collection.updateMany({ claim: { $in: claims } }, { $set: { claimedAt: new Date() } }),
    );
    if (result.modifiedCount === entries.length) return entries;
    const held = await this.#collection
      .find({ claim: { $in: claims } }, { projection: { claim: 1 }, maxTimeMS: this.readTimeoutMs })
      .toArray();
    const stillHeld = new Set(held.map((doc) => doc.claim.toHexString()));
    return entries.filter((e) => stillHeld.has(e.claim.toHexString()));
  }

  /** Deletes the entries of batches whose aggregates are all written (whoever holds them). */
  async close(batches: ObjectId[]): Promise<void> {
    if (batches.length === 0) return;
    await timedWrite(this.metrics, INGEST_BATCHES, () =>
      this.#collection.deleteMany({ _id: { $in: batches } }, { writeConcern: DURABLE }),
    );
  }

  /** Whether any of these batches still has its entry (its aggregates are not known to be written). */
  async anyOpen(batches: ObjectId[]): Promise<boolean> {
    if (batches.length === 0) return false;
    const open = await this.#collection.countDocuments(
      { _id: { $in: batches } },
      { limit: 1, maxTimeMS: this.readTimeoutMs },
    );
    return open > 0;
  }

  /** Takes over entries nobody has touched for `staleMs`; each one goes to exactly one claimer. */
  async claimStale(staleMs: number, max = 20): Promise<JournalEntry[]> {
    const cutoff = new Date(Date.now() - staleMs);
    const stale = await this.#collection
      .find({ claimedAt: { $lt: cutoff } }, { limit: max, maxTimeMS: this.readTimeoutMs })
      .toArray();
    const claimed: JournalEntry[] = [];
    for (const entry of stale) {
      const claim = new ObjectId();
      const result = await timedWrite(this.metrics, INGEST_BATCHES, () =>
        this.#collection.updateOne(
          { _id: entry._id, claim: entry.claim },
          { $set: { owner: this.owner, claim, claimedAt: new Date() } },
          { writeConcern: DURABLE },
        ),
      );
      if (result.modifiedCount === 1) claimed.push({ batch: entry._id, claim });
    }
    return claimed;
  }
}
