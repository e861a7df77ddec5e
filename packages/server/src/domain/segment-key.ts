import ngeohash from "ngeohash";

/**
 * Segment keys. A road segment is a geohash-8 cell (about 38 m × 19 m) plus the axis of the road
 * through it, taken from the device's heading and folded into four 45° buckets. Two roads that cross
 * inside one cell run on different axes, so their samples stay apart; both directions of travel on
 * one road share an axis (a road's roughness does not depend on which way you drive it).
 *
 *   heading (deg, clockwise from north) → axis = heading mod 180 → bucket centred on
 *   0° `ns` (north–south), 45° `ne` (north-east–south-west), 90° `ew` (east–west),
 *   135° `nw` (north-west–south-east); no heading → `x` (axis unknown).
 *
 * The key is `<geohash8>.<axis>`, e.g. `u4pruydq.ew`: it sorts by geohash, so every segment inside a
 * geohash prefix is one range of keys.
 */
export const SEGMENT_PRECISION = 8;

/**
 * Road regions: geohash-5 cells (about 4.9 km × 4.9 km). A segment's `region`, the daily history
 * (`region_daily_stats`), the hazards' Redis GEO sets and the cells a bbox query reads are all at
 * this precision; a finer cell's region is its first ROAD_REGION_PRECISION characters.
 */
export const ROAD_REGION_PRECISION = 5;

/** The road region of a geohash of at least ROAD_REGION_PRECISION characters. */
export function roadRegionOf(geohash: string): string {
  return geohash.slice(0, ROAD_REGION_PRECISION);
}
export const ROAD_AXES = ["ns", "ne", "ew", "nw", "x"] as const;
export type RoadAxis = (typeof ROAD_AXES)[number];

const BUCKETS: RoadAxis[] = ["ns", "ne", "ew", "nw"];

export const SEGMENT_ID_PATTERN = "^[0-9b-hjkmnp-z]{8}\\.(ns|ne|ew|nw|x)$";

export function roadAxis(heading: number | undefined): RoadAxis {
  if (heading === undefined || !Number.isFinite(heading)) return "x";
  const axis = ((heading % 180) + 180) % 180;
  // Shift by half a bucket so each bucket is centred on its direction; 180 wraps back to `ns`.
  const bucket = Math.floor((axis + 22.5) / 45) % 4;
  return BUCKETS[bucket] ?? "x";
}

export function segmentKey(latitude: number, longitude: number, heading: number | undefined): string {
  return `${ngeohash.encode(latitude, longitude, SEGMENT_PRECISION)}.${roadAxis(heading)}`;
}

export interface SegmentLocation {
  geohash: string;
  axis: RoadAxis;
  /** Centre of the geohash cell. */
  latitude: number;
  longitude: number;
}

/** Splits a key made by `segmentKey`; `null` for anything else. */
export function parseSegmentKey(key: string): SegmentLocation | null {
  if (!new RegExp(SEGMENT_ID_PATTERN).test(key)) return null;
  const [geohash, axis] = key.split(".") as [string, RoadAxis];
  const centre = ngeohash.decode(geohash);
  return { geohash, axis, latitude: centre.latitude, longitude: centre.longitude };
}
