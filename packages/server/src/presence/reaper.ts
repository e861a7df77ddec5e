import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { Keys } from "./keys.js";
import { ReapScripts } from "./reap-scripts.js";

/** Sockets handled per script call: each call blocks Redis briefly, never for a whole node. */
const BATCH = 500;

export interface ReapReport {
  deadNodeSockets: number;
  expiredSockets: number;
  regionIds: Set<string>;
}

/**
 * Removes what no live socket stands behind: every socket of a node whose liveness key has expired
 * (it died by `kill -9`, lost power, or paused longer than its TTL), and every socket whose
 * heartbeat key has expired. All nodes run it on a timer; a Redis lock (`SET NX PX`, released by
 * token) lets one of them work at a time, so nodes do not repeat each other's scans.
 */
export class Reaper {
  readonly scripts: ReapScripts;

  constructor(
    private readonly redis: Redis,
    /** How long the lock lasts if its holder dies mid-run: one reaper period. */
    private readonly lockMs: number,
  ) {
    this.scripts = new ReapScripts(redis);
  }

  /** One pass; `null` when another node holds the lock. */
  async runOnce(): Promise<ReapReport | null> {
    const token = randomBytes(16).toString("hex");
    const locked = await this.redis.set(Keys.reaperLock, token, "PX", this.lockMs, "NX");
    if (locked !== "OK") return null;
    try {
      return await this.#pass();
    } finally {
      await this.scripts.releaseLock(token);
    }
  }

  async #pass(): Promise<ReapReport> {
    const report: ReapReport = { deadNodeSockets: 0, expiredSockets: 0, regionIds: new Set() };
    const nodeIds = await this.redis.smembers(Keys.nodes);
    if (nodeIds.length === 0) return report;
    const pipeline = this.redis.pipeline();
    for (const nodeId of nodeIds) pipeline.exists(Keys.nodeAlive(nodeId));
    const alive = (await pipeline.exec()) ?? [];
    for (const [i, nodeId] of nodeIds.entries()) {
      const [error, exists] = alive[i] ?? [new Error("no reply"), 0];
      if (error) throw error;
      if (exists === 1) await this.#reapExpired(nodeId, report);
      else await this.#reapDeadNode(nodeId, report);
    }
    return report;
  }

  async #reapDeadNode(nodeId: string, report: ReapReport): Promise<void> {
    for (;;) {
      const result = await this.scripts.reapDeadNode(nodeId, BATCH);
      if (result === null) return;
      report.deadNodeSockets += result.reaped;
      for (const regionId of result.regionIds) report.regionIds.add(regionId);
      if (result.reaped < BATCH) return;
    }
  }

  async #reapExpired(nodeId: string, report: ReapReport): Promise<void> {
    let cursor = "0";
    do {
      const [next, socketIds] = await this.redis.sscan(Keys.nodeSockets(nodeId), cursor, "COUNT", BATCH);
      cursor = next;
      const result = await this.scripts.reapSockets(nodeId, socketIds, "expired");
      report.expiredSockets += result.reaped;
      for (const regionId of result.regionIds) report.regionIds.add(regionId);
    } while (cursor !== "0");
  }
}
