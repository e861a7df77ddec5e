import type { Db, IndexDescription } from "mongodb";

/**
 * Every index the node relies on, by collection. `createIndexes` with the same specification is a
 * no-op on an existing index, so running this at every start is safe (MongoDB 7 and FerretDB 1.24).
 * Names are explicit so a changed definition fails loudly instead of creating a twin.
 */
export const INDEXES: Record<string, IndexDescription[]> = {
  users: [{ key: { email: 1 }, name: "email_unique", unique: true }],
};

export async function ensureIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) {
    if (indexes.length > 0) await db.collection(collection).createIndexes(indexes);
  }
}
