import type { Collection, Document, Filter } from "mongodb";

/**
 * Documents of the given regions changed at or after `since`, oldest change first, at most `limit`
 * (a reconnecting device's catch-up). One read per region, `{region, updatedAt: {$gte}}`, at once,
 * merged: FerretDB 1.24 pushes an equality down to its backend but not `$in`, so one read with
 * `region: {$in}` decoded every document of the collection, as many times as devices caught up.
 * MongoDB serves either from the `region_updated` index. Each read has the deadline `maxTimeMS`, so
 * the store itself stops one its client gave up on instead of finishing it for nobody.
 */
export async function changedInRegions<T extends Document & { updatedAt: Date }>(
  collection: Collection<T>,
  regions: string[],
  since: Date,
  limit: number,
  maxTimeMS: number,
): Promise<T[]> {
  const perRegion = await Promise.all(
    regions.map(
      async (region) =>
        (await collection
          .find({ region, updatedAt: { $gte: since } } as unknown as Filter<T>, { maxTimeMS })
          .sort({ updatedAt: 1 })
          .limit(limit)
          .toArray()) as T[],
    ),
  );
  return perRegion
    .flat()
    .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
    .slice(0, limit);
}
