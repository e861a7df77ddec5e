import { ErrorCodes } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import { AppError } from "../errors.js";
import { parseBbox } from "../roads/bbox.js";

/**
 * The regions (geohash cells at REGION_PRECISION, the rooms live updates go to) covering a map's
 * box, refused past `max` cells before any is listed: a zoomed-out map would otherwise join
 * thousands of rooms. The box obeys the road API's rules (roads/bbox.ts) first.
 */
export function regionsCovering(bbox: string, precision: number, max: number): string[] {
  const { minLat, minLon, maxLat, maxLon } = parseBbox(bbox);
  const cells = cellsAcross(minLat, maxLat, 180 / 2 ** Math.floor((5 * precision) / 2), 90);
  const columns = cellsAcross(minLon, maxLon, 360 / 2 ** Math.ceil((5 * precision) / 2), 180);
  if (cells * columns > max) {
    throw new AppError(
      ErrorCodes.ValidationFailed,
      `bbox covers ${cells * columns} regions, more than ${max}: zoom in to watch it live`,
    );
  }
  return ngeohash.bboxes(minLat, minLon, maxLat, maxLon, precision);
}

/** Cells of `size` degrees (a grid starting at -`offset`) that [min, max] touches. */
function cellsAcross(min: number, max: number, size: number, offset: number): number {
  return Math.floor((max + offset) / size) - Math.floor((min + offset) / size) + 1;
}
