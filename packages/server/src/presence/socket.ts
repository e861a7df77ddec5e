import {
  ClientEvents,
  type Heartbeat,
  HeartbeatSchema,
  type LocationUpdate,
  LocationUpdateSchema,
} from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import { handleEvent } from "../realtime/ack.js";
import type { SocketHandlers } from "../realtime/features.js";
import { regionRoom } from "../realtime/rooms.js";
import { createPayloadAjv } from "../validation.js";
import type { PresenceService } from "./service.js";

const ajv = createPayloadAjv();
const validateLocation = ajv.compile<LocationUpdate>(LocationUpdateSchema);
const validateHeartbeat = ajv.compile<Heartbeat>(HeartbeatSchema);

/**
 * Socket.IO side of presence: creates the session on connect, answers `location:update` and
 * `heartbeat`, moves the socket between region rooms, and removes everything on disconnect.
 */
export function presenceSocketHandlers(ctx: NodeContext, presence: PresenceService): SocketHandlers {
  return {
    name: "presence",
    attach(socket) {
      const socketId = socket.id;
      // Events are only read after the session exists locally; its Redis write is sent first, so a
      // location update can never reach Redis before the session it belongs to.
      void presence.connect({
        socketId,
        userId: socket.data.userId,
        userAgent: socket.data.userAgent,
        connectedAt: socket.data.connectedAt,
      });
      socket.once("disconnect", () => void presence.disconnect(socketId));
      handleEvent(socket, ctx, ClientEvents.LocationUpdate, validateLocation, async (payload) => {
        const move = await presence.location(socketId, payload);
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
        await presence.heartbeat(socketId);
        return { serverTime: new Date().toISOString() };
      });
    },
  };
}
