import { ErrorCodes } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { SegmentRange } from "../store/segments.js";
import { ApiError } from "./errors.js";

/** Largest box side in degrees (≈ 55 km of latitude): keeps every box read to a bounded cover. */
export const MAX_BBOX_SIDE_DEGREES = 0.5;
const COVER_PRECISION = 5;

/**
 * Parses `minLon,minLat,maxLon,maxLat` (already shape-checked by the route schema) into the box and
 * the geohash-5 cells covering it. Boxes crossing the antimeridian are not supported: send two.
 */
export function parseBbox(raw: string): SegmentRange {
  const [minLon, minLat, maxLon, maxLat] = raw.split(",").map(Number) as [number, number, number, number];
  const bad = (message: string) => new ApiError(400, ErrorCodes.ValidationFailed, `bbox ${message}`);
  if (minLat < -90 || maxLat > 90 || minLon < -180 || maxLon > 180) throw bad("is outside the world");
  if (minLat > maxLat || minLon > maxLon) throw bad("must be minLon,minLat,maxLon,maxLat with min ≤ max");
  if (maxLat - minLat > MAX_BBOX_SIDE_DEGREES || maxLon - minLon > MAX_BBOX_SIDE_DEGREES) {
    throw bad(`sides must not exceed ${MAX_BBOX_SIDE_DEGREES}°`);
  }
  return { regions: ngeohash.bboxes(minLat, minLon, maxLat, maxLon, COVER_PRECISION), minLat, maxLat, minLon, maxLon };
}
