import type { NodeContext } from "../context.js";
import type { Reaper } from "./reaper.js";
import type { RedisPresenceStore } from "./redis-store.js";
import type { WriteBack } from "./write-back.js";

/**
 * This node's life as the cluster sees it: its liveness key refreshed three times per TTL (a node
 * survives two missed ticks: a GC pause, a slow Redis), reaper passes over sessions nobody lives
 * behind, and write-back whenever Redis returns or lost this node's key. On stop the node is marked
 * stopped, so its leftovers go at the reaper's next pass.
 */
export class Liveness {
  readonly #timers: NodeJS.Timeout[] = [];
  #reaping: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly ctx: NodeContext,
    private readonly store: RedisPresenceStore,
    private readonly reaper: Reaper,
    private readonly writeBack: WriteBack,
    /** Regions that lost members to the reaper: their devices are told. */
    private readonly changed: (regionIds: Iterable<string>) => void,
  ) {}

  start(): void {
    const { config, redis } = this.ctx;
    const livenessMs = Math.max(500, Math.floor((config.nodeLivenessTtlSeconds * 1000) / 3));
    this.#every(livenessMs, () => this.#keepAlive());
    this.#every(config.reaperIntervalMs, () => this.reapOnce());
    redis.on("up", this.#onRedisUp);
    if (redis.available) void this.writeBack.restore();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.ctx.redis.off("up", this.#onRedisUp);
    await Promise.allSettled([this.writeBack.stop(), this.#reaping]);
    if (this.ctx.redis.available) {
      // Sockets were disconnected (and removed) before this runs; what is left goes by the reaper.
      await this.store.markStopped().catch(() => undefined);
    }
  }

  /** One reaper pass, if this node gets the lock; regions that lost members are told. */
  async reapOnce(): Promise<void> {
    if (!this.ctx.redis.available || this.#stopped || this.#reaping) return;
    this.#reaping = (async () => {
      try {
        const report = await this.reaper.runOnce();
        if (report === null) return;
        const { metrics, log } = this.ctx;
        metrics.presenceReaped.inc({ reason: "dead_node" }, report.deadNodeSockets);
        metrics.presenceReaped.inc({ reason: "heartbeat_expired" }, report.expiredSockets);
        if (report.deadNodeSockets + report.expiredSockets > 0) {
          log.info(
            { deadNodeSockets: report.deadNodeSockets, expiredSockets: report.expiredSockets },
            "reaped sessions without a live owner",
          );
          this.changed(report.regionIds);
        }
      } catch (error) {
        this.ctx.log.warn({ err: error }, "presence reaper pass failed");
      }
    })();
    await this.#reaping;
    this.#reaping = undefined;
  }

  #onRedisUp = (): void => {
    void this.writeBack.restore();
  };

  #every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async #keepAlive(): Promise<void> {
    if (!this.ctx.redis.available || this.#stopped) return;
    try {
      const existed = await this.store.markAlive(Date.now());
      // No liveness key means Redis was emptied or this node was declared dead (and reaped):
      // either way its sockets must be written back.
      if (!existed || this.writeBack.needed) await this.writeBack.restore();
    } catch (error) {
      this.ctx.redis.reportFailure(error);
      this.ctx.log.debug({ err: error }, "liveness refresh failed");
    }
  }
}
