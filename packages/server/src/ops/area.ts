import ngeohash from "ngeohash";
import { parseBbox } from "../roads/bbox.js";

/**
 * The regions (geohash cells at REGION_PRECISION, the rooms live updates go to) covering a map's
 * box, or null past `max` cells, counted before any is listed: a zoomed-out map would otherwise
 * join thousands of rooms. The box obeys the road API's rules (roads/bbox.ts) first.
 */
export function regionsCovering(bbox: string, precision: number, max: number): string[] | null {
  const { minLat, minLon, maxLat, maxLon } = parseBbox(bbox);
  const cells = cellsAcross(minLat, maxLat, 180 / 2 ** Math.floor((5 * precision) / 2), 90);
  const columns = cellsAcross(minLon, maxLon, 360 / 2 ** Math.ceil((5 * precision) / 2), 180);
  if (cells * columns > max) return null;
  return ngeohash.bboxes(minLat, minLon, maxLat, maxLon, precision);
}

/** Cells of `size` degrees (a grid starting at -`offset`) that [min, max] touches. */
function cellsAcross(min: number, max: number, size: number, offset: number): number {
  return Math.floor((max + offset) / size) - Math.floor((min + offset) / size) + 1;
}
