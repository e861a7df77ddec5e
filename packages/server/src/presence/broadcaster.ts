import { setImmediate as nextTurn } from "node:timers/promises";
import type { RegionPush } from "./store.js";

/** Where `presence:updated` goes: a region's room (every node), or a few of this node's sockets. */
export interface PresencePublisher {
  toRegion(regionId: string, count: number): void;
  toSockets(socketIds: string[], regionId: string, count: number): void;
}

/**
 * Coalesces `presence:updated`. A region whose membership may have changed is marked; at most once
 * per interval each marked region is counted, and its room is told only when the count differs
 * from the last one pushed for it (by any node: `counts` says which). A device is in one region's
 * room, so it gets at most one message per interval, whatever the traffic around it. A device that
 * has just entered a region whose count did not change (one car in, one out) is told that count on
 * its own, since it has not heard it yet.
 */
export class PresenceBroadcaster {
  readonly #dirty = new Set<string>();
  /** Sockets that entered a region since the last flush, by region. */
  readonly #arrivals = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: number,
    /** Counts of the given regions and whether each changed since last pushed. */
    private readonly counts: (regionIds: string[]) => Promise<Map<string, RegionPush>>,
    private readonly publish: PresencePublisher,
    private readonly onError: (error: unknown) => void,
  ) {}

  mark(...regionIds: Array<string | null>): void {
    for (const regionId of regionIds) if (regionId !== null) this.#dirty.add(regionId);
  }

  /** `socketId` entered `regionId`: it gets the region's count at the next flush, changed or not. */
  arrive(regionId: string, socketId: string): void {
    this.#dirty.add(regionId);
    let sockets = this.#arrivals.get(regionId);
    if (sockets === undefined) {
      sockets = new Set();
      this.#arrivals.set(regionId, sockets);
    }
    sockets.add(socketId);
  }

  /** `socketId` left `regionId` (moved on or disconnected) before its count was sent. */
  depart(regionId: string | null, socketId: string): void {
    if (regionId === null) return;
    const sockets = this.#arrivals.get(regionId);
    sockets?.delete(socketId);
    if (sockets?.size === 0) this.#arrivals.delete(regionId);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
  }

  /** One count read for every marked region; a flush already running is not doubled. */
  async flush(): Promise<void> {
    if (this.#flushing || this.#dirty.size === 0) return;
    const regionIds = [...this.#dirty];
    const arrivals = new Map(this.#arrivals);
    this.#dirty.clear();
    this.#arrivals.clear();
    this.#flushing = (async () => {
      try {
        const pushes = await this.counts(regionIds);
        for (const regionId of regionIds) {
          const push = pushes.get(regionId);
          if (push === undefined) continue;
          if (push.changed) this.publish.toRegion(regionId, push.count);
          else {
            const arrived = arrivals.get(regionId);
            if (arrived === undefined) continue;
            this.publish.toSockets([...arrived], regionId, push.count);
          }
          // One region's room at a time: when many regions change at once (a fleet connecting),
          // writing every room in one go holds the event loop for tens of ms and every ack waits.
          await nextTurn();
        }
      } catch (error) {
        this.onError(error);
      }
    })();
    await this.#flushing;
    this.#flushing = undefined;
  }
}
