import { createHash, timingSafeEqual } from "node:crypto";
import {
  ErrorCodes,
  type MlScoresBody,
  MlScoresBodySchema,
  type MlScoresResult,
  MlScoresResultSchema,
} from "@roadpulse/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NodeContext } from "../../context.js";
import { AppError } from "../../errors.js";
import type { ApiRoutes } from "../../http/app.js";
import { bearerToken } from "../../http/auth.js";
import type { Roads } from "../index.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Constant-time check of `Authorization: Bearer <ML_SERVICE_TOKEN>`; refuses all when it is unset. */
function requireMlService(request: FastifyRequest, ctx: NodeContext): void {
  const expected = ctx.config.mlServiceToken;
  if (expected === null) {
    throw new AppError(ErrorCodes.Forbidden, "The ML hook is disabled on this node (ML_SERVICE_TOKEN is unset)");
  }
  const given = bearerToken(request) ?? "";
  // Hashing first gives equal lengths, so the comparison's time does not reveal the token's length.
  if (!timingSafeEqual(digest(given), digest(expected))) {
    throw new AppError(ErrorCodes.Unauthorized, "A valid ML service token is required");
  }
}

/** `POST /api/ml/segment-scores`: the ML pipeline's scores, stored on segments and pushed live. */
export function mlRoutes(ctx: NodeContext, roads: Roads): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.post<{ Body: MlScoresBody }>(
      "/ml/segment-scores",
      {
        schema: {
          tags: ["ml"],
          summary: "Store a batch of model scores on existing segments",
          description: "Authorization: Bearer <ML_SERVICE_TOKEN>. Unknown segment ids are listed, not created.",
          security: [{ bearer: [] }],
          body: MlScoresBodySchema,
          response: {
            200: MlScoresResultSchema,
            400: { $ref: "HttpError#" },
            401: { $ref: "HttpError#" },
            403: { $ref: "HttpError#" },
            503: { $ref: "HttpError#" },
          },
        },
      },
      async (request): Promise<MlScoresResult> => {
        requireMlService(request, ctx);
        return await roads.reads.scoreSegments(request.body.scores, ctx.clock());
      },
    );
  };
}
