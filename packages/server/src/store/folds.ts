import {
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type Filter,
  MongoBulkWriteError,
  MongoServerError,
  type UpdateFilter,
  type WithId,
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

/** Deadline of the read that tells "already applied" from an insert race. */
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
 * Commands of one round in flight at once. A round touches each document once, so its commands
 * never write the same document and their order does not matter; FerretDB answers each one in
 * several milliseconds mostly spent waiting, so sending a few at a time multiplies the rate the
 * road map keeps up with. Bounded so that, with MAX_UPDATES_PER_COMMAND, the connections they hold
 * in the store (a statement's query and its write each) stay well below its pool (durability.ts):
 * only one node writes folds at a time (roads/fold-lock.ts).
 */
export const FOLD_COMMANDS_IN_FLIGHT = 4;

/**
 * Writes one round's fold upserts in ordered commands of at most MAX_UPDATES_PER_COMMAND
 * statements, FOLD_COMMANDS_IN_FLIGHT at a time. When a command stops on a duplicate key, one read
 * finds which of its documents hold the round already (applied by this command before it stopped,
 * or earlier, or by another node applying the same round); the others are sent again. A statement
 * that does not hold the round after a duplicate key lost the insert race of two upserts creating
 * the same document, and goes through as an update the next time. Ordered on purpose: FerretDB
 * 1.24 stops an unordered command at its first failure too, dropping the rest, and it reports that
 * failure at index 0 with zero counts whatever the real index, so nothing here relies on the index
 * or the counts. `guard` runs before every command and throws to stop (the lane's lease,
 * roads/aggregator.ts); after a failure no further command starts, and the error is thrown once
 * the commands in flight have ended.
 */
export async function writeFolds<T extends Document>(
  collection: Collection<T>,
  writes: FoldWrite[],
  fold: FoldId,
  guard: () => Promise<void> = async () => undefined,
): Promise<void> {
  const chunks: FoldWrite[][] = [];
  for (let start = 0; start < writes.length; start += MAX_UPDATES_PER_COMMAND) {
    chunks.push(writes.slice(start, start + MAX_UPDATES_PER_COMMAND));
  }
  await inFlight(chunks, FOLD_COMMANDS_IN_FLIGHT, (chunk, stopped) =>
    writeChunk(collection, chunk, fold, guard, stopped),
  );
}

/**
 * Runs `work` on every item, at most `limit` at a time. After the first failure no further item
 * starts (`stopped()` tells the ones running), and the failure is thrown once they have ended.
 */
async function inFlight<T>(
  items: T[],
  limit: number,
  work: (item: T, stopped: () => boolean) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const stopped = () => failure !== null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item, stopped);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** One command's statements, sent again without those that hold the round after a duplicate key. */
async function writeChunk<T extends Document>(
  collection: Collection<T>,
  chunk: FoldWrite[],
  fold: FoldId,
  guard: () => Promise<void>,
  stopped: () => boolean,
): Promise<void> {
  const field = foldField(fold.lane);
  let remaining = chunk;
  let racesInARow = 0;
  while (remaining.length > 0 && !stopped()) {
    await guard();
    try {
      await collection.bulkWrite(
        remaining.map((write) => foldOperation<T>(write, fold)),
        { ordered: true, writeConcern: DURABLE },
      );
      return;
    } catch (error) {
      if (duplicateAt(error) === null) throw error;
      const holding = await collection
        .find({ _id: { $in: remaining.map((write) => write.id) }, [field]: { $gte: fold.seq } } as Filter<T>, {
          projection: { _id: 1 },
          maxTimeMS: FOLD_CHECK_MS,
        })
        .toArray();
      const done = new Set(holding.map((doc) => String(doc._id)));
      // Nothing holds the round: only insert races, which resolve at once; anything else repeats.
      if (done.size === 0 && ++racesInARow > 3) throw error;
      if (done.size > 0) racesInARow = 0;
      remaining = remaining.filter((write) => !done.has(write.id));
    }
  }
}

/**
 * Documents of one round written at once by writeFoldsReturning: each holds at most two of the
 * store's backend connections (its read and its write), so 16 at most (durability.ts).
 */
export const FOLD_DOCUMENTS_IN_FLIGHT = 8;

/**
 * The same exactly-once upserts as writeFolds, one `findOneAndUpdate` per document,
 * FOLD_DOCUMENTS_IN_FLIGHT at a time, returning every document as it is once the round is in it:
 * the caller publishes them without reading them again. (A read by a list of ids is no alternative
 * on FerretDB 1.24: `$in` is not pushed down, so it decodes the whole collection; at 17,000 segments
 * it took most of a round.) A duplicate key means the document holds the round already (its current
 * state is read and returned) or lost an insert race (sent again, at most 3 times in a row). `guard`
 * runs before every write; after a failure no further write starts, and the error is thrown once
 * the writes in flight have ended.
 */
export async function writeFoldsReturning<T extends Document>(
  collection: Collection<T>,
  writes: FoldWrite[],
  fold: FoldId,
  guard: () => Promise<void> = async () => undefined,
): Promise<WithId<T>[]> {
  const written: WithId<T>[] = [];
  await inFlight(writes, FOLD_DOCUMENTS_IN_FLIGHT, async (write) => {
    const doc = await writeOne(collection, write, fold, guard);
    if (doc !== null) written.push(doc);
  });
  return written;
}

async function writeOne<T extends Document>(
  collection: Collection<T>,
  write: FoldWrite,
  fold: FoldId,
  guard: () => Promise<void>,
): Promise<WithId<T> | null> {
  const { updateOne } = foldOperation<T>(write, fold) as {
    updateOne: { filter: Filter<T>; update: UpdateFilter<T> };
  };
  for (let races = 0; ; races++) {
    await guard();
    try {
      return await collection.findOneAndUpdate(updateOne.filter, updateOne.update, {
        upsert: true,
        returnDocument: "after",
        writeConcern: DURABLE,
      });
    } catch (error) {
      if (!(error instanceof MongoServerError) || error.code !== DUPLICATE_KEY) throw error;
      const current = await collection.findOne({ _id: write.id } as Filter<T>, { maxTimeMS: FOLD_CHECK_MS });
      const applied = (current?.folds as Record<string, number> | undefined)?.[`l${fold.lane}`];
      if (current !== null && applied !== undefined && applied >= fold.seq) return current;
      if (races >= 3) throw error;
    }
  }
}

function foldOperation<T extends Document>(write: FoldWrite, fold: FoldId): AnyBulkWriteOperation<T> {
  return {
    updateOne: {
      filter: foldFilter<T>(write.id, fold),
      update: { ...write.update, $set: { ...write.update.$set, ...foldMark(fold) } } as UpdateFilter<T>,
      upsert: true,
    },
  };
}

/** The index of the statement an ordered bulk write stopped at, when it stopped on a duplicate key. */
export function duplicateAt(error: unknown): number | null {
  if (!(error instanceof MongoBulkWriteError) || error.writeConcernError) return null;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  if (writeErrors.length !== 1 || writeErrors[0]?.code !== DUPLICATE_KEY) return null;
  return writeErrors[0].index;
}
