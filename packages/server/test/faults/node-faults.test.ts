import { fetchHealth, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { describe, expect, it, onTestFinished } from "vitest";
import { faultStackPerFile, missedTargets } from "../support/fault-figures.js";

/**
 * Nodes killed, hung and swapped while a fleet of 50 devices drives a three-node cluster behind
 * nginx (targets as in backing-faults.test.ts).
 */
describe("faults of the nodes under a fleet", { timeout: 360_000 }, () => {
  const { stack, runFor } = faultStackPerFile({ name: "nodes", nodes: 3 });

  it("a node SIGKILLed: its devices are answered elsewhere within 10 s, it is restarted", async () => {
    const run = await runFor("node-kill");
    const victim = stack().cluster.node(1);
    const killedAt = Date.now();
    process.kill(victim.service.pid as number, "SIGKILL");
    const figures = await run.measure("node SIGKILLed", killedAt);
    expect(stack().supervisorLog.join("\n")).toMatch(
      new RegExp(`${victim.nodeId} was killed by a signal; restarting it`),
    );
    await waitFor("the killed node to serve again", () => stack().cluster.nodes[1]?.service.running === true, 30_000);
    expect(missedTargets(figures)).toEqual({});
  });

  it("a node hung 30 s (SIGSTOP): reaped meanwhile, and on waking it serves its devices once", async () => {
    const run = await runFor("node-hang");
    const sleeper = stack().cluster.node(2);
    const redis = new Redis(stack().redis.url);
    onTestFinished(() => {
      redis.disconnect();
    });
    const sockets = `presence:node:${sleeper.nodeId}:sockets`;
    expect(await redis.scard(sockets)).toBeGreaterThan(0);
    // While it sleeps, the others declare it dead and reap its sessions (within 20 s by default).
    const reaped = waitFor(
      "the sleeping node's sessions to be reaped",
      async () => (await redis.scard(sockets)) === 0,
      29_000,
      250,
    );
    const { continuedAt } = await stack().pause(sleeper.service.pid, 30_000);
    await reaped;
    // Awake, it finds itself declared dead and writes back the sessions of the devices still
    // connected to it (measure() checks that none of them is a ghost and none is served twice).
    await waitFor(
      "the woken node to write its sessions back",
      async () => (await redis.scard(sockets)) > 0,
      15_000,
      250,
    );
    const figures = await run.measure("node hung 30 s (SIGSTOP)", continuedAt);
    expect((await fetchHealth(sleeper.url)).body.status).toBe("ok");
    expect(missedTargets(figures)).toEqual({});
  });

  it("nginx reloaded with a node added and one removed, in flight", async () => {
    const run = await runFor("reshape");
    const added = await stack().cluster.addNode();
    // The way back counts from the reload that takes node 1 out, through its graceful stop.
    const reshapedAt = Date.now();
    await stack().cluster.removeNode(0);
    // The removed node's devices came back through nginx, and the new node took its share.
    const redis = new Redis(stack().redis.url);
    onTestFinished(() => {
      redis.disconnect();
    });
    const sockets = `presence:node:${stack().cluster.node(added).nodeId}:sockets`;
    await waitFor("the added node to serve devices", async () => (await redis.scard(sockets)) > 0, 30_000, 250);
    const figures = await run.measure("nginx reload: node added, node removed", reshapedAt);
    expect(missedTargets(figures)).toEqual({});
  });
});
