import {
  ClientEvents,
  type Heartbeat,
  HeartbeatSchema,
  type LocationUpdate,
  LocationUpdateSchema,
  ServerEvents,
} from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { createPayloadAjv } from "../http/validation.js";
import { handleEvent } from "../realtime/ack.js";
import type { RealtimeFeature } from "../realtime/features.js";
import { regionRoom } from "../realtime/rooms.js";
import type { AppSocket } from "../realtime/types.js";
import { PresenceService } from "./service.js";

const ajv = createPayloadAjv();
const validateLocation = ajv.compile<LocationUpdate>(LocationUpdateSchema);
const validateHeartbeat = ajv.compile<Heartbeat>(HeartbeatSchema);

/** One PresenceService per running node (several nodes may run in one process, as in tests). */
const services = new WeakMap<NodeContext, PresenceService>();

export function presenceOf(ctx: NodeContext): PresenceService | undefined {
  return services.get(ctx);
}

/**
 * Socket.IO side of presence: creates the session on connect, answers `location:update` and
 * `heartbeat`, moves the socket between region rooms, and removes everything on disconnect.
 */
export const presenceFeature: RealtimeFeature = {
  name: "presence",

  start(ctx) {
    const service = new PresenceService(ctx, {
      toRegion: (regionId, count) =>
        ctx.io?.to(regionRoom(regionId)).emit(ServerEvents.PresenceUpdated, { regionId, count }),
      // This node's own sockets: no need to ask the other nodes through the adapter.
      toSockets: (socketIds, regionId, count) =>
        ctx.io?.local.to(socketIds).emit(ServerEvents.PresenceUpdated, { regionId, count }),
    });
    services.set(ctx, service);
    service.start();
    return async () => {
      await service.stop();
      services.delete(ctx);
    };
  },

  attach(socket: AppSocket, ctx) {
    const service = services.get(ctx);
    if (!service) throw new Error("presence feature attached before it was started");
    const socketId = socket.id;
    // Events are only read after the session exists locally; its Redis write is sent first, so a
    // location update can never reach Redis before the session it belongs to.
    void service.connect({
      socketId,
      userId: socket.data.userId,
      userAgent: socket.data.userAgent,
      connectedAt: socket.data.connectedAt,
    });
    socket.once("disconnect", () => void service.disconnect(socketId));

    handleEvent(socket, ctx, ClientEvents.LocationUpdate, validateLocation, async (payload) => {
      const move = await service.location(socketId, payload);
      if (move === null) throw new Error("location for a socket without a session");
      const before = move.previousRegionId;
      const after = move.session.currentRegionId;
      if (before !== after) {
        // Left and joined in one step: no update to either region falls in between.
        if (before !== null) socket.leave(regionRoom(before));
        if (after !== null) socket.join(regionRoom(after));
      }
      return { regionId: after };
    });

    handleEvent(socket, ctx, ClientEvents.Heartbeat, validateHeartbeat, async () => {
      await service.heartbeat(socketId);
      return { serverTime: new Date().toISOString() };
    });
  },
};
