import {
  ClientEvents,
  ErrorCodes,
  type HazardVote,
  HazardVoteSchema,
  MAX_SYNC_ITEMS,
  type ObservationBatch,
  ObservationBatchSchema,
  type RegionSync,
  RegionSyncSchema,
} from "@roadpulse/protocol";
import { requireReporter } from "../auth/roles.js";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { eventListener } from "../realtime/ack.js";
import type { SocketHandlers } from "../realtime/features.js";
import { regionOfRooms } from "../realtime/rooms.js";
import { createPayloadAjv } from "../validation.js";
import type { Roads } from "./index.js";

const ajv = createPayloadAjv();
const validateBatch = ajv.compile<ObservationBatch>(ObservationBatchSchema);
const validateVote = ajv.compile<HazardVote>(HazardVoteSchema);
const validateSync = ajv.compile<RegionSync>(RegionSyncSchema);

/**
 * Road data over Socket.IO: `observations:submit` (acked once the batch is durable),
 * `hazard:vote`, both on the same services as the HTTP routes, and `region:sync`, a reconnecting
 * device's catch-up on what changed around it while it was away.
 */
export function roadSocketHandlers(ctx: NodeContext, roads: Roads): SocketHandlers {
  const onSubmit = eventListener(ctx, ClientEvents.ObservationsSubmit, validateBatch, async (socket, payload) => {
    requireReporter(socket.data.role);
    return await roads.ingest.submit(payload.observations, {
      userId: socket.data.userId,
      deviceId: socket.data.deviceId,
    });
  });
  const onVote = eventListener(ctx, ClientEvents.HazardVote, validateVote, async (socket, payload) => {
    requireReporter(socket.data.role);
    return { hazard: await roads.hazards.vote(payload.hazardId, payload.stillThere, socket.data.userId) };
  });
  const onSync = eventListener(ctx, ClientEvents.RegionSync, validateSync, async (socket, payload) => {
    // An observer watches many regions (ops:watch), none of them "its own".
    requireReporter(socket.data.role);
    const regionId = regionOfRooms(socket.rooms);
    if (regionId === null) {
      throw new AppError(ErrorCodes.BadRequest, "region:sync needs the device's region: send location:update first");
    }
    const now = new Date();
    const since = new Date(payload.since);
    if (since.getTime() > now.getTime() + 60_000) {
      throw new AppError(ErrorCodes.ValidationFailed, "since is in the future");
    }
    return await roads.catchUp.since(regionId, since, payload.limit ?? MAX_SYNC_ITEMS, now);
  });
  return {
    name: "roads",
    attach(socket) {
      socket.on(ClientEvents.ObservationsSubmit, onSubmit);
      socket.on(ClientEvents.HazardVote, onVote);
      socket.on(ClientEvents.RegionSync, onSync);
    },
  };
}
