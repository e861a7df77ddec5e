import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { MongoClient } from "mongodb";

/**
 * Looks every acknowledged observation up in the store by `_id` (the device's UUID), a few hundred
 * at a time: an ok ack promises the observation is durable, so any id not found is a lost write.
 */
export async function checkAckedIds(
  mongoUri: string,
  files: string[],
): Promise<{ checked: number; missing: number; examples: string[] }> {
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 10_000 });
  const collection = client.db().collection<{ _id: string }>("observations");
  let checked = 0;
  let missing = 0;
  const examples: string[] = [];
  const seen = new Set<string>();
  const lookup = async (ids: string[]) => {
    const found = new Set(
      (await collection.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((doc) => doc._id),
    );
    for (const id of ids) {
      if (found.has(id)) continue;
      missing += 1;
      if (examples.length < 5) examples.push(id);
    }
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
