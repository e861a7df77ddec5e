import type { Session } from "./session.js";

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
 * Where a node's presence is shared: RedisPresenceStore (redis-store.ts), the cluster's view in the
 * seed's key schema, and MemoryPresenceStore (memory-store.ts), this node's own view, served while
 * Redis is away or not configured. The service writes every change to the store in use and reads
 * counts and members from it; it never knows which one it holds.
 */
export interface PresenceStore {
  /** Whether its answers cover the whole cluster (Redis) or this node alone (memory). */
  readonly clusterWide: boolean;
  /** The full state of one socket; idempotent, so connect, location, heartbeat and restore share it. */
  upsert(session: Session, leftRegionIds: string[], nowMs: number): Promise<void>;
  /** Everything one socket owns, gone. */
  remove(session: Session): Promise<void>;
  regionCount(regionId: string): Promise<number>;
  regionMembers(regionId: string): Promise<RegionMember[]>;
  /**
   * The counts of these regions, each with whether it differs from the count last pushed for it,
   * recorded as pushed in the same step (so two nodes never push one change twice).
   */
  regionPushes(regionIds: string[]): Promise<Map<string, RegionPush>>;
}
