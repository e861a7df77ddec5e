import { ErrorCodes } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { PresenceBroadcaster, type PresencePublisher } from "./broadcaster.js";
import { Liveness } from "./liveness.js";
import { LocalPresence } from "./local.js";
import { MemoryPresenceStore } from "./memory-store.js";
import { Reaper } from "./reaper.js";
import { RedisPresenceStore } from "./redis-store.js";
import { applyLocation, type LocationMove, newSession, type Session, touch } from "./session.js";
import type { PresenceStore, RegionMember, RegionPush } from "./store.js";
import { type PresenceOp, WriteBack } from "./write-back.js";

/**
 * How often marked regions are counted for `presence:updated`: a device hears its region's count
 * at most this often. A count of nearby phones needs no more than once a second.
 */
export const PRESENCE_BROADCAST_INTERVAL_MS = 1_000;

/** The Redis side of presence, when a Redis is configured. */
interface Shared {
  store: RedisPresenceStore;
  writeBack: WriteBack;
  liveness: Liveness;
}

/**
 * One node's presence sessions: its sockets in memory (LocalPresence), every change written to
 * Redis in the seed's schema (writes Redis missed are written back: write-back.ts), counts read from
 * the store in use (store.ts: Redis while it answers, else this node's own view), and the node's
 * liveness and the reaper beside (liveness.ts). Knows nothing of Socket.IO except
 * the publisher it is given.
 */
export class PresenceService {
  readonly #local = new LocalPresence();
  readonly #memory = new MemoryPresenceStore(this.#local);
  readonly #shared: Shared | null;
  readonly #broadcaster: PresenceBroadcaster;

  constructor(
    private readonly ctx: NodeContext,
    publisher: PresencePublisher,
  ) {
    const { config } = ctx;
    const client = ctx.redis.client;
    const changed = (regionIds: Iterable<string>) => this.#broadcaster.mark(...regionIds);
    if (client === null) {
      this.#shared = null;
    } else {
      const store = new RedisPresenceStore(
        client,
        {
          session: config.sessionTtlSeconds,
          heartbeat: config.heartbeatTtlSeconds,
          nodeLiveness: config.nodeLivenessTtlSeconds,
        },
        // What a process owns is keyed by its instance id: with WORKERS > 1 each worker
        // lives and dies on its own, and the reaper must be able to tell them apart.
        config.instanceId,
      );
      const reaper = new Reaper(client, config.reaperIntervalMs);
      const writeBack = new WriteBack(ctx, store, reaper.scripts, this.#local, changed);
      this.#shared = { store, writeBack, liveness: new Liveness(ctx, store, reaper, writeBack, changed) };
    }
    this.#broadcaster = new PresenceBroadcaster(
      PRESENCE_BROADCAST_INTERVAL_MS,
      (regionIds) => this.#counts(regionIds),
      publisher,
      (error) => ctx.log.warn({ err: error }, "presence broadcast failed"),
    );
  }

  start(): void {
    this.#broadcaster.start();
    this.#shared?.liveness.start();
  }

  async stop(): Promise<void> {
    await this.#broadcaster.stop();
    await this.#shared?.liveness.stop();
  }

  // ── socket lifecycle ─────────────────────────────────────────────────────────────────────

  async connect(input: { socketId: string; userId: string; userAgent: string; connectedAt: string }): Promise<void> {
    const session = newSession({ ...input, nodeId: this.ctx.config.nodeId });
    this.#local.put(session);
    await this.#upsert("connect", session);
  }

  /** Applies a location; `null` when the socket is already gone. */
  async location(socketId: string, position: { latitude: number; longitude: number }): Promise<LocationMove | null> {
    const current = this.#local.get(socketId);
    if (!current) return null;
    const move = applyLocation(current, position, this.ctx.config.regionPrecision, new Date());
    this.#local.put(move.session);
    if (move.leftRegionId !== null) this.#local.markUnsyncedLeave(socketId, move.leftRegionId);
    if (move.previousRegionId !== move.session.currentRegionId) {
      this.#broadcaster.mark(move.leftRegionId);
      this.#broadcaster.depart(move.previousRegionId, socketId);
      if (move.session.currentRegionId !== null) this.#broadcaster.arrive(move.session.currentRegionId, socketId);
    }
    await this.#upsert("location", move.session);
    return move;
  }

  async heartbeat(socketId: string): Promise<void> {
    const current = this.#local.get(socketId);
    if (!current) return;
    const session = touch(current, new Date());
    this.#local.put(session);
    await this.#upsert("heartbeat", session);
  }

  async disconnect(socketId: string): Promise<void> {
    const session = this.#local.delete(socketId);
    if (!session) return;
    this.#broadcaster.mark(session.currentRegionId);
    this.#broadcaster.depart(session.currentRegionId, socketId);
    const shared = this.#shared;
    if (shared) await shared.writeBack.write("disconnect", () => shared.store.remove(session));
  }

  // ── the store in use ─────────────────────────────────────────────────────────────────────

  /** Redis while it answers, else this node's own view. */
  #store(): PresenceStore {
    return this.#shared !== null && this.ctx.redis.available ? this.#shared.store : this.#memory;
  }

  /** Writes one socket's state to Redis; the memory view already holds it (LocalPresence). */
  async #upsert(op: PresenceOp, session: Session): Promise<void> {
    const shared = this.#shared;
    if (!shared) return;
    const left = this.#local.unsyncedLeft(session.socketId);
    const ok = await shared.writeBack.write(op, () => shared.store.upsert(session, left, Date.now()));
    if (ok) this.#local.markSynced(session.socketId, left);
  }

  async #counts(regionIds: string[]): Promise<Map<string, RegionPush>> {
    const store = this.#store();
    if (store !== this.#memory) {
      try {
        const pushes = await store.regionPushes(regionIds);
        // Redis knows again what was pushed; this node's record of an earlier outage is stale.
        this.#memory.forgetPushes();
        return pushes;
      } catch (error) {
        this.ctx.redis.reportFailure(error);
        // Fall through to this node's own view.
      }
    }
    return await this.#memory.regionPushes(regionIds);
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────

  /**
   * The connections an account holds across the cluster (`user:{userId}:sessions`), for the cap on
   * connections per account. While Redis is away, this node's own count: each node then caps alone.
   */
  async accountSockets(userId: string): Promise<number> {
    const store = this.#store();
    if (store !== this.#memory) {
      try {
        return await store.accountSockets(userId);
      } catch (error) {
        this.ctx.redis.reportFailure(error);
      }
    }
    return await this.#memory.accountSockets(userId);
  }

  /**
   * How many devices are in each of these regions: across the cluster from Redis, or while Redis is
   * away this node's own (`clusterWide: false`: the ops map says so instead of showing a wrong count
   * as the cluster's).
   */
  async regionCounts(regionIds: string[]): Promise<{ counts: number[]; clusterWide: boolean }> {
    const store = this.#store();
    if (store !== this.#memory) {
      try {
        return { counts: await store.regionCounts(regionIds), clusterWide: true };
      } catch (error) {
        this.ctx.redis.reportFailure(error);
      }
    }
    return { counts: await this.#memory.regionCounts(regionIds), clusterWide: false };
  }

  /**
   * The devices in a region across every node, from `region:{id}:members`; the member list too when
   * asked (admins). Without Redis the cluster-wide answer is unknown, and this node's own count
   * would be a wrong answer: StorageUnavailable.
   */
  async region(regionId: string, withMembers: boolean): Promise<RegionPresence> {
    const unavailable = () =>
      new AppError(ErrorCodes.StorageUnavailable, "Presence is unavailable while Redis is unreachable");
    const store = this.#store();
    if (!store.clusterWide) throw unavailable();
    const end = this.ctx.metrics.redisCommandDuration.startTimer({ op: "region_query" });
    try {
      if (withMembers) {
        const members = await store.regionMembers(regionId);
        return { regionId, count: members.length, members };
      }
      return { regionId, count: await store.regionCount(regionId) };
    } catch (error) {
      this.ctx.redis.reportFailure(error);
      this.ctx.metrics.presenceOps.inc({ op: "region_query", outcome: "error" });
      throw unavailable();
    } finally {
      end();
    }
  }
}

export interface RegionPresence {
  regionId: string;
  count: number;
  members?: RegionMember[];
}
