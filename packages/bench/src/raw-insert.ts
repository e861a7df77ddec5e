import { randomUUID } from "node:crypto";
import { MongoClient, ObjectId } from "mongodb";

/** What a store takes of plain `insertMany` calls, with nothing of RoadPulse in between. */
export interface RawInsertResult {
  /** Best observations/s over the concurrencies tried. */
  docsPerSecond: number;
  concurrency: number;
  batchSize: number;
  /** docs/s at each concurrency tried. */
  byConcurrency: Record<string, number>;
}

const DURABLE = { w: "majority" as const, j: true };

/** An observation document shaped like the ones the nodes store (same fields, same sizes). */
export function observationDoc(batch: ObjectId): Record<string, unknown> {
  const now = new Date();
  return {
    _id: randomUUID(),
    userId: "6650c0ffee0000000000beef",
    deviceId: `device-${randomUUID().slice(0, 8)}`,
    latitude: 55.6761 + Math.random() / 100,
    longitude: 12.5683 + Math.random() / 100,
    recordedAt: now,
    receivedAt: now,
    roughness: Math.random() * 5,
    speed: 12.5,
    heading: 90,
    segmentId: "u3butzxb.ew",
    region: "u3but",
    counted: true,
    batch,
  };
}

/**
 * Raw `insertMany` throughput of the store at `uri`: `concurrency` writers each inserting batches
 * of `batchSize` documents back to back, journaled, for `seconds`, into a collection of its own
 * that is dropped afterwards. The best of the concurrencies tried is the store's figure: the
 * strongest comparator for what the nodes achieve end to end.
 */
export async function rawInsertThroughput(
  uri: string,
  batchSize: number,
  concurrencies = [1, 4, 16],
  seconds = 8,
): Promise<RawInsertResult> {
  const client = new MongoClient(uri, { maxPoolSize: Math.max(...concurrencies) + 2, socketTimeoutMS: 30_000 });
  const collection = client.db().collection(`bench_raw_insert_${Date.now().toString(36)}`);
  const byConcurrency: Record<string, number> = {};
  try {
    await collection.insertOne({ _id: "warm-up" } as never);
    for (const concurrency of concurrencies) {
      let stored = 0;
      const started = performance.now();
      const deadline = started + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const batch = new ObjectId();
            const result = await collection.insertMany(
              Array.from({ length: batchSize }, () => observationDoc(batch)),
              { ordered: false, writeConcern: DURABLE },
            );
            stored += result.insertedCount;
          }
        }),
      );
      byConcurrency[String(concurrency)] = stored / ((performance.now() - started) / 1000);
    }
  } finally {
    await collection.drop().catch(() => undefined);
    await client.close();
  }
  const [best, docsPerSecond] = Object.entries(byConcurrency).sort((a, b) => b[1] - a[1])[0] ?? ["0", 0];
  return { docsPerSecond, concurrency: Number(best), batchSize, byConcurrency };
}
