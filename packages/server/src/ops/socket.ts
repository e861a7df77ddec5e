import { ClientEvents, type OpsWatch, type OpsWatchAck, OpsWatchSchema, ServerEvents } from "@roadpulse/protocol";
import { requireObserver } from "../auth/roles.js";
import type { NodeContext } from "../context.js";
import { eventListener } from "../realtime/ack.js";
import type { SocketHandlers } from "../realtime/features.js";
import { isRegionRoom, OPS_ROOM, regionRoom } from "../realtime/rooms.js";
import type { AppServer } from "../realtime/types.js";
import { createPayloadAjv } from "../validation.js";
import type { OpsService } from "./service.js";

const validateWatch = createPayloadAjv().compile<OpsWatch>(OpsWatchSchema);

/** How often each node tells its watching observers about the cluster's nodes. */
export const NODES_PUSH_INTERVAL_MS = 5_000;

/**
 * `ops:watch {bbox}`: an observer's map moved. The socket leaves the regions it no longer shows,
 * joins those it does (none when the box covers too many to follow: `live: false`) (their road and presence updates reach it from every node through the
 * adapter) and gets the devices per region and the nodes now; `ops:nodes` follows every
 * NODES_PUSH_INTERVAL_MS.
 */
export function opsSocketHandlers(ctx: NodeContext, ops: OpsService): SocketHandlers {
  const onWatch = eventListener(
    ctx,
    ClientEvents.OpsWatch,
    validateWatch,
    async (socket, payload): Promise<OpsWatchAck> => {
      requireObserver(socket.data.role);
      const regions = ops.regions(payload.bbox) ?? [];
      const wanted = new Set(regions.map(regionRoom));
      const gone = [...socket.rooms].filter((room) => isRegionRoom(room) && !wanted.has(room));
      await Promise.all(gone.map((room) => socket.leave(room)));
      await socket.join([...wanted, OPS_ROOM]);
      const [devices, nodes] = await Promise.all([ops.devices(regions), ops.nodes()]);
      const live = regions.length > 0;
      return { regions: devices.regions, watched: regions.length, live, nodes };
    },
  );
  return {
    name: "ops",
    attach(socket) {
      socket.on(ClientEvents.OpsWatch, onWatch);
    },
  };
}

/**
 * Sends the node list to this node's own observers every interval (each node serves its own: no
 * cross-node traffic), and reads it only while some observer is here. Returns the stopper.
 */
export function pushNodesToObservers(io: AppServer, ops: OpsService): () => Promise<void> {
  let sending: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (sending !== undefined || (io.of("/").adapter.rooms.get(OPS_ROOM)?.size ?? 0) === 0) return;
    sending = ops
      .nodes()
      .then((nodes) => {
        io.local.to(OPS_ROOM).emit(ServerEvents.OpsNodes, nodes);
      })
      .catch(() => undefined)
      .finally(() => {
        sending = undefined;
      });
  }, NODES_PUSH_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await sending;
  };
}
