import type { Db, IndexDescription } from "mongodb";

/**
 * Every index the node relies on, by collection. `createIndexes` with the same specification is a
 * no-op on an existing index, so running this at every start is safe (MongoDB 7 and FerretDB 1.24,
 * one index per command: see `ensureIndexes`). Names are explicit so a changed definition fails
 * loudly instead of creating a twin.
 */
export const INDEXES: Record<string, IndexDescription[]> = {
  users: [{ key: { email: 1 }, name: "email_unique", unique: true }],
  // `_id` is the device's UUID: its unique primary index is the exactly-once guarantee. The batch
  // index serves only crash recovery of aggregates (ingest-journal.ts).
  observations: [{ key: { batch: 1 }, name: "batch" }],
  // `_id` is the segment key (geohash-8 first), so geohash-prefix reads are `_id` ranges; boxes
  // select the covering geohash-5 regions and read them in key order.
  road_segments: [{ key: { region: 1, _id: 1 }, name: "region_id" }],
  hazards: [
    { key: { type: 1, cell: 1, status: 1 }, name: "type_cell_status" },
    { key: { region: 1, _id: 1 }, name: "region_id" },
    { key: { status: 1, lastSeenAt: 1 }, name: "status_lastSeenAt" },
  ],
  region_daily_stats: [{ key: { region: 1, day: 1 }, name: "region_day" }],
  ingest_batches: [{ key: { claimedAt: 1 }, name: "claimedAt" }],
};

/**
 * Creates every index, one `createIndexes` command per index. FerretDB 1.24 panics on a command
 * that names two or more indexes of which some already exist (`slice bounds out of range`) and
 * drops the connection; the driver then marks the server unknown and clears its pool, failing
 * whatever else was in flight. Every start after the first against a database (a second worker,
 * a restarted node, another node of the cluster) hit that on `hazards`, so `indexesReady` never
 * came and the retry every 2 s dropped a connection each time. One index per command is a no-op
 * on an existing index there too, also when two processes create the same one at once.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    for (const index of indexes) await db.collection(collection).createIndexes([index]);
  }
}
