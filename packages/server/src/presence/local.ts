import type { Session } from "./session.js";

interface Entry {
  session: Session;
  /**
   * Regions this socket left while Redis could not be told: the next successful write removes it
   * from them too, so a move made during an outage leaves no ghost behind. Null while there are
   * none (nearly always): an empty set per connection would cost every connection memory.
   */
  unsyncedLeft: Set<string> | null;
}

/**
 * The node's own sockets, in memory. It is the truth for this node's share of presence: Redis is
 * written from it, rebuilt from it after an outage, and it answers region counts while Redis is
 * away.
 */
export class LocalPresence {
  readonly #entries = new Map<string, Entry>();
  readonly #regions = new Map<string, Set<string>>();

  get size(): number {
    return this.#entries.size;
  }

  get(socketId: string): Session | undefined {
    return this.#entries.get(socketId)?.session;
  }

  /** Regions to leave in Redis with the next write of this socket. */
  unsyncedLeft(socketId: string): string[] {
    return [...(this.#entries.get(socketId)?.unsyncedLeft ?? [])];
  }

  put(session: Session): void {
    const entry = this.#entries.get(session.socketId);
    const before = entry?.session.currentRegionId ?? null;
    if (entry) entry.session = session;
    else this.#entries.set(session.socketId, { session, unsyncedLeft: null });
    if (before !== session.currentRegionId) {
      if (before !== null) this.#unindex(before, session.socketId);
      if (session.currentRegionId !== null) this.#index(session.currentRegionId, session.socketId);
    }
  }

  /** Remembers that Redis still lists the socket in `regionId` (a write failed). */
  markUnsyncedLeave(socketId: string, regionId: string): void {
    const entry = this.#entries.get(socketId);
    if (!entry || entry.session.currentRegionId === regionId) return;
    entry.unsyncedLeft ??= new Set();
    entry.unsyncedLeft.add(regionId);
  }

  markSynced(socketId: string, leftRegionIds: string[]): void {
    const entry = this.#entries.get(socketId);
    if (!entry?.unsyncedLeft) return;
    for (const regionId of leftRegionIds) entry.unsyncedLeft.delete(regionId);
    if (entry.unsyncedLeft.size === 0) entry.unsyncedLeft = null;
  }

  delete(socketId: string): Session | undefined {
    const entry = this.#entries.get(socketId);
    if (!entry) return undefined;
    this.#entries.delete(socketId);
    if (entry.session.currentRegionId !== null) this.#unindex(entry.session.currentRegionId, socketId);
    return entry.session;
  }

  has(socketId: string): boolean {
    return this.#entries.has(socketId);
  }

  /** Live iteration: entries changed while iterating are seen with their newest value. */
  *sessions(): IterableIterator<Session> {
    for (const entry of this.#entries.values()) yield entry.session;
  }

  regionCount(regionId: string): number {
    return this.#regions.get(regionId)?.size ?? 0;
  }

  regionIds(): string[] {
    return [...this.#regions.keys()];
  }

  #index(regionId: string, socketId: string): void {
    let members = this.#regions.get(regionId);
    if (!members) {
      members = new Set();
      this.#regions.set(regionId, members);
    }
    members.add(socketId);
  }

  #unindex(regionId: string, socketId: string): void {
    const members = this.#regions.get(regionId);
    members?.delete(socketId);
    if (members?.size === 0) this.#regions.delete(regionId);
  }
}
