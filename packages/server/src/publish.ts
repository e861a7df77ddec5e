import type { HazardSummary, PresenceUpdated, SegmentSummary } from "@roadpulse/protocol";
import ngeohash from "ngeohash";

/** The live updates the core sends to devices, and the payload of each. */
export interface LiveUpdates {
  "segment:updated": SegmentSummary;
  "hazard:updated": HazardSummary;
  "presence:updated": PresenceUpdated;
}

/**
 * Sends a live update about a region (a geohash cell at REGION_PRECISION) to the devices that
 * should hear it, on every node. The core publishes through this function, injected by node.ts;
 * who hears what (the region alone, or it and its neighbours) is the transport's business
 * (realtime/publish.ts), so the services never see Socket.IO.
 */
export type Publish = <E extends keyof LiveUpdates>(regionId: string, event: E, payload: LiveUpdates[E]) => void;

/**
 * The area a road update at a region reaches: the region and the 8 cells around it, so nothing is
 * missed at a cell border. The transport's rooms (realtime/rooms.ts) and a reconnecting device's
 * catch-up (roads/catch-up.ts) both cover exactly this area.
 */
export function regionWithNeighbours(regionId: string): string[] {
  return [regionId, ...ngeohash.neighbors(regionId)];
}
