import {
  ErrorCodes,
  SegmentId,
  type SegmentPage,
  SegmentPageSchema,
  SegmentSummarySchema,
  type SegmentsQuery,
  SegmentsQuerySchema,
} from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";
import { roadsOf } from "../../roads/index.js";
import { segmentSummary } from "../../roads/summaries.js";
import type { SegmentDoc } from "../../store/segments.js";
import { parseBbox } from "../bbox.js";
import { ApiError } from "../errors.js";
import { storageCall } from "../storage.js";

const errors = { 400: { $ref: "HttpError#" }, 404: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } };

/** Reads one page (limit + 1 rows tell whether there is a next page). */
export function page<T>(rows: T[], limit: number, key: (row: T) => string): { items: T[]; next: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last !== undefined ? key(last) : null };
}

/** Segments by bounding box or geohash prefix, shared with the export routes. */
export async function readSegments(
  ctx: NodeContext,
  query: { bbox?: string; geohash?: string; after?: string },
  limit: number,
): Promise<{ items: SegmentDoc[]; next: string | null }> {
  if ((query.bbox === undefined) === (query.geohash === undefined)) {
    throw new ApiError(400, ErrorCodes.ValidationFailed, "give exactly one of bbox or geohash");
  }
  const repo = roadsOf(ctx).segmentsRepo;
  const rows = await storageCall(() =>
    query.bbox !== undefined
      ? repo.pageByBox(parseBbox(query.bbox), query.after, limit + 1)
      : repo.pageByGeohash(query.geohash as string, query.after, limit + 1),
  );
  return page(rows, limit, (doc) => doc._id);
}

/** `GET /api/segments` and `GET /api/segments/:id`: open road-quality data, no account needed. */
export async function segmentRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
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
      const { items, next } = await readSegments(ctx, request.query, request.query.limit ?? 100);
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
    async (request) => {
      const doc = await storageCall(() => roadsOf(ctx).segmentsRepo.findById(request.params.id));
      if (doc === null) throw new ApiError(404, ErrorCodes.NotFound, "No data for this segment");
      return segmentSummary(doc);
    },
  );
}
