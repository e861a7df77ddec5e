import { HealthSchema } from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";
import { readHealth } from "../../health.js";
import { NOT_RATE_LIMITED } from "../rate-limit.js";

export async function healthRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    "/health",
    {
      schema: {
        tags: ["operations"],
        summary: "Liveness and readiness of this node and its backing services",
        response: { 200: HealthSchema, 503: HealthSchema },
      },
      config: NOT_RATE_LIMITED,
    },
    async (_request, reply) => {
      const { statusCode, body } = await readHealth(ctx);
      return reply.code(statusCode).send(body);
    },
  );
}
