import {
  type DailyPage,
  DailyPageSchema,
  type DailyQuery,
  DailyQuerySchema,
  ErrorCodes,
  MAX_DAILY_SPAN_DAYS,
} from "@roadpulse/protocol";
import type { FastifyInstance } from "fastify";
import { AppError } from "../../errors.js";
import type { ApiRoutes } from "../../http/app.js";
import type { Roads } from "../index.js";

const DAY_MS = 24 * 3600 * 1000;

/** `GET /api/analytics/daily`: one region's daily history, read from `region_daily_stats` only. */
export function analyticsRoutes(roads: Roads): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: DailyQuery }>(
      "/analytics/daily",
      {
        schema: {
          tags: ["road data"],
          summary: `Daily history of a geohash-5 region, from…to inclusive (UTC days, at most ${MAX_DAILY_SPAN_DAYS})`,
          querystring: DailyQuerySchema,
          response: { 200: DailyPageSchema, 400: { $ref: "HttpError#" }, 503: { $ref: "HttpError#" } },
        },
      },
      async (request): Promise<DailyPage> => {
        const { region, from, to } = request.query;
        const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS;
        if (!Number.isFinite(span) || span < 0) {
          throw new AppError(ErrorCodes.ValidationFailed, "from must be a day on or before to");
        }
        if (span >= MAX_DAILY_SPAN_DAYS) {
          throw new AppError(ErrorCodes.ValidationFailed, `at most ${MAX_DAILY_SPAN_DAYS} days per request`);
        }
        const days = await roads.reads.regionDays(region, from, to);
        return {
          region,
          from,
          to,
          items: days.map((d) => ({
            day: d.day,
            observations: d.observations,
            counted: d.counted,
            meanIri: d.counted > 0 ? d.sum / d.counted : null,
            potholes: d.potholes,
            bumps: d.bumps,
          })),
        };
      },
    );
  };
}
