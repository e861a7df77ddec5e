import { ErrorCodes, RegionId } from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../../context.js";
import { presenceOf } from "../../presence/feature.js";
import { requireUser } from "../auth.js";
import { ApiError } from "../errors.js";

const RegionPresenceSchema = Type.Object({
  regionId: Type.String(),
  count: Type.Integer({ minimum: 0 }),
  members: Type.Optional(
    Type.Array(
      Type.Object({
        socketId: Type.String(),
        userId: Type.Union([Type.String(), Type.Null()]),
        nodeId: Type.Union([Type.String(), Type.Null()]),
        lastActivityAt: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  ),
});

/**
 * `GET /api/regions/:regionId/presence`: how many devices are in a region, across every node, read
 * from `region:{id}:members`. Admins also get the member list. Without Redis the cluster-wide answer
 * is unknown, and a node-local count would be a wrong answer, so the route says 503.
 */
export async function presenceRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get<{ Params: { regionId: string } }>(
    "/regions/:regionId/presence",
    {
      schema: {
        tags: ["presence"],
        summary: "Devices currently in a geohash region (member list for admins)",
        security: [{ bearer: [] }],
        params: Type.Object({ regionId: RegionId }, { additionalProperties: false }),
        response: {
          200: RegionPresenceSchema,
          400: { $ref: "HttpError#" },
          401: { $ref: "HttpError#" },
          503: { $ref: "HttpError#" },
        },
      },
    },
    async (request) => {
      const claims = await requireUser(request, ctx);
      const { regionId } = request.params;
      const store = presenceOf(ctx)?.store;
      if (!store || !ctx.redis.available) {
        throw new ApiError(503, ErrorCodes.StorageUnavailable, "Presence is unavailable while Redis is unreachable");
      }
      const end = ctx.metrics.redisCommandDuration.startTimer({ op: "region_query" });
      try {
        if (claims.role === "admin") {
          const members = await store.regionMembers(regionId);
          return { regionId, count: members.length, members };
        }
        return { regionId, count: await store.regionCount(regionId) };
      } catch (error) {
        ctx.redis.reportFailure(error);
        ctx.metrics.presenceOps.inc({ op: "region_query", outcome: "error" });
        throw new ApiError(503, ErrorCodes.StorageUnavailable, "Presence is unavailable while Redis is unreachable");
      } finally {
        end();
      }
    },
  );
}
