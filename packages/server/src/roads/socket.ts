import {
  ClientEvents,
  type HazardVote,
  HazardVoteSchema,
  type ObservationBatch,
  ObservationBatchSchema,
} from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { eventListener } from "../realtime/ack.js";
import type { SocketHandlers } from "../realtime/features.js";
import { createPayloadAjv } from "../validation.js";
import type { Roads } from "./index.js";

const ajv = createPayloadAjv();
const validateBatch = ajv.compile<ObservationBatch>(ObservationBatchSchema);
const validateVote = ajv.compile<HazardVote>(HazardVoteSchema);

/**
 * Road data over Socket.IO: `observations:submit` (acked once the batch is durable) and
 * `hazard:vote`, both on the same services as the HTTP routes.
 */
export function roadSocketHandlers(ctx: NodeContext, roads: Roads): SocketHandlers {
  const onSubmit = eventListener(ctx, ClientEvents.ObservationsSubmit, validateBatch, async (socket, payload) =>
    roads.ingest.submit(payload.observations, { userId: socket.data.userId, deviceId: socket.data.deviceId }),
  );
  const onVote = eventListener(ctx, ClientEvents.HazardVote, validateVote, async (socket, payload) => ({
    hazard: await roads.hazards.vote(payload.hazardId, payload.stillThere, socket.data.userId),
  }));
  return {
    name: "roads",
    attach(socket) {
      socket.on(ClientEvents.ObservationsSubmit, onSubmit);
      socket.on(ClientEvents.HazardVote, onVote);
    },
  };
}
