import { type HazardPage, HazardPageSchema, type HazardsQuery, HazardsQuerySchema } from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";
import { EXPIRY_MS } from "../../domain/hazard-rules.js";
import { roadsOf } from "../../roads/index.js";
import { hazardSummary } from "../../roads/summaries.js";
import { parseBbox } from "../bbox.js";
import { storageCall } from "../storage.js";
import { page } from "./segments.js";

/** `GET /api/hazards?bbox=…&status=…`: hazards with the status the rules give them now. */
export async function hazardRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
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
      const { bbox, status, after } = request.query;
      const limit = request.query.limit ?? 100;
      const now = ctx.clock();
      const rows = await storageCall(() =>
        roadsOf(ctx).hazardsRepo.pageByBox(
          parseBbox(bbox),
          status,
          new Date(now.getTime() - EXPIRY_MS),
          after,
          limit + 1,
        ),
      );
      const { items, next } = page(rows, limit, (doc) => doc._id.toHexString());
      return { items: items.map((doc) => hazardSummary(doc, now)), next };
    },
  );
}
