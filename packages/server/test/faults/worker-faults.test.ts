import { describe, expect, it } from "vitest";
import { faultStackPerFile, missedTargets } from "../support/fault-figures.js";

/** One worker of a `WORKERS=2` node SIGKILLed under a fleet (targets as in backing-faults.test.ts). */
describe("a node's worker dies under a fleet", { timeout: 240_000 }, () => {
  const { stack, runFor } = faultStackPerFile({ name: "workers", nodes: 2, env: { WORKERS: "2" } });

  it("a worker SIGKILLed: its primary replaces it, its devices are answered again within 10 s", async () => {
    const run = await runFor("worker-kill");
    const workers = stack().workerPids(0);
    expect(workers).toHaveLength(2);
    const killedAt = Date.now();
    process.kill(workers[0] as number, "SIGKILL");
    const figures = await run.measure("worker SIGKILLed (WORKERS=2)", killedAt);
    // The node is whole again: two workers, the killed one replaced.
    const now = stack().workerPids(0);
    expect(now).toHaveLength(2);
    expect(now).not.toContain(workers[0]);
    expect(missedTargets(figures)).toEqual({});
  });
});
