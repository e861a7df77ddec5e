import { type Health, HealthSchema } from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";

/**
 * Reads every backing service for real (a MongoDB ping and a Redis PING, both bounded) and sums
 * them up as the Redis integration guide shows. Redis down is `degraded` but still 200: the node
 * serves its own clients without it. 503 means "send traffic elsewhere": the node is shutting down,
 * Socket.IO is not accepting, or MongoDB (users, durable acks) is unreachable.
 */
export async function readHealth(ctx: NodeContext): Promise<{ statusCode: 200 | 503; body: Health }> {
  const [mongoUp, redisUp] = await Promise.all([ctx.mongo.ping(), ctx.redis.ping()]);
  const redis = ctx.redis.state === "disabled" ? "disabled" : redisUp ? "connected" : "disconnected";
  const services: Health["services"] = {
    mongodb: mongoUp ? "connected" : "disconnected",
    redis,
    socketio: ctx.state.socketsActive && !ctx.state.draining ? "active" : "inactive",
  };
  const healthy = services.mongodb === "connected" && services.redis !== "disconnected";
  ctx.metrics.degraded.set(healthy ? 0 : 1);
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

export async function healthRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    "/health",
    {
      schema: {
        tags: ["operations"],
        summary: "Liveness and readiness of this node and its backing services",
        response: { 200: HealthSchema, 503: HealthSchema },
      },
    },
    async (_request, reply) => {
      const { statusCode, body } = await readHealth(ctx);
      return reply.code(statusCode).send(body);
    },
  );
}
