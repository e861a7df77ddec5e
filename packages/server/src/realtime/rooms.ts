import { regionWithNeighbours } from "../publish.js";

/**
 * Socket.IO room names. A device is in exactly one room: its own region's (geohash cell at
 * REGION_PRECISION). Presence goes to that room alone; a road update goes to the rooms of its
 * region and the 8 around it (regionWithNeighbours, publish.ts), one emit, so nothing is missed at a cell
 * border. One room per socket, rather than nine, keeps each connection's share of the adapter's
 * maps small and gives a device one presence message per interval, not one per neighbouring cell.
 */
export function regionRoom(regionId: string): string {
  return `${REGION_ROOM_PREFIX}${regionId}`;
}

const REGION_ROOM_PREFIX = "region:";

export function isRegionRoom(room: string): boolean {
  return room.startsWith(REGION_ROOM_PREFIX);
}

/**
 * Observers watching the ops map (ops/socket.ts): they hear `ops:nodes` from the node they are on.
 * An observer is also in the room of every region on its screen, so it hears their road and
 * presence updates as a device there would; observers never send `region:sync`, the one reader of
 * "the" region of a socket.
 */
export const OPS_ROOM = "ops";

/** The region a socket is in, from its rooms (null before its first location). */
export function regionOfRooms(rooms: ReadonlySet<string>): string | null {
  for (const room of rooms) if (room.startsWith(REGION_ROOM_PREFIX)) return room.slice(REGION_ROOM_PREFIX.length);
  return null;
}

/** The rooms that hear an update at a region: the region's own and its 8 neighbours'. */
export function roomsAround(regionId: string): string[] {
  return regionWithNeighbours(regionId).map(regionRoom);
}
