import ngeohash from "ngeohash";

/**
 * Socket.IO room names. A device joins the room of its own region and of the 8 neighbouring
 * regions, so an event emitted to one region's room reaches every device in that region and all
 * around it: nothing is missed at a cell border, and a broadcast is one emit to one room.
 */
export function regionRoom(regionId: string): string {
  return `region:${regionId}`;
}

/** A region and its 8 neighbours (geohash cells of the same precision). */
export function regionWithNeighbours(regionId: string): string[] {
  return [regionId, ...ngeohash.neighbors(regionId)];
}
