import type { NodeContext } from "../context.js";
import { FoldLockUnavailableError } from "./fold-lock.js";
import type { Roads } from "./index.js";

/**
 * How often a node looks for rounds and journal entries left by dead nodes (taken over once they
 * are JOURNAL_STALE_MS old), and for hazards past expiry.
 */
const RECOVERY_INTERVAL_MS = 10_000;
const EXPIRY_SWEEP_INTERVAL_MS = 60_000;

/**
 * The roads' background work, started by the node whatever it serves: recovery of aggregates left
 * by a dead node and the hazard expiry sweep. Both wait for the store's indexes. The returned stop
 * lets the aggregator finish what is queued and leave its lane free.
 */
export function startRoadJobs(ctx: NodeContext, roads: Roads): () => Promise<void> {
  const background = (what: string, work: () => Promise<unknown>) => () => {
    if (!ctx.mongo.indexesReady) return;
    work().catch((error: unknown) => {
      // Redis away: the fold lock said so once; recovery resumes when it is back.
      if (error instanceof FoldLockUnavailableError) return;
      ctx.log.warn({ err: error }, `${what} failed; retrying later`);
    });
  };
  const recovery = setInterval(
    background("aggregate recovery", () => roads.aggregator.recover()),
    RECOVERY_INTERVAL_MS,
  );
  const expiry = setInterval(
    background("hazard expiry sweep", () => roads.hazards.expireDue()),
    EXPIRY_SWEEP_INTERVAL_MS,
  );
  recovery.unref();
  expiry.unref();
  return async () => {
    clearInterval(recovery);
    clearInterval(expiry);
    await roads.aggregator.close();
  };
}
