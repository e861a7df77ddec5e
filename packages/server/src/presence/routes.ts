import { RegionId } from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { NodeContext } from "../context.js";
import type { ApiRoutes } from "../http/app.js";
import { requireUser } from "../http/auth.js";
import type { PresenceService } from "./service.js";

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
export function presenceRoutes(ctx: NodeContext, presence: PresenceService): ApiRoutes {
  return async (app: FastifyInstance) => {
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
        return await presence.region(request.params.regionId, claims.role === "admin");
      },
    );
  };
}
