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
  /**
   * When this node last set the stored `claimedAt` (epoch ms, read before the write was sent, so
   * never later than the stored value): an entry renewed less than a quarter of the stale time ago
   * cannot be taken over yet and needs no renewal.
   */
  claimedAt: number;
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
    return { batch: doc._id, claim: doc.claim, claimedAt: doc.claimedAt.getTime() };
  }

  /**
   * Refreshes entries about to be applied and returns the ones still held, the same objects (others
   * were taken over). Only entries claimed more than `freshMs` ago are written: a younger entry
   * cannot have been taken over (that takes the whole stale time), and at fleet rate a round holds
   * hundreds of entries, whose renewal (one update per document on FerretDB) would otherwise cost
   * more than the round.
   */
  async renew(entries: JournalEntry[], freshMs: number): Promise<JournalEntry[]> {
    const now = Date.now();
    const due = entries.filter((e) => now - e.claimedAt >= freshMs);
    if (due.length === 0) return entries;
    const claims = due.map((e) => e.claim);
    const result = await timedWrite(this.metrics, INGEST_BATCHES, () =>
      this.#collection.updateMany({ claim: { $in: claims } }, { $set: { claimedAt: new Date(now) } }),
    );
    let lost = new Set<string>();
    if (result.modifiedCount !== due.length) {
      const held = await this.#collection
        .find({ claim: { $in: claims } }, { projection: { claim: 1 }, maxTimeMS: this.readTimeoutMs })
        .toArray();
      const stillHeld = new Set(held.map((doc) => doc.claim.toHexString()));
      lost = new Set(claims.map((c) => c.toHexString()).filter((c) => !stillHeld.has(c)));
    }
    for (const entry of due) entry.claimedAt = now;
    return entries.filter((e) => !lost.has(e.claim.toHexString()));
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
    return await this.claim(stale, cutoff);
  }

  /**
   * Takes over `stale` entries (read earlier) that are still stale now. Each claim is conditional
   * on the entry's claim token *and* on its still being stale: a holder that renewed it between the
   * read and the claim (a node waking from a pause renews its queue at once) keeps it. Conditional
   * on the token alone, both went on with the batch: counted twice (seen once under the fault
   * suite's 30 s SIGSTOP of a node: 50 observations double-counted).
   */
  async claim(stale: Array<Pick<IngestBatchDoc, "_id" | "claim">>, cutoff: Date): Promise<JournalEntry[]> {
    const claimed: JournalEntry[] = [];
    for (const entry of stale) {
      const claim = new ObjectId();
      const claimedAt = new Date();
      const result = await timedWrite(this.metrics, INGEST_BATCHES, () =>
        this.#collection.updateOne(
          { _id: entry._id, claim: entry.claim, claimedAt: { $lt: cutoff } },
          { $set: { owner: this.owner, claim, claimedAt } },
          { writeConcern: DURABLE },
        ),
      );
      if (result.modifiedCount === 1) claimed.push({ batch: entry._id, claim, claimedAt: claimedAt.getTime() });
    }
    return claimed;
  }
}
