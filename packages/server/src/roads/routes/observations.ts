import {
  DEVICE_ID_PATTERN,
  ObservationAckSchema,
  type ObservationBatch,
  ObservationBatchSchema,
} from "@roadpulse/protocol";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { requireReporter } from "../../auth/roles.js";
import type { NodeContext } from "../../context.js";
import type { ApiRoutes } from "../../http/app.js";
import { requireUser } from "../../http/auth.js";
import type { Roads } from "../index.js";

const DeviceHeaders = Type.Object({
  "x-device-id": Type.String({
    pattern: DEVICE_ID_PATTERN,
    description: "the uploading device's id (issued by `POST /api/devices`), as in the Socket.IO handshake",
  }),
});

/** `POST /api/observations`: the offline upload, on the same ingest path as `observations:submit`. */
export function observationRoutes(ctx: NodeContext, roads: Roads): ApiRoutes {
  return async (app: FastifyInstance) => {
    app.post<{ Body: ObservationBatch; Headers: { "x-device-id": string } }>(
      "/observations",
      {
        schema: {
          tags: ["road data"],
          summary: "Upload a batch of up to 500 observations (answered once durable)",
          description:
            "Each item is checked on its own: invalid ones come back in `rejected` with a code, valid ones are " +
            "stored exactly once (a resent id counts as a duplicate). 503 STORAGE_UNAVAILABLE means nothing " +
            "was stored: keep the batch and send it again.",
          security: [{ bearer: [] }],
          headers: DeviceHeaders,
          body: ObservationBatchSchema,
          response: {
            200: Type.Composite([Type.Object({ ok: Type.Literal(true) }), ObservationAckSchema]),
            400: { $ref: "HttpError#" },
            401: { $ref: "HttpError#" },
            403: { $ref: "HttpError#" },
            413: { $ref: "HttpError#" },
            503: { $ref: "HttpError#" },
          },
        },
      },
      async (request) => {
        const claims = await requireUser(request, ctx);
        requireReporter(claims.role);
        const refusal = ctx.devices.refusal(claims.userId, request.headers["x-device-id"]);
        if (refusal !== null) throw refusal;
        const ack = await roads.ingest.submit(request.body.observations, {
          userId: claims.userId,
          deviceId: request.headers["x-device-id"],
        });
        return { ok: true as const, ...ack };
      },
    );
  };
}
