import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { StorageUnavailableError } from "../errors.js";
import type { Logger } from "../log.js";
import { Keys } from "../presence/keys.js";
import type { RedisConnection } from "../redis/connection.js";

/** Extends or releases the lock while it holds our token (contract at the top of fold-lock.lua). */
const SCRIPT = readFileSync(new URL("./fold-lock.lua", import.meta.url), "utf8");

/** The fold lock cannot be taken because Redis is away: the round waits (said once per outage). */
export class FoldLockUnavailableError extends StorageUnavailableError {
  constructor() {
    super("Redis unavailable: aggregate folds wait for the cluster-wide lock");
  }
}

/**
 * One aggregator at a time in the whole cluster writes folds, lanes and journal claims (and the
 * other writes of road documents: hazard statuses after a round, ML scores, hazard votes).
 *
 * FerretDB 1.24 on SQLite does not isolate concurrent updates of one document: measured, 3 clients
 * each `$inc`-ing 20 documents 20 times left counts between 27 and 60 instead of 60, and a
 * conditional update (`{_id, claim}`) is no compare-and-set under concurrency either. So two nodes
 * folding rounds into the same segment at the same instant lose one of the increments, and two
 * nodes taking over the same stale lane or journal entry could both win. Holding this Redis lock
 * (`SET NX PX`, extended while held, freed by token) around those writes makes them sequential.
 * MongoDB 7 isolates single-document updates and needs none of this, but the rule is the same on
 * every backend. With `REDIS_URL=off` (one node, no cluster) the node writes unlocked. While a
 * configured Redis is away, folds wait for it: two nodes folding unlocked during a 10 s Redis pause
 * lost 125 observations from the aggregates (the fault suite). Observations are still stored and
 * acked meanwhile; they reach the road map when Redis is back (docs/road-aggregates.md).
 */
export class FoldLock {
  #warned = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly log: Logger,
    /** Time to live of the lock; a holder that dies blocks the others this long at most. */
    private readonly ttlMs: number,
  ) {}

  /**
   * `hold`, except that while a configured Redis is away `work` runs without the lock instead of
   * failing: for a write a person waits for (a hazard vote), which may do without it then, since
   * the rounds it must not meet wait for Redis themselves.
   */
  async holdUnlessAway<T>(work: (keep: () => Promise<void>) => Promise<T>): Promise<T> {
    if (this.redis.client !== null && !this.redis.available) return await work(async () => undefined);
    return await this.hold(work);
  }

  /**
   * Runs `work` holding the lock. `work` gets a `keep()` to call before each store write: it
   * extends the lock when a third of its time to live has passed, and throws if the lock was lost.
   * Waits for the lock up to its time to live, then throws StorageUnavailableError (retry later).
   */
  async hold<T>(work: (keep: () => Promise<void>) => Promise<T>): Promise<T> {
    const client = this.redis.client;
    if (client === null) return await work(async () => undefined);
    if (!this.redis.available) {
      if (!this.#warned) {
        this.log.warn("Redis unavailable: aggregate folds wait for it (observations are still stored and acked)");
      }
      this.#warned = true;
      throw new FoldLockUnavailableError();
    }
    this.#warned = false;
    const token = randomBytes(12).toString("hex");
    const deadline = performance.now() + this.ttlMs;
    while ((await client.set(Keys.foldLock, token, "PX", this.ttlMs, "NX")) !== "OK") {
      if (performance.now() > deadline) throw new StorageUnavailableError("aggregate fold lock stayed busy");
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    }
    let extendedAt = performance.now();
    const keep = async () => {
      if (performance.now() - extendedAt < this.ttlMs / 3) return;
      const at = performance.now();
      if ((await client.eval(SCRIPT, 1, Keys.foldLock, token, String(this.ttlMs))) !== 1) {
        throw new Error("aggregate fold lock lost");
      }
      extendedAt = at;
    };
    try {
      return await work(keep);
    } finally {
      await client.eval(SCRIPT, 1, Keys.foldLock, token, "release").catch(() => undefined);
    }
  }
}
