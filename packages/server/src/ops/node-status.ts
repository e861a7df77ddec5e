import type { NodeStatus, NodeStatusList } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { readHealth } from "../health.js";
import { Keys } from "../presence/keys.js";
import { VERSION } from "../version.js";

/**
 * The nodes of the cluster and their health, for the ops map. Each node reads its own health (the
 * same checks as its `/health`) three times per liveness TTL and writes it to
 * `presence:node:{id}:status` with that TTL; any node lists the cluster from `presence:nodes` (the
 * reaper's register) and those reports. A node listed without a report has been silent for a whole
 * TTL: it is shown `unreachable` until the reaper removes it. Without Redis a node knows only
 * itself, and says so (`clusterWide: false`).
 */
export class NodeStatusBoard {
  #timer: NodeJS.Timeout | undefined;
  #own: NodeStatus;
  #reporting: Promise<void> | undefined;

  constructor(
    private readonly ctx: NodeContext,
    /** This node's Socket.IO connections (given by the transport). */
    private readonly connections: () => number,
  ) {
    this.#own = this.#unreachable(ctx.config.instanceId);
  }

  start(): void {
    const everyMs = Math.max(500, Math.floor((this.ctx.config.nodeLivenessTtlSeconds * 1000) / 3));
    void this.report();
    this.#timer = setInterval(() => void this.report(), everyMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#reporting;
    // Gone from the map at once rather than at the end of the TTL.
    await this.ctx.redis.client?.del(Keys.nodeStatus(this.ctx.config.instanceId)).catch(() => undefined);
  }

  /** Reads this node's health and publishes it; one report at a time. */
  report(): Promise<void> {
    this.#reporting ??= this.#report().finally(() => {
      this.#reporting = undefined;
    });
    return this.#reporting;
  }

  async list(): Promise<NodeStatusList> {
    const redis = this.ctx.redis.client;
    if (redis === null || !this.ctx.redis.available) return { nodes: [this.#own], clusterWide: false };
    try {
      const ids = new Set(await redis.smembers(Keys.nodes));
      ids.add(this.ctx.config.instanceId);
      const sorted = [...ids].sort();
      const raws = await redis.mget(sorted.map((id) => Keys.nodeStatus(id)));
      const nodes = sorted.map((id, i) => {
        if (id === this.ctx.config.instanceId) return this.#own;
        const raw = raws[i];
        return raw ? (JSON.parse(raw) as NodeStatus) : this.#unreachable(id);
      });
      return { nodes, clusterWide: true };
    } catch (error) {
      this.ctx.redis.reportFailure(error);
      return { nodes: [this.#own], clusterWide: false };
    }
  }

  async #report(): Promise<void> {
    const { body } = await readHealth(this.ctx);
    this.#own = {
      node: this.ctx.config.instanceId,
      status: body.status,
      services: body.services,
      connections: this.connections(),
      rssBytes: process.memoryUsage.rss(),
      version: VERSION,
      reportedAt: body.timestamp,
    };
    const redis = this.ctx.redis.client;
    if (redis === null || !this.ctx.redis.available) return;
    const ttlMs = this.ctx.config.nodeLivenessTtlSeconds * 1000;
    await redis
      .set(Keys.nodeStatus(this.ctx.config.instanceId), JSON.stringify(this.#own), "PX", ttlMs)
      .catch((error: unknown) => this.ctx.redis.reportFailure(error));
  }

  #unreachable(node: string): NodeStatus {
    return {
      node,
      status: "unreachable",
      services: null,
      connections: 0,
      rssBytes: 0,
      version: "",
      reportedAt: null,
    };
  }
}
