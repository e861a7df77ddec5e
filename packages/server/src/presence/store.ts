/** A region's member count, and whether it differs from the count last pushed for it. */
export interface RegionPush {
  count: number;
  changed: boolean;
}

export interface RegionMember {
  socketId: string;
  userId: string | null;
  nodeId: string | null;
  lastActivityAt: string | null;
}

/**
 * Where the service reads presence from: RedisPresenceStore (redis-store.ts), the cluster's view in
 * the seed's key schema, and MemoryPresenceStore (memory-store.ts), this node's own view, read while
 * Redis is away or not configured. Writes go to Redis alone, through write-back.ts (the memory view
 * is LocalPresence itself, which the service updates first).
 */
export interface PresenceStore {
  /** Whether its answers cover the whole cluster (Redis) or this node alone (memory). */
  readonly clusterWide: boolean;
  regionCount(regionId: string): Promise<number>;
  /** The counts of several regions in one round trip (the ops map's view); no push is recorded. */
  regionCounts(regionIds: string[]): Promise<number[]>;
  regionMembers(regionId: string): Promise<RegionMember[]>;
  /**
   * The counts of these regions, each with whether it differs from the count last pushed for it,
   * recorded as pushed in the same step (so two nodes never push one change twice).
   */
  regionPushes(regionIds: string[]): Promise<Map<string, RegionPush>>;
  /** The connections the account holds (`user:{userId}:sessions`; this node's alone in memory). */
  accountSockets(userId: string): Promise<number>;
}
