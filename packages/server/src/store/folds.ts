import {
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type Filter,
  MongoBulkWriteError,
  type UpdateFilter,
} from "mongodb";
import { DUPLICATE_KEY, DURABLE, MAX_UPDATES_PER_COMMAND } from "./durability.js";

/**
 * Exactly-once aggregate writes without transactions (docs/road-aggregates.md).
 *
 * Every round of folds runs in a lane (aggregate-lanes.ts) under that lane's next sequence number,
 * and a lane's rounds are applied strictly one after the other. An aggregate document remembers,
 * per lane, the last sequence number folded into it (`folds.l<lane>`), so a round is written with
 * the filter "this document has not got this lane's round (or a later one) yet". When it already has it, the
 * upsert's insert collides with the document's `_id`: a duplicate key means "already applied".
 * Re-applying a round any number of times (a node's retry, or another node's recovery after a
 * crash) therefore changes nothing twice, and each document keeps one small number per lane, not a
 * list of rounds.
 */
export interface FoldId {
  lane: number;
  seq: number;
}

/** Deadline of the one-document read that tells "already applied" from an insert race. */
const FOLD_CHECK_MS = 5_000;

export function foldField(lane: number): string {
  return `folds.l${lane}`;
}

/**
 * The filter of one fold upsert: the document, unless it already holds this round or a later one
 * of the same lane (a lane's rounds are applied in order, so a later one means this one is in).
 */
export function foldFilter<T extends Document>(id: string, fold: FoldId): Filter<T> {
  return { _id: id, [foldField(fold.lane)]: { $not: { $gte: fold.seq } } } as Filter<T>;
}

/** The `$set` that marks a document as holding this round. */
export function foldMark(fold: FoldId): Record<string, number> {
  return { [foldField(fold.lane)]: fold.seq };
}

/** One document's share of a round: its `_id` and the update (without the fold mark). */
export interface FoldWrite {
  id: string;
  update: UpdateFilter<Document> & { $set?: Document };
}

/**
 * Writes one round's fold upserts in ordered commands of at most MAX_UPDATES_PER_COMMAND
 * statements. When a command stops on a duplicate key, the statement it names is checked: if its
 * document holds the round, it was applied (skip it); if not, another round created the document
 * at the same instant (the insert race of two upserts) and the statement is sent again, now as an
 * update. Ordered on purpose: FerretDB 1.24 stops an unordered command at its first failure too,
 * dropping the rest. FerretDB also reports every such failure at index 0 with zero counts; the
 * check then finds statement 0 applied and goes on from 1, and statements applied before the real
 * failure come back as duplicates of their own, so the outcome is right on both stores (MongoDB
 * names the true index). `guard` runs before every command and throws to stop (the lane's lease,
 * see roads/aggregator.ts). Returns how many statements were already applied.
 */
export async function writeFolds<T extends Document>(
  collection: Collection<T>,
  writes: FoldWrite[],
  fold: FoldId,
  guard: () => void = () => undefined,
): Promise<number> {
  const operations = writes.map(
    (write): AnyBulkWriteOperation<T> => ({
      updateOne: {
        filter: foldFilter<T>(write.id, fold),
        update: { ...write.update, $set: { ...write.update.$set, ...foldMark(fold) } } as UpdateFilter<T>,
        upsert: true,
      },
    }),
  );
  let applied = 0;
  let start = 0;
  let resent = 0;
  while (start < operations.length) {
    const chunk = operations.slice(start, start + MAX_UPDATES_PER_COMMAND);
    guard();
    try {
      await collection.bulkWrite(chunk, { ordered: true, writeConcern: DURABLE });
      start += chunk.length;
    } catch (error) {
      const index = duplicateAt(error);
      if (index === null || index >= chunk.length) throw error;
      const id = (writes[start + index] as FoldWrite).id;
      const holds = await collection.countDocuments(
        { _id: id, [foldField(fold.lane)]: { $gte: fold.seq } } as Filter<T>,
        { limit: 1, maxTimeMS: FOLD_CHECK_MS },
      );
      if (holds === 1) {
        applied += 1;
        start += index + 1;
        resent = 0;
      } else if (++resent > 3) {
        // A duplicate that is neither "applied" nor a lost insert race: not something to retry.
        throw error;
      } else {
        start += index;
      }
    }
  }
  return applied;
}

/** The index of the statement an ordered bulk write stopped at, when it stopped on a duplicate key. */
export function duplicateAt(error: unknown): number | null {
  if (!(error instanceof MongoBulkWriteError) || error.writeConcernError) return null;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.length !== 1 || writeErrors[0]?.code !== DUPLICATE_KEY) return null;
  return writeErrors[0].index;
}
