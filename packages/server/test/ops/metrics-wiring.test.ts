import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisInstance, startRedisServer, waitFor } from "@roadpulse/devstack";
import { Ajv } from "ajv";
import { afterEach, describe, expect, it } from "vitest";
import type { NodeContext } from "../../src/context.js";
import { eventListener } from "../../src/realtime/ack.js";
import type { SocketHandlers } from "../../src/realtime/features.js";
import { connectDevice, register, startTestNode, type TestNode, uniqueDbName } from "../support/env.js";
import { parseSamples, scrape, total } from "./support.js";

/** A stand-in feature: one event through the real ack framework (realtime/ack.ts). */
const validateEcho = new Ajv().compile<{ text: string }>({
  type: "object",
  properties: { text: { type: "string" } },
  required: ["text"],
  additionalProperties: false,
});
const echoHandlers = (ctx: NodeContext): SocketHandlers[] => {
  const onEcho = eventListener(ctx, "ops:echo", validateEcho, async (_socket, payload) => ({ echo: payload.text }));
  return [
    {
      name: "ops-echo",
      attach(socket) {
        socket.on("ops:echo", onEcho);
      },
    },
  ];
};

async function samplesOf(node: TestNode) {
  return parseSamples(await scrape(node.metricsUrl));
}

describe("metrics are updated where their events happen", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("counts client events by outcome and times their acks", async () => {
    const node = await startTestNode({}, { extraHandlers: echoHandlers });
    cleanups.push(() => node.close());
    const account = await register(node.url, "ops-acks");
    const socket = await connectDevice(node.url, account.token);
    cleanups.push(async () => socket.disconnect());

    const ok = await socket.timeout(5_000).emitWithAck("ops:echo", { text: "hi" });
    expect(ok).toEqual({ ok: true, echo: "hi" });
    const bad = await socket.timeout(5_000).emitWithAck("ops:echo", { text: 42 });
    expect(bad.ok).toBe(false);

    const samples = await samplesOf(node);
    expect(total(samples, "roadpulse_socket_events_total", { event: "ops:echo", outcome: "ok" })).toBe(1);
    expect(total(samples, "roadpulse_socket_events_total", { event: "ops:echo", outcome: "rejected" })).toBe(1);
    expect(total(samples, "roadpulse_ack_duration_seconds_count", { event: "ops:echo" })).toBe(2);
    expect(total(samples, "roadpulse_ack_duration_seconds_bucket", { event: "ops:echo", le: "+Inf" })).toBe(2);
    expect(total(samples, "roadpulse_connected_sockets")).toBe(1);
  });

  it("counts Redis adapter messages out on the emitting node and in on the receiving one", async () => {
    const prefix = `ops-adapter-${randomBytes(4).toString("hex")}`;
    const emitter = await startTestNode({ ADAPTER_CHANNEL_PREFIX: prefix });
    cleanups.push(() => emitter.close());
    const receiver = await startTestNode({
      ADAPTER_CHANNEL_PREFIX: prefix,
      MONGODB_URI: emitter.env.MONGODB_URI ?? "",
    });
    cleanups.push(() => receiver.close());
    const account = await register(emitter.url, "ops-adapter");
    const device = await connectDevice(receiver.url, account.token);
    cleanups.push(async () => device.disconnect());
    receiver.io.sockets.sockets.get(device.id ?? "")?.join("ops-room");

    let received = 0;
    device.on("ops:broadcast", () => {
      received++;
    });
    // The receiver subscribes to the room's channel asynchronously; emit until it gets through.
    await waitFor(
      "a broadcast from the other node",
      () => {
        if (received > 0) return true;
        emitter.io.to("ops-room").emit("ops:broadcast", { n: 1 });
        return false;
      },
      15_000,
      100,
    );
    const out = total(await samplesOf(emitter), "roadpulse_adapter_messages_total", { direction: "out" });
    const incoming = total(await samplesOf(receiver), "roadpulse_adapter_messages_total", { direction: "in" });
    expect(out).toBeGreaterThanOrEqual(1);
    expect(incoming).toBeGreaterThanOrEqual(1);
  });

  it("turns degraded on when Redis goes away and off when it returns, without any /health call", async () => {
    const redisDir = join(tmpdir(), uniqueDbName("ops-redis"));
    let redis: RedisInstance = await startRedisServer({ dir: redisDir, output: "ignore" });
    const port = redis.port;
    cleanups.push(() => redis.stop());
    const node = await startTestNode({ REDIS_URL: redis.url });
    cleanups.push(() => node.close());

    const gauges = async () => {
      const samples = await samplesOf(node);
      return {
        degraded: total(samples, "roadpulse_degraded"),
        redis: total(samples, "roadpulse_backend_up", { service: "redis" }),
        mongodb: total(samples, "roadpulse_backend_up", { service: "mongodb" }),
      };
    };
    await waitFor("a healthy start", async () => (await gauges()).mongodb === 1);
    expect(await gauges()).toEqual({ degraded: 0, redis: 1, mongodb: 1 });

    await redis.service?.kill();
    await waitFor("degraded after Redis died", async () => {
      const g = await gauges();
      return g.degraded === 1 && g.redis === 0 && g.mongodb === 1;
    });

    redis = await startRedisServer({ port, dir: redisDir, output: "ignore" });
    await waitFor("healthy again once Redis is back", async () => {
      const g = await gauges();
      return g.degraded === 0 && g.redis === 1;
    });
  });
});
