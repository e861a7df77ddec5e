import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";

export async function metricsRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    "/metrics",
    { schema: { tags: ["operations"], summary: "Prometheus metrics of this node", hide: true } },
    async (_request, reply) => {
      const body = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(body);
    },
  );
}
