import { MAX_BBOX_AREA_SQUARE_DEGREES, MAX_BBOX_SIDE_DEGREES } from "@roadpulse/protocol";
import ngeohash from "ngeohash";

export type LatLng = [number, number];

/**
 * Where a segment is drawn. A segment is a geohash-8 cell and a travel axis (docs/road-rules.md):
 * the map draws a short line through the cell's centre along the axis, as long as the cell is
 * wide, so neighbouring cells of one road join into a line. `x` (no steady heading) is a dot.
 */
export function segmentLine(geohash: string, axis: string): LatLng[] {
  const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(geohash);
  const lat = (minLat + maxLat) / 2;
  const lon = (minLon + maxLon) / 2;
  const halfLat = (maxLat - minLat) / 2;
  const halfLon = (maxLon - minLon) / 2;
  switch (axis) {
    case "ns":
      return [
        [lat - halfLat, lon],
        [lat + halfLat, lon],
      ];
    case "ew":
      return [
        [lat, lon - halfLon],
        [lat, lon + halfLon],
      ];
    case "ne":
      return [
        [lat - halfLat, lon - halfLon],
        [lat + halfLat, lon + halfLon],
      ];
    case "nw":
      return [
        [lat - halfLat, lon + halfLon],
        [lat + halfLat, lon - halfLon],
      ];
    default:
      return [[lat, lon]];
  }
}

/** A region's cell as south-west and north-east corners. */
export function regionBounds(regionId: string): [LatLng, LatLng] {
  const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(regionId);
  return [
    [minLat, minLon],
    [maxLat, maxLon],
  ];
}

export interface Box {
  south: number;
  west: number;
  north: number;
  east: number;
}

/** `minLon,minLat,maxLon,maxLat`, or null when the box is too large to read (zoom in). */
export function bboxParam(box: Box): string | null {
  const south = Math.max(-90, box.south);
  const north = Math.min(90, box.north);
  const west = Math.max(-180, box.west);
  const east = Math.min(180, box.east);
  const height = north - south;
  const width = east - west;
  if (height <= 0 || width <= 0 || height > MAX_BBOX_SIDE_DEGREES || width > MAX_BBOX_SIDE_DEGREES) return null;
  if (height * width > MAX_BBOX_AREA_SQUARE_DEGREES) return null;
  return [west, south, east, north].map((value) => String(value)).join(",");
}
