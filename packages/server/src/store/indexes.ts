import { type Db, type IndexDescription, MongoServerError } from "mongodb";

/**
 * Every index the node relies on, by collection. Names are explicit so a changed definition fails
 * loudly instead of creating a twin.
 */
export const INDEXES: Record<string, IndexDescription[]> = {
  users: [{ key: { email: 1 }, name: "email_unique", unique: true }],
  // `_id` is the device's UUID: its unique primary index is the exactly-once guarantee. The batch
  // index serves only crash recovery of aggregates (ingest-journal.ts).
  observations: [{ key: { batch: 1 }, name: "batch" }],
  // `_id` is the segment key (geohash-8 first), so geohash-prefix reads are `_id` ranges; boxes
  // select the covering geohash-5 regions and read them in key order.
  // `region_updated` serves a reconnecting device's catch-up (`region:sync`): what changed in a few
  // regions since a moment.
  road_segments: [
    { key: { region: 1, _id: 1 }, name: "region_id" },
    { key: { region: 1, updatedAt: 1 }, name: "region_updated" },
  ],
  hazards: [
    { key: { type: 1, cell: 1, status: 1 }, name: "type_cell_status" },
    { key: { region: 1, _id: 1 }, name: "region_id" },
    { key: { status: 1, lastSeenAt: 1 }, name: "status_lastSeenAt" },
    { key: { region: 1, updatedAt: 1 }, name: "region_updated" },
  ],
  region_daily_stats: [{ key: { region: 1, day: 1 }, name: "region_day" }],
  ingest_batches: [{ key: { claimedAt: 1 }, name: "claimedAt" }],
};

/** MongoDB's code for "no such collection" (listIndexes on a collection not created yet). */
const NAMESPACE_NOT_FOUND = 26;

/**
 * Creates the indexes that are missing, one command per index, and nothing else. Every node runs
 * this at start, so on a running cluster every index already exists: asking again must cost
 * nothing. It could not be left to `createIndexes`' "no-op when identical" promise: FerretDB 1.24
 * panics on a `createIndexes` of several indexes that all exist (and drops the connection), so a
 * cluster's second and later nodes crashed a request of the store at every start and retry.
 * Returns the names created.
 */
export async function ensureIndexes(db: Db): Promise<string[]> {
  const created: string[] = [];
  for (const [name, indexes] of Object.entries(INDEXES)) {
    const collection = db.collection(name);
    const existing = new Set(
      (
        await collection
          .listIndexes()
          .toArray()
          .catch((error: unknown) => {
            if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND) return [];
            throw error;
          })
      ).map((index) => String(index.name)),
    );
    for (const index of indexes) {
      if (existing.has(index.name as string)) continue;
      await collection.createIndexes([index]);
      created.push(`${name}.${index.name}`);
    }
  }
  return created;
}
