import {
  ClientEvents,
  ErrorCodes,
  type Heartbeat,
  HeartbeatSchema,
  type LocationUpdate,
  LocationUpdateSchema,
} from "@roadpulse/protocol";
import { requireReporter } from "../auth/roles.js";
import type { NodeContext } from "../context.js";
import { AppError } from "../errors.js";
import { eventListener } from "../realtime/ack.js";
import type { SocketHandlers } from "../realtime/features.js";
import { regionRoom } from "../realtime/rooms.js";
import type { AppSocket } from "../realtime/types.js";
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
  const cap = ctx.config.maxSocketsPerAccount;
  function onDisconnect(this: AppSocket): void {
    void presence.disconnect(this.id);
  }
  const onLocation = eventListener(ctx, ClientEvents.LocationUpdate, validateLocation, async (socket, payload) => {
    requireReporter(socket.data.role);
    const move = await presence.location(socket.id, payload);
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
  const onHeartbeat = eventListener(ctx, ClientEvents.Heartbeat, validateHeartbeat, async (socket) => {
    await presence.heartbeat(socket.id);
    return { serverTime: new Date().toISOString() };
  });
  return {
    name: "presence",
    // One account's connections are bounded across the cluster: each has its own event budget, so
    // an account opening many would multiply its budget (a household has a few phones).
    async admit(socket) {
      if ((await presence.accountSockets(socket.data.userId)) < cap) return null;
      ctx.metrics.limits.inc({ limit: "sockets_per_account" });
      return new AppError(
        ErrorCodes.RateLimited,
        `This account holds ${cap} connections already (MAX_SOCKETS_PER_ACCOUNT): close one first`,
      );
    },
    attach(socket) {
      // Events are only read after the session exists locally; its Redis write is sent first, so a
      // location update can never reach Redis before the session it belongs to.
      void presence.connect({
        socketId: socket.id,
        userId: socket.data.userId,
        userAgent: socket.data.userAgent,
        connectedAt: socket.data.connectedAt,
      });
      // Shared listeners (Socket.IO passes the socket as `this`): nothing per connection but the
      // listener slots. `disconnect` fires once; `on` spares the wrapper `once` would keep per socket.
      socket.on("disconnect", onDisconnect);
      socket.on(ClientEvents.LocationUpdate, onLocation);
      socket.on(ClientEvents.Heartbeat, onHeartbeat);
    },
  };
}
