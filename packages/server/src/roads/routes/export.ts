import { type ExportQuery, ExportQuerySchema, type SegmentSummary, SegmentSummarySchema } from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ApiRoutes } from "../../http/app.js";
import { page } from "../../http/pagination.js";
import type { Roads } from "../index.js";
import type { SegmentQuery } from "../reads.js";
import { segmentSummary } from "../summaries.js";

const FeatureCollectionSchema = Type.Object({
  type: Type.Literal("FeatureCollection"),
  features: Type.Array(
    Type.Object({
      type: Type.Literal("Feature"),
      id: Type.String(),
      geometry: Type.Object({ type: Type.Literal("Point"), coordinates: Type.Array(Type.Number()) }),
      properties: Type.Omit(SegmentSummarySchema, ["id", "latitude", "longitude"]),
    }),
  ),
  /** Cursor of the next page (`after`), `null` on the last one; also in the `Link` header. */
  next: Type.Union([Type.String(), Type.Null()]),
});

const CSV_COLUMNS = [
  "id",
  "latitude",
  "longitude",
  "axis",
  "samples",
  "count",
  "devices",
  "meanIri",
  "class",
  "confidence",
  "confident",
  "smoothness",
  "lastObservedAt",
] as const satisfies ReadonlyArray<keyof SegmentSummary>;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Pagination for non-JSON bodies: RFC 8288 `Link: <…>; rel="next"`. */
function linkNext(reply: FastifyReply, path: string, query: ExportQuery, next: string | null): void {
  if (next === null) return;
  const params = new URLSearchParams({ bbox: query.bbox, after: next });
  if (query.limit !== undefined) params.set("limit", String(query.limit));
  reply.header("link", `</api/export/${path}?${params.toString()}>; rel="next"`);
}

/**
 * Open-data export of segments in a bounding box: GeoJSON (points at the cell centres) and CSV, both
 * paginated like the JSON API (`limit` ≤ 5000, `after` cursor). OSM `smoothness` is filled for
 * confident segments only.
 */
export function exportRoutes(roads: Roads): ApiRoutes {
  const read = async (query: SegmentQuery, limit: number) =>
    page(await roads.reads.segments(query, limit + 1), limit, (doc) => doc._id);
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: ExportQuery }>(
      "/export/segments.geojson",
      {
        schema: {
          tags: ["open data"],
          summary: "Segments in a bounding box as a GeoJSON FeatureCollection",
          querystring: ExportQuerySchema,
          response: { 200: FeatureCollectionSchema, 400: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } },
        },
      },
      async (request, reply) => {
        const { items, next } = await read(request.query, request.query.limit ?? 1000);
        linkNext(reply, "segments.geojson", request.query, next);
        reply.type("application/geo+json");
        return {
          type: "FeatureCollection" as const,
          features: items.map((doc) => {
            const { id, latitude, longitude, ...properties } = segmentSummary(doc);
            return {
              type: "Feature" as const,
              id,
              geometry: { type: "Point" as const, coordinates: [longitude, latitude] },
              properties,
            };
          }),
          next,
        };
      },
    );

    app.get<{ Querystring: ExportQuery }>(
      "/export/segments.csv",
      {
        schema: {
          tags: ["open data"],
          summary: "Segments in a bounding box as CSV (header row first; next page in the Link header)",
          querystring: ExportQuerySchema,
          produces: ["text/csv"],
          response: { 200: Type.String(), 400: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } },
        },
      },
      async (request, reply) => {
        const { items, next } = await read(request.query, request.query.limit ?? 1000);
        linkNext(reply, "segments.csv", request.query, next);
        const lines = [CSV_COLUMNS.join(",")];
        for (const doc of items) {
          const summary = segmentSummary(doc);
          lines.push(CSV_COLUMNS.map((column) => csvCell(summary[column])).join(","));
        }
        reply.type("text/csv; charset=utf-8");
        return `${lines.join("\n")}\n`;
      },
    );
  };
}
