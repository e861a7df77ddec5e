import {
  SegmentId,
  type SegmentPage,
  SegmentPageSchema,
  SegmentSummarySchema,
  type SegmentsQuery,
  SegmentsQuerySchema,
} from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ApiRoutes } from "../../http/app.js";
import { page } from "../../http/pagination.js";
import type { Roads } from "../index.js";
import { segmentSummary } from "../summaries.js";

const errors = { 400: { $ref: "HttpError#" }, 404: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } };

/** `GET /api/segments` and `GET /api/segments/:id`: open road-quality data, no account needed. */
export function segmentRoutes(roads: Roads): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: SegmentsQuery }>(
      "/segments",
      {
        schema: {
          tags: ["road data"],
          summary: "Segments in a bounding box or under a geohash prefix, in key order, paginated",
          querystring: SegmentsQuerySchema,
          response: { 200: SegmentPageSchema, ...errors },
        },
      },
      async (request): Promise<SegmentPage> => {
        const limit = request.query.limit ?? 100;
        const { items, next } = page(await roads.reads.segments(request.query, limit + 1), limit, (doc) => doc._id);
        return { items: items.map(segmentSummary), next };
      },
    );

    app.get<{ Params: { id: string } }>(
      "/segments/:id",
      {
        schema: {
          tags: ["road data"],
          summary: "One segment by key (`<geohash8>.<axis>`)",
          params: Type.Object({ id: SegmentId }, { additionalProperties: false }),
          response: { 200: SegmentSummarySchema, ...errors },
        },
      },
      async (request) => segmentSummary(await roads.reads.segment(request.params.id)),
    );
  };
}
