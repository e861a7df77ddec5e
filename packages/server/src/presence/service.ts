import { ErrorCodes } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { isCommandTimeout } from "../redis/connection.js";
import { PresenceBroadcaster, type PresencePublisher } from "./broadcaster.js";
import { LocalPresence } from "./local.js";
import { Reaper } from "./reaper.js";
import { RedisPresenceStore, type RegionMember, type RegionPush } from "./redis-store.js";
import { applyLocation, type LocationMove, newSession, type Session, touch } from "./session.js";

/**
 * How often marked regions are counted for `presence:updated`: a device hears its region's count
 * at most this often. A count of nearby phones needs no more than once a second.
 */
export const PRESENCE_BROADCAST_INTERVAL_MS = 1_000;

type Op = "connect" | "location" | "heartbeat" | "disconnect";

/**
 * One node's presence: its sockets in memory (LocalPresence), mirrored to Redis in the seed's
 * schema, kept alive there (liveness key), reaped when others die (Reaper), and written back when
 * Redis returns. Knows nothing of Socket.IO except the `emit` it is given.
 */
export class PresenceService {
  readonly local = new LocalPresence();
  readonly store: RedisPresenceStore | null;
  readonly #reaper: Reaper | null;
  readonly #broadcaster: PresenceBroadcaster;
  readonly #timers: NodeJS.Timeout[] = [];
  /** Set whenever Redis may disagree with `local` (a write failed or was skipped). */
  #needsRestore = false;
  /** Counts this node pushed while Redis was away (then it cannot ask which were pushed). */
  readonly #pushedLocally = new Map<string, number>();
  #restoring: Promise<void> | undefined;
  #reaping: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly ctx: NodeContext,
    publisher: PresencePublisher,
  ) {
    const { config } = ctx;
    const client = ctx.redis.client;
    this.store =
      client === null
        ? null
        : new RedisPresenceStore(
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
    this.#reaper = client === null ? null : new Reaper(client, config.reaperIntervalMs);
    this.#broadcaster = new PresenceBroadcaster(
      PRESENCE_BROADCAST_INTERVAL_MS,
      (regionIds) => this.#counts(regionIds),
      publisher,
      (error) => ctx.log.warn({ err: error }, "presence broadcast failed"),
    );
  }

  // ── socket lifecycle ─────────────────────────────────────────────────────────────────────

  async connect(input: { socketId: string; userId: string; userAgent: string; connectedAt: string }): Promise<void> {
    const session = newSession({ ...input, nodeId: this.ctx.config.nodeId });
    this.local.put(session);
    await this.#upsert("connect", session);
  }

  /** Applies a location; `null` when the socket is already gone. */
  async location(socketId: string, position: { latitude: number; longitude: number }): Promise<LocationMove | null> {
    const current = this.local.get(socketId);
    if (!current) return null;
    const move = applyLocation(current, position, this.ctx.config.regionPrecision, new Date());
    this.local.put(move.session);
    if (move.leftRegionId !== null) this.local.markUnsyncedLeave(socketId, move.leftRegionId);
    if (move.previousRegionId !== move.session.currentRegionId) {
      this.#broadcaster.mark(move.leftRegionId);
      this.#broadcaster.depart(move.previousRegionId, socketId);
      if (move.session.currentRegionId !== null) this.#broadcaster.arrive(move.session.currentRegionId, socketId);
    }
    await this.#upsert("location", move.session);
    return move;
  }

  async heartbeat(socketId: string): Promise<void> {
    const current = this.local.get(socketId);
    if (!current) return;
    const session = touch(current, new Date());
    this.local.put(session);
    await this.#upsert("heartbeat", session);
  }

  async disconnect(socketId: string): Promise<void> {
    const session = this.local.delete(socketId);
    if (!session) return;
    this.#broadcaster.mark(session.currentRegionId);
    this.#broadcaster.depart(session.currentRegionId, socketId);
    const store = this.store;
    if (store) await this.#write("disconnect", () => store.remove(session));
  }

  /** Region count for this node's own view (used while Redis is away). */
  localCount(regionId: string): number {
    return this.local.regionCount(regionId);
  }

  // ── writes ───────────────────────────────────────────────────────────────────────────────

  async #upsert(op: Op, session: Session): Promise<void> {
    const store = this.store;
    if (!store) return;
    const left = this.local.unsyncedLeft(session.socketId);
    const ok = await this.#write(op, () => store.upsert(session, left, Date.now()));
    if (ok) this.local.markSynced(session.socketId, left);
  }

  /**
   * Sends one presence write when Redis is there. Without Redis the node keeps serving from memory
   * and remembers to write everything back later; a failed write is never the client's problem.
   */
  async #write(op: Op, run: () => Promise<void>): Promise<boolean> {
    const { metrics } = this.ctx;
    if (!this.ctx.redis.available) {
      this.#needsRestore = true;
      metrics.presenceOps.inc({ op, outcome: "degraded" });
      return false;
    }
    const end = metrics.redisCommandDuration.startTimer({ op });
    try {
      await run();
      end();
      metrics.presenceOps.inc({ op, outcome: "ok" });
      return true;
    } catch (error) {
      // A write that timed out still reaches Redis, in order, if the connection lives (and its
      // loss is an `up` that writes everything back): no write-back for it. On a busy machine a
      // late answer is common, and each needless write-back rewrites every local session.
      if (!isCommandTimeout(error)) this.#needsRestore = true;
      this.ctx.redis.reportFailure(error);
      metrics.presenceOps.inc({ op, outcome: "error" });
      this.ctx.log.debug({ err: error, op }, "presence write failed; will write back later");
      return false;
    }
  }

  async #counts(regionIds: string[]): Promise<Map<string, RegionPush>> {
    if (this.store && this.ctx.redis.available) {
      try {
        const pushes = await this.store.regionPushes(regionIds);
        // Redis knows again what was pushed; this node's record of an earlier outage is stale.
        this.#pushedLocally.clear();
        return pushes;
      } catch (error) {
        this.ctx.redis.reportFailure(error);
        // Fall through to this node's own view.
      }
    }
    const pushes = new Map<string, RegionPush>();
    for (const regionId of regionIds) {
      const count = this.local.regionCount(regionId);
      pushes.set(regionId, { count, changed: this.#pushedLocally.get(regionId) !== count });
      // Bounded by the regions this node has devices in.
      if (count === 0) this.#pushedLocally.delete(regionId);
      else this.#pushedLocally.set(regionId, count);
    }
    return pushes;
  }

  // ── background work: liveness, reaping, write-back ───────────────────────────────────────

  start(): void {
    this.#broadcaster.start();
    if (!this.store) return;
    const { config, redis } = this.ctx;
    // Three refreshes per TTL: a node survives two missed ticks (a GC pause, a slow Redis).
    const livenessMs = Math.max(500, Math.floor((config.nodeLivenessTtlSeconds * 1000) / 3));
    this.#every(livenessMs, () => this.#keepAlive());
    this.#every(config.reaperIntervalMs, () => this.reapOnce());
    redis.on("up", this.#onRedisUp);
    if (redis.available) void this.restore();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.ctx.redis.off("up", this.#onRedisUp);
    await this.#broadcaster.stop();
    await Promise.allSettled([this.#restoring, this.#reaping]);
    if (this.store && this.ctx.redis.available) {
      // Sockets were disconnected (and removed) before this runs; what is left goes by the reaper.
      await this.store.markStopped().catch(() => undefined);
    }
  }

  #onRedisUp = (): void => {
    void this.restore();
  };

  #every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async #keepAlive(): Promise<void> {
    const store = this.store;
    if (!store || !this.ctx.redis.available || this.#stopped) return;
    try {
      const existed = await store.markAlive(Date.now());
      // No liveness key means Redis was emptied or this node was declared dead (and reaped):
      // either way its sockets must be written back.
      if (!existed || this.#needsRestore) await this.restore();
    } catch (error) {
      this.ctx.redis.reportFailure(error);
      this.ctx.log.debug({ err: error }, "liveness refresh failed");
    }
  }

  /** One reaper pass, if this node gets the lock; regions that lost members are told. */
  async reapOnce(): Promise<void> {
    const reaper = this.#reaper;
    if (!reaper || !this.ctx.redis.available || this.#stopped || this.#reaping) return;
    this.#reaping = (async () => {
      try {
        const report = await reaper.runOnce();
        if (report === null) return;
        const { metrics } = this.ctx;
        metrics.presenceReaped.inc({ reason: "dead_node" }, report.deadNodeSockets);
        metrics.presenceReaped.inc({ reason: "heartbeat_expired" }, report.expiredSockets);
        if (report.deadNodeSockets + report.expiredSockets > 0) {
          this.ctx.log.info(
            { deadNodeSockets: report.deadNodeSockets, expiredSockets: report.expiredSockets },
            "reaped sessions without a live owner",
          );
          this.#broadcaster.mark(...report.regionIds);
        }
      } catch (error) {
        this.ctx.log.warn({ err: error }, "presence reaper pass failed");
      }
    })();
    await this.#reaping;
    this.#reaping = undefined;
  }

  /**
   * Makes Redis agree with this node again: liveness first, then removes sockets Redis still lists
   * under this node but that are gone (they disconnected while Redis was away, or belong to an
   * earlier process with the same NODE_ID), then writes every live socket back. Runs when Redis
   * comes back (`up`), at start, and whenever a write failed or the liveness key was lost.
   */
  restore(): Promise<void> {
    this.#restoring ??= this.#restore().finally(() => {
      this.#restoring = undefined;
    });
    return this.#restoring;
  }

  async #restore(): Promise<void> {
    const store = this.store;
    const reaper = this.#reaper;
    if (!store || !reaper || !this.ctx.redis.available || this.#stopped) return;
    this.#needsRestore = false;
    const end = this.ctx.metrics.redisCommandDuration.startTimer({ op: "restore" });
    try {
      await store.markAlive(Date.now());
      const owned = await store.ownedSocketIds();
      const gone = owned.filter((socketId) => !this.local.has(socketId));
      let removed = 0;
      for (let i = 0; i < gone.length; i += 500) {
        const result = await reaper.scripts.reapSockets(this.ctx.config.instanceId, gone.slice(i, i + 500), "all");
        removed += result.reaped;
        this.#broadcaster.mark(...result.regionIds);
      }
      const synced: Array<[string, string[]]> = [];
      const written = await store.upsertMany(
        this.local.sessions(),
        (session) => {
          const left = this.local.unsyncedLeft(session.socketId);
          if (left.length > 0) synced.push([session.socketId, left]);
          return left;
        },
        Date.now(),
      );
      for (const [socketId, left] of synced) this.local.markSynced(socketId, left);
      this.#broadcaster.mark(...this.local.regionIds());
      end();
      this.ctx.metrics.presenceOps.inc({ op: "restore", outcome: "ok" });
      if (written + removed > 0) this.ctx.log.info({ written, removed }, "presence written back to Redis");
    } catch (error) {
      this.#needsRestore = true;
      this.ctx.redis.reportFailure(error);
      this.ctx.metrics.presenceOps.inc({ op: "restore", outcome: "error" });
      this.ctx.log.warn({ err: error }, "presence write-back failed; will retry");
    }
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────

  /**
   * The devices in a region across every node, from `region:{id}:members`; the member list too when
   * asked (admins). Without Redis the cluster-wide answer is unknown, and this node's own count
   * would be a wrong answer: StorageUnavailable.
   */
  async region(regionId: string, withMembers: boolean): Promise<RegionPresence> {
    const unavailable = () =>
      new AppError(ErrorCodes.StorageUnavailable, "Presence is unavailable while Redis is unreachable");
    const store = this.store;
    if (store === null || !this.ctx.redis.available) throw unavailable();
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
