import { ServerEvents } from "@roadpulse/protocol";
import type { LiveUpdates, Publish } from "../publish.js";
import { regionRoom, roomsAround } from "./rooms.js";
import type { AppServer } from "./types.js";

/**
 * Who hears a live update (realtime/rooms.ts). A device is in one room, its own region's. Road
 * updates go in one emit to the rooms of the region and of its 8 neighbours, so a device hears what
 * lies just past a cell border; a region's presence count goes to its own devices only. The
 * Socket.IO adapter carries each emit to the other nodes.
 */
export function socketPublisher(io: AppServer): Publish {
  return (regionId, event, payload) => {
    const rooms = event === ServerEvents.PresenceUpdated ? regionRoom(regionId) : roomsAround(regionId);
    io.to(rooms).emit(event, payload);
  };
}

/** Sends an update to some of this node's own sockets, without asking the other nodes. */
export function localSender(io: AppServer) {
  return <E extends keyof LiveUpdates>(socketIds: string[], event: E, payload: LiveUpdates[E]): void => {
    io.local.to(socketIds).emit(event, payload);
  };
}
