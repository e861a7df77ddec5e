import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { MongoClient } from "mongodb";

/** Lookups in flight at once. */
const CONCURRENCY = 16;

/**
 * Looks every acknowledged observation up in the store by `_id` (the device's UUID): an ok ack
 * promises the observation is durable, so any id not found is a lost write. One `findOne` by `_id`
 * per id, a few at a time, because that is the lookup every store answers from its primary index:
 * FerretDB 1.24 on SQLite pushes only `_id` equality down and scans the whole collection for an
 * `$in`, which after a long run (or under the aggregator's writes) took minutes per few hundred
 * ids. Every call has a deadline, so a stalled store fails the check instead of hanging it.
 */
export async function checkAckedIds(
  mongoUri: string,
  files: string[],
): Promise<{ checked: number; missing: number; examples: string[] }> {
  const client = new MongoClient(mongoUri, {
    serverSelectionTimeoutMS: 10_000,
    socketTimeoutMS: 30_000,
    waitQueueTimeoutMS: 30_000,
    maxPoolSize: CONCURRENCY,
  });
  const collection = client.db().collection<{ _id: string }>("observations");
  let checked = 0;
  let missing = 0;
  const examples: string[] = [];
  const seen = new Set<string>();
  const lookup = async (ids: string[]) => {
    let next = 0;
    const lookOne = async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i] as string;
        if (await collection.findOne({ _id: id }, { projection: { _id: 1 } })) continue;
        missing += 1;
        if (examples.length < 5) examples.push(id);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lookOne));
    checked += ids.length;
  };
  try {
    for (const file of files) {
      let batch: string[] = [];
      for await (const line of createInterface({ input: createReadStream(file) })) {
        // An id acked twice (resent after a lost ack) is looked up once.
        if (line === "" || seen.has(line)) continue;
        seen.add(line);
        batch.push(line);
        if (batch.length === 500) {
          await lookup(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await lookup(batch);
    }
  } finally {
    await client.close();
  }
  return { checked, missing, examples };
}
