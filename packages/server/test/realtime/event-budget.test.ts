import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from "vitest";
import { EventBudget } from "../../src/realtime/event-budget.js";
import { emitAck, HERE, observation } from "../support/devices.js";
import {
  connectDevice,
  dropDatabase,
  limitsBitten,
  register,
  startTestNode,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";
import { StallProxy } from "../support/stall-proxy.js";

describe("a connection's event budget", () => {
  const limits = { ratePerSecond: 5, burst: 10, disconnectAfter: 4, windowMs: 10_000, maxInFlight: 2 };

  it.each([
    ["a burst up to its size", [[0, 10]], { ok: 10, limited: 0, abuse: 0 }],
    ["one past the burst", [[0, 11]], { ok: 10, limited: 1, abuse: 0 }],
    [
      "refilled at its rate",
      [
        [0, 10],
        [1_000, 6],
      ],
      { ok: 15, limited: 1, abuse: 0 },
    ],
    [
      "never past its burst",
      [
        [0, 1],
        [60_000, 12],
      ],
      { ok: 11, limited: 2, abuse: 0 },
    ],
    ["abusive after 4 refusals in 10 s", [[0, 14]], { ok: 10, limited: 3, abuse: 1 }],
    [
      "3 refusals in each of two 10 s windows",
      [
        [0, 13],
        [10_001, 13],
      ],
      { ok: 20, limited: 6, abuse: 0 },
    ],
  ] as const)("lets through %s", (_, bursts, expected) => {
    const budget = new EventBudget(limits, 0);
    const seen = { ok: 0, limited: 0, abuse: 0 };
    for (const [at, events] of bursts) {
      for (let i = 0; i < events; i++) seen[budget.take(at)] += 1;
    }
    expect(seen).toEqual(expected);
  });
});

describe("events in flight on one connection", () => {
  it("are bounded: one more only once one is answered", () => {
    const budget = new EventBudget(
      { ratePerSecond: 5, burst: 10, disconnectAfter: 4, windowMs: 10_000, maxInFlight: 2 },
      0,
    );
    expect([budget.begin(), budget.begin(), budget.begin()]).toEqual([true, true, false]);
    budget.end();
    expect(budget.begin()).toBe(true);
  });

  it("past the bound, are answered RATE_LIMITED at once while the store stalls", async () => {
    const proxy = await StallProxy.start(Number(new URL(inject("mongoBaseUri")).port));
    onTestFinished(() => proxy.stop());
    const node = await startTestNode({
      MONGODB_URI: `mongodb://127.0.0.1:${proxy.port}/${uniqueDbName()}`,
      MONGODB_TIMEOUT_MS: "3000",
      SOCKET_MAX_IN_FLIGHT: "2",
    });
    onTestFinished(() => node.close());
    const device = await connectDevice(node.url, (await register(node.url, "piler")).token);
    onTestFinished(() => {
      device.close();
    });
    proxy.stall();
    const started = Date.now();
    const acks = Array.from({ length: 5 }, () =>
      emitAck(device, "observations:submit", { observations: [observation(HERE)] }).then((ack) => ({
        ack,
        ms: Date.now() - started,
      })),
    );
    const answered = await Promise.all(acks);
    proxy.resume();
    const refused = answered.filter(({ ack }) => (ack.error as { code?: string } | undefined)?.code === "RATE_LIMITED");
    expect(refused).toHaveLength(3);
    // Refused at once, not after the store's deadline like the two that waited for it.
    for (const { ms } of refused) expect(ms).toBeLessThan(1_000);
    expect(refused[0]?.ack).toEqual({
      ok: false,
      error: {
        code: "RATE_LIMITED",
        message: "Too many events waiting for an answer on this connection; wait for their acks",
      },
    });
  });
});

describe("events past a connection's budget, through a node", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({
      SOCKET_EVENTS_PER_SECOND: "5",
      SOCKET_EVENT_BURST: "10",
      SOCKET_ABUSE_DISCONNECT_AFTER: "100",
    });
  });
  afterAll(async () => {
    await node?.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });

  it("are answered RATE_LIMITED, and the connection is served again once it slows down", async () => {
    const device = await connectDevice(node.url, (await register(node.url, "flood")).token);
    onTestFinished(() => {
      device.close();
    });
    const acks = await Promise.all(Array.from({ length: 40 }, () => emitAck(device, "location:update", HERE)));
    const limited = acks.filter((ack) => !ack.ok);
    // The burst, plus what refilled while the 40 were read (5 a second).
    expect(acks.filter((ack) => ack.ok).length).toBeGreaterThanOrEqual(10);
    expect(limited.length).toBeGreaterThanOrEqual(25);
    for (const ack of limited) {
      expect(ack).toEqual({
        ok: false,
        error: { code: "RATE_LIMITED", message: "Too many events on this connection; slow down" },
      });
    }
    expect(await limitsBitten(node, "socket_events")).toBeGreaterThanOrEqual(limited.length);
    expect(device.connected).toBe(true);

    // A second at the budget's pace refills 5 events.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await emitAck(device, "location:update", HERE)).toMatchObject({ ok: true });
  });

  it("closes a connection that keeps flooding, and it does not come back by itself", async () => {
    const device = await connectDevice(node.url, (await register(node.url, "abuser")).token, { reconnection: true });
    onTestFinished(() => {
      device.close();
    });
    const closed = new Promise<string>((resolve) => device.once("disconnect", resolve));
    const before = await limitsBitten(node, "socket_abuse");
    for (let i = 0; i < 200; i++) device.emit("heartbeat", {}, () => undefined);
    expect(await closed).toBe("io server disconnect");
    expect(device.active).toBe(false);
    expect(await limitsBitten(node, "socket_abuse")).toBe(before + 1);
  });
});
