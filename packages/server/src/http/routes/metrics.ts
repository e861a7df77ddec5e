import cluster from "node:cluster";
import type { FastifyInstance } from "fastify";
import { fetchClusterMetrics } from "../../cluster/metrics-ipc.js";
import type { NodeContext } from "../../context.js";
import { NOT_RATE_LIMITED } from "../rate-limit.js";

export async function metricsRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    "/metrics",
    {
      schema: { tags: ["operations"], summary: "Prometheus metrics of this node", hide: true },
      config: NOT_RATE_LIMITED,
    },
    async (_request, reply) => {
      // A cluster worker answers for the whole node: the primary merges every worker's metrics.
      const body = cluster.isWorker ? await fetchClusterMetrics() : await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(body);
    },
  );
}
