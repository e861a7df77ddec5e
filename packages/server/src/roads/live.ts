import { type HazardSummary, type SegmentSummary, ServerEvents } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { roomsAround } from "../realtime/rooms.js";

/**
 * Live road updates. Each goes in one emit to the rooms of the region (geohash at
 * REGION_PRECISION) that holds the segment or hazard and of its 8 neighbours: every device in or
 * around that region hears it once. The Socket.IO adapter carries the emit to other nodes.
 */
function roomsOf(ctx: NodeContext, latitude: number, longitude: number): string[] {
  return roomsAround(ngeohash.encode(latitude, longitude, ctx.config.regionPrecision));
}

export function publishSegment(ctx: NodeContext, segment: SegmentSummary): void {
  ctx.io?.to(roomsOf(ctx, segment.latitude, segment.longitude)).emit(ServerEvents.SegmentUpdated, segment);
}

export function publishHazard(ctx: NodeContext, hazard: HazardSummary): void {
  ctx.io?.to(roomsOf(ctx, hazard.latitude, hazard.longitude)).emit(ServerEvents.HazardUpdated, hazard);
}
