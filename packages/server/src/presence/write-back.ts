import type { NodeContext } from "../context.js";
import { isCommandTimeout } from "../redis/connection.js";
import type { LocalPresence } from "./local.js";
import type { ReapScripts } from "./reap-scripts.js";
import type { RedisPresenceStore } from "./redis-store.js";

export type PresenceOp = "connect" | "location" | "heartbeat" | "disconnect";

/**
 * Degraded writes and the write-back after them. A presence write goes to Redis when it is there;
 * without Redis the node keeps serving from memory (memory-store.ts) and remembers that Redis may
 * disagree with it. `restore()` then makes Redis agree again: when Redis comes back (`up`), at
 * start, after a failed write, and when the node's liveness key was lost (liveness.ts).
 */
export class WriteBack {
  /** Set whenever Redis may disagree with `local` (a write failed or was skipped). */
  #needed = false;
  #restoring: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly ctx: NodeContext,
    private readonly store: RedisPresenceStore,
    private readonly scripts: ReapScripts,
    private readonly local: LocalPresence,
    /** Regions whose membership the write-back changed: their devices are told. */
    private readonly changed: (regionIds: Iterable<string>) => void,
  ) {}

  get needed(): boolean {
    return this.#needed;
  }

  /**
   * Sends one presence write when Redis is there, else records that a write-back is due; a failed
   * write is never the client's problem. Returns whether Redis took it.
   */
  async write(op: PresenceOp, run: () => Promise<void>): Promise<boolean> {
    const { metrics } = this.ctx;
    if (!this.ctx.redis.available) {
      this.#needed = true;
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
      if (!isCommandTimeout(error)) this.#needed = true;
      this.ctx.redis.reportFailure(error);
      metrics.presenceOps.inc({ op, outcome: "error" });
      this.ctx.log.debug({ err: error, op }, "presence write failed; will write back later");
      return false;
    }
  }

  /**
   * Makes Redis agree with this node again: liveness first, then removes sockets Redis still lists
   * under this node but that are gone (they disconnected while Redis was away, or belong to an
   * earlier process with the same NODE_ID), then writes every live socket back. One at a time.
   */
  restore(): Promise<void> {
    this.#restoring ??= this.#restore().finally(() => {
      this.#restoring = undefined;
    });
    return this.#restoring;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#restoring;
  }

  async #restore(): Promise<void> {
    if (!this.ctx.redis.available || this.#stopped) return;
    const ctx = this.ctx;
    const store = this.store;
    const local = this.local;
    this.#needed = false;
    const end = ctx.metrics.redisCommandDuration.startTimer({ op: "restore" });
    try {
      await store.markAlive(Date.now());
      const owned = await store.ownedSocketIds();
      const gone = owned.filter((socketId) => !local.has(socketId));
      let removed = 0;
      for (let i = 0; i < gone.length; i += 500) {
        const result = await this.scripts.reapSockets(ctx.config.instanceId, gone.slice(i, i + 500), "all");
        removed += result.reaped;
        this.changed(result.regionIds);
      }
      const synced: Array<[string, string[]]> = [];
      const written = await store.upsertMany(
        local.sessions(),
        (session) => {
          const left = local.unsyncedLeft(session.socketId);
          if (left.length > 0) synced.push([session.socketId, left]);
          return left;
        },
        Date.now(),
      );
      for (const [socketId, left] of synced) local.markSynced(socketId, left);
      this.changed(local.regionIds());
      end();
      ctx.metrics.presenceOps.inc({ op: "restore", outcome: "ok" });
      if (written + removed > 0) ctx.log.info({ written, removed }, "presence written back to Redis");
    } catch (error) {
      this.#needed = true;
      ctx.redis.reportFailure(error);
      ctx.metrics.presenceOps.inc({ op: "restore", outcome: "error" });
      ctx.log.warn({ err: error }, "presence write-back failed; will retry");
    }
  }
}
