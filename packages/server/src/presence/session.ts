import ngeohash from "ngeohash";

/**
 * The session of one connected socket, exactly the JSON stored at `session:{socketId}` (the seed's
 * example plus `nodeId`). Pure data and pure functions: no Redis, no Socket.IO.
 */
export interface Session {
  socketId: string;
  userId: string;
  nodeId: string;
  /** Geohash of the last location at REGION_PRECISION; null until the first location update. */
  currentRegionId: string | null;
  lastLocation: { latitude: number; longitude: number } | null;
  /** ISO 8601. */
  connectedAt: string;
  /** ISO 8601: the last client event (location or heartbeat). */
  lastActivityAt: string;
  userAgent: string;
}

export function newSession(input: {
  socketId: string;
  userId: string;
  nodeId: string;
  userAgent: string;
  connectedAt: string;
}): Session {
  return {
    socketId: input.socketId,
    userId: input.userId,
    nodeId: input.nodeId,
    currentRegionId: null,
    lastLocation: null,
    connectedAt: input.connectedAt,
    lastActivityAt: input.connectedAt,
    userAgent: input.userAgent,
  };
}

/** The presence region of a position: its geohash cell at `precision` characters. */
export function regionOf(latitude: number, longitude: number, precision: number): string {
  return ngeohash.encode(latitude, longitude, precision);
}

export interface LocationMove {
  session: Session;
  /** The region before the update (null before the first location). */
  previousRegionId: string | null;
  /** The region the socket left, when the update crossed a cell border (or null). */
  leftRegionId: string | null;
}

/** The session after a location update, and which region (if any) it left. */
export function applyLocation(
  session: Session,
  location: { latitude: number; longitude: number },
  precision: number,
  now: Date,
): LocationMove {
  const regionId = regionOf(location.latitude, location.longitude, precision);
  const previous = session.currentRegionId;
  return {
    session: {
      ...session,
      currentRegionId: regionId,
      lastLocation: { latitude: location.latitude, longitude: location.longitude },
      lastActivityAt: now.toISOString(),
    },
    previousRegionId: previous,
    leftRegionId: previous !== null && previous !== regionId ? previous : null,
  };
}

export function touch(session: Session, now: Date): Session {
  return { ...session, lastActivityAt: now.toISOString() };
}
