import type { Health } from "@roadpulse/protocol";
import type { NodeContext } from "./context.js";
import { reportBackends } from "./metrics/backends.js";

/**
 * The health check's Redis PING doubles as a latency sample (op "ping"): probes from nginx, Docker
 * and the kubelet keep the Redis panel alive even before any presence traffic. Only answered pings
 * are recorded; a refused one takes no time worth charting.
 */
async function timedRedisPing(ctx: NodeContext): Promise<boolean> {
  const started = process.hrtime.bigint();
  const up = await ctx.redis.ping();
  if (up) ctx.metrics.redisCommandDuration.observe({ op: "ping" }, Number(process.hrtime.bigint() - started) / 1e9);
  return up;
}

/**
 * Reads every backing service for real and sums them up as the Redis integration guide shows:
 * MongoDB is `connected` when its indexes are in place and a read by primary key answers within a
 * second (what every request needs, not just a `ping`, which a stalled store still answers);
 * Redis when a PING does. Redis down is `degraded` but still 200: the node
 * serves its own clients without it. 503 means "send traffic elsewhere": the node is shutting down,
 * Socket.IO is not accepting, or MongoDB (users, durable acks) is unreachable.
 */
export async function readHealth(ctx: NodeContext): Promise<{ statusCode: 200 | 503; body: Health }> {
  const [mongoUp, redisUp] = await Promise.all([ctx.mongo.serving(), timedRedisPing(ctx)]);
  const redis = ctx.redis.state === "disabled" ? "disabled" : redisUp ? "connected" : "disconnected";
  const services: Health["services"] = {
    mongodb: mongoUp ? "connected" : "disconnected",
    redis,
    socketio: ctx.state.socketsActive && !ctx.state.draining ? "active" : "inactive",
  };
  const healthy = services.mongodb === "connected" && services.redis !== "disconnected";
  reportBackends(ctx.metrics, { mongodb: mongoUp, redis });
  const canServe = !ctx.state.draining && services.socketio === "active" && mongoUp;
  return {
    statusCode: canServe ? 200 : 503,
    body: {
      status: healthy && canServe ? "ok" : "degraded",
      timestamp: new Date().toISOString(),
      node: ctx.config.nodeId,
      services,
    },
  };
}
