import type { LocalPresence } from "./local.js";
import type { Session } from "./session.js";
import type { PresenceStore, RegionMember, RegionPush } from "./store.js";

/**
 * Presence as this node alone sees it: its own sockets (LocalPresence, which the service keeps
 * whatever the store). Serves as the store while Redis is away (degraded mode: devices keep their
 * acks and their region's count of this node's devices) and when no Redis is configured. It needs
 * no writes: the sockets are in LocalPresence already; write-back.ts brings Redis up to date.
 */
export class MemoryPresenceStore implements PresenceStore {
  readonly clusterWide = false;
  /** Counts pushed while serving, by region; bounded by the regions this node has devices in. */
  readonly #pushed = new Map<string, number>();

  constructor(private readonly local: LocalPresence) {}

  async regionCount(regionId: string): Promise<number> {
    return this.local.regionCount(regionId);
  }

  async regionCounts(regionIds: string[]): Promise<number[]> {
    return regionIds.map((regionId) => this.local.regionCount(regionId));
  }

  async regionMembers(regionId: string): Promise<RegionMember[]> {
    const members: RegionMember[] = [];
    for (const session of this.local.sessions()) {
      if (session.currentRegionId === regionId) members.push(member(session));
    }
    return members.sort((a, b) => (a.socketId < b.socketId ? -1 : a.socketId > b.socketId ? 1 : 0));
  }

  async regionPushes(regionIds: string[]): Promise<Map<string, RegionPush>> {
    const pushes = new Map<string, RegionPush>();
    for (const regionId of regionIds) {
      const count = this.local.regionCount(regionId);
      pushes.set(regionId, { count, changed: this.#pushed.get(regionId) !== count });
      if (count === 0) this.#pushed.delete(regionId);
      else this.#pushed.set(regionId, count);
    }
    return pushes;
  }

  async accountSockets(userId: string): Promise<number> {
    let count = 0;
    for (const session of this.local.sessions()) if (session.userId === userId) count += 1;
    return count;
  }

  /** Redis answers again and knows what was pushed: this record of the outage is stale. */
  forgetPushes(): void {
    this.#pushed.clear();
  }
}

function member(session: Session): RegionMember {
  const { socketId, userId, nodeId, lastActivityAt } = session;
  return { socketId, userId, nodeId, lastActivityAt };
}
