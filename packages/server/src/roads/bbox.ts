import { ErrorCodes, MAX_BBOX_AREA_SQUARE_DEGREES, MAX_BBOX_SIDE_DEGREES } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import { ROAD_REGION_PRECISION } from "../domain/segment-key.js";
import { AppError } from "../errors.js";
import type { SegmentRange } from "../store/segments.js";

/**
 * Parses `minLon,minLat,maxLon,maxLat` (already shape-checked by the route schema) into the box and
 * the geohash-5 cells covering it. Boxes crossing the antimeridian are not supported: send two.
 */
export function parseBbox(raw: string): SegmentRange {
  const [minLon, minLat, maxLon, maxLat] = raw.split(",").map(Number) as [number, number, number, number];
  const bad = (message: string) => new AppError(ErrorCodes.ValidationFailed, `bbox ${message}`);
  if (![minLon, minLat, maxLon, maxLat].every(Number.isFinite)) throw bad("must hold four finite numbers");
  if (minLat < -90 || maxLat > 90 || minLon < -180 || maxLon > 180) throw bad("is outside the world");
  if (minLat > maxLat || minLon > maxLon) throw bad("must be minLon,minLat,maxLon,maxLat with min ≤ max");
  if (maxLat - minLat > MAX_BBOX_SIDE_DEGREES || maxLon - minLon > MAX_BBOX_SIDE_DEGREES) {
    throw bad(`sides must not exceed ${MAX_BBOX_SIDE_DEGREES}°`);
  }
  if ((maxLat - minLat) * (maxLon - minLon) > MAX_BBOX_AREA_SQUARE_DEGREES) {
    throw bad(`area must not exceed ${MAX_BBOX_AREA_SQUARE_DEGREES} square degrees`);
  }
  return {
    regions: ngeohash.bboxes(minLat, minLon, maxLat, maxLon, ROAD_REGION_PRECISION),
    minLat,
    maxLat,
    minLon,
    maxLon,
  };
}
