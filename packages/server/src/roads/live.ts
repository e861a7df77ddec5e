import { type HazardSummary, type SegmentSummary, ServerEvents } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { regionRoom } from "../realtime/rooms.js";

/**
 * Live road updates. Each goes ONCE to the room of the region (geohash at REGION_PRECISION) that
 * holds the segment or hazard; devices sit in their own region's room and its 8 neighbours', so the
 * region and everything around it hear it. The Socket.IO adapter carries the emit to other nodes.
 */
function roomOf(ctx: NodeContext, latitude: number, longitude: number): string {
  return regionRoom(ngeohash.encode(latitude, longitude, ctx.config.regionPrecision));
}

export function publishSegment(ctx: NodeContext, segment: SegmentSummary): void {
  ctx.io?.to(roomOf(ctx, segment.latitude, segment.longitude)).emit(ServerEvents.SegmentUpdated, segment);
}

export function publishHazard(ctx: NodeContext, hazard: HazardSummary): void {
  ctx.io?.to(roomOf(ctx, hazard.latitude, hazard.longitude)).emit(ServerEvents.HazardUpdated, hazard);
}
