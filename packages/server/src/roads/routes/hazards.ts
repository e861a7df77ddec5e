import { type HazardPage, HazardPageSchema, type HazardsQuery, HazardsQuerySchema } from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";
import type { ApiRoutes } from "../../http/app.js";
import { page } from "../../http/pagination.js";
import type { Roads } from "../index.js";
import { hazardSummary } from "../summaries.js";

/** `GET /api/hazards?bbox=…&status=…`: hazards with the status the rules give them now. */
export function hazardRoutes(ctx: NodeContext, roads: Roads): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: HazardsQuery }>(
      "/hazards",
      {
        schema: {
          tags: ["road data"],
          summary: "Hazards in a bounding box, optionally of one status, paginated",
          querystring: HazardsQuerySchema,
          response: { 200: HazardPageSchema, 400: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } },
        },
      },
      async (request): Promise<HazardPage> => {
        const limit = request.query.limit ?? 100;
        const now = ctx.clock();
        const rows = await roads.reads.hazards(request.query, limit + 1, now);
        const { items, next } = page(rows, limit, (doc) => doc._id.toHexString());
        return { items: items.map((doc) => hazardSummary(doc, now)), next };
      },
    );
  };
}
