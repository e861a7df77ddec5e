import type { Redis } from "ioredis";
import { EXPIRY_MS } from "../domain/hazard-rules.js";
import { Keys } from "../presence/keys.js";

/**
 * The passes counted by each hazard (roads/hazard-passes.ts), shared by the nodes, for the rule
 * that a hazard is confirmed only with a report per CONFIRMING_PASSES_PER_REPORT passes.
 *
 * Not a field of the hazard's document: rounds count passes all the time, and a hazard's
 * document is also written by votes and reports at any moment. FerretDB 1.x applies an update by
 * reading the document and writing the whole of it back, with nothing in between held, so of two
 * updates of one hazard at once one may be lost: a pass count written beside a "still there" vote
 * undid the vote. Counted here, passes never touch the document.
 */
export interface PassCounts {
  /** Adds passes (hazard id → passes); returns each of those hazards' totals so far. */
  add(passes: ReadonlyMap<string, number>): Promise<Map<string, number>>;
  /** The totals so far of some hazards; a hazard with none counted is absent. */
  read(ids: readonly string[]): Promise<Map<string, number>>;
  /** Drops the counts of hazards whose status no longer depends on them (confirmed, closed). */
  forget(ids: readonly string[]): Promise<void>;
}

/** A count lives as long as its hazard can stay open without being seen: it is renewed per pass. */
const COUNT_TTL_MS = EXPIRY_MS;

/** One counter per hazard (`hazards:passes:{hazardId}`), so each expires on its own. */
export class RedisPassCounts implements PassCounts {
  constructor(private readonly redis: Redis) {}

  async add(passes: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    const counted = [...passes].filter(([, n]) => n > 0);
    const totals = new Map<string, number>();
    if (counted.length === 0) return totals;
    // One transaction, so no counter is ever left without its expiry.
    const multi = this.redis.multi();
    for (const [id, n] of counted) multi.incrby(Keys.hazardPasses(id), n).pexpire(Keys.hazardPasses(id), COUNT_TTL_MS);
    const replies = (await multi.exec()) ?? [];
    counted.forEach(([id], i) => {
      const [error, total] = replies[2 * i] ?? [new Error("no reply")];
      if (error) throw error;
      totals.set(id, Number(total));
    });
    return totals;
  }

  async read(ids: readonly string[]): Promise<Map<string, number>> {
    const totals = new Map<string, number>();
    if (ids.length === 0) return totals;
    const replies = await this.redis.mget(ids.map((id) => Keys.hazardPasses(id)));
    ids.forEach((id, i) => {
      const reply = replies[i];
      if (reply !== null && reply !== undefined) totals.set(id, Number(reply));
    });
    return totals;
  }

  async forget(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.unlink(...ids.map((id) => Keys.hazardPasses(id)));
  }
}
