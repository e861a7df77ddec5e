import { fetchHealth, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import { faultStackPerFile, missedTargets } from "../support/fault-figures.js";

/**
 * Redis and the store restarted and paused while a fleet of 50 devices drives a two-node cluster:
 * nothing acknowledged is lost, no ack says "stored" for what is not, devices are answered again
 * within 10 s of the fault's end, Redis holds no ghost 30 s later, and every stored observation is
 * counted once in the aggregates. Figures: support/fault-figures.ts; `pnpm faults` prints them.
 */
describe("faults of Redis and the store under a fleet", { timeout: 360_000 }, () => {
  const { stack, runFor } = faultStackPerFile({
    name: "backing",
    nodes: 2,
    // Shorter than the pauses below, so store calls in flight when the store stops hit their
    // deadline while it is stopped (the outcome the store never confirmed).
    env: { MONGODB_TIMEOUT_MS: "3000" },
  });

  it("the store paused 10 s: no ok ack while it is stopped, every node ok within 10 s after", async () => {
    const run = await runFor("store-pause");
    const { fleet } = run;
    const { pausedAt, continuedAt } = await stack().pause(stack().store.service?.pid, 10_000);
    await waitFor("every node to report ok again", () => stack().everyNodeOk(), 10_000, 100);
    expect(Date.now() - continuedAt).toBeLessThan(10_000);
    // The fault was felt: batches sent during the pause got no "stored" answer while it lasted.
    const sentDuringPause = fleet.acks.filter(
      (ack) => ack.event === "observations:submit" && ack.sentAt >= pausedAt && ack.sentAt < continuedAt,
    );
    expect(sentDuringPause.length).toBeGreaterThan(0);
    expect(sentDuringPause.filter((ack) => ack.ok && ack.sentAt + ack.ms < continuedAt)).toEqual([]);

    const figures = await run.measure("store paused 10 s (SIGSTOP)", continuedAt);
    expect(missedTargets(figures)).toEqual({});
  });

  it("the store killed and restarted by its supervisor: nothing acknowledged is lost", async () => {
    const run = await runFor("store-restart");
    await stack().killStore();
    const figures = await run.measure("store killed, restarted", Date.now());
    expect(stack().supervisorLog.join("\n")).toMatch(/exited .*; restarting it/);
    expect(missedTargets(figures)).toEqual({});
  });

  it("Redis paused 10 s: locations answered within 2 s from memory, sessions written back", async () => {
    const run = await runFor("redis-pause");
    const { fleet } = run;
    const midPause = (async () => {
      // Mid-pause, a node says it serves degraded (HTTP 200), not that it is down.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      return await fetchHealth(stack().cluster.node(0).url);
    })();
    const { pausedAt, continuedAt } = await stack().pause(stack().redis.service?.pid, 10_000);
    expect((await midPause).status).toBe(200);
    expect((await midPause).body).toMatchObject({ status: "degraded", services: { redis: "disconnected" } });
    const locations = fleet.acks.filter(
      (ack) => ack.event === "location:update" && ack.sentAt >= pausedAt && ack.sentAt < continuedAt,
    );
    expect(locations.length).toBeGreaterThan(50);
    expect(locations.filter((ack) => !ack.ok || ack.ms >= 2_000)).toEqual([]);
    await expectSessionsWrittenBack(fleet.devices.map((device) => device.id));

    const figures = await run.measure("Redis paused 10 s (SIGSTOP)", continuedAt);
    expect(missedTargets(figures)).toEqual({});
  });

  it("Redis restarted empty: every live session is written back, no ghost is left", async () => {
    const run = await runFor("redis-restart");
    const { fleet } = run;
    await stack().restartRedis();
    const restartedAt = Date.now();
    await expectSessionsWrittenBack(fleet.devices.map((device) => device.id));
    const figures = await run.measure("Redis restarted (empty)", restartedAt);
    expect(missedTargets(figures)).toEqual({});
  });

  async function expectSessionsWrittenBack(ids: Array<string | undefined>): Promise<void> {
    const client = new Redis(stack().redis.url);
    onTestFinished(() => {
      client.disconnect();
    });
    await waitFor(
      "every device's session to be in Redis",
      async () => {
        const exists = await Promise.all(ids.map((id) => (id ? client.exists(`session:${id}`) : 0)));
        return exists.every((n) => n === 1);
      },
      15_000,
      250,
    );
  }
});
