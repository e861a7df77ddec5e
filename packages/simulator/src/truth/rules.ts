import ngeohash from "ngeohash";

/**
 * The road rules as docs/road-rules.md states them, written out again here on purpose: the ground
 * truth is derived from the documentation, not from the server's code, so a server that drifts from
 * its documented rules scores badly instead of agreeing with itself.
 */
export const MIN_COUNTED_KMH = 15;
export const MAX_COUNTED_KMH = 160;
export const HAZARD_JOIN_M = 15;
/** Distinct accounts whose reports confirm a hazard. */
export const CONFIRMING_REPORTERS = 3;

export type QualityClass = "good" | "fair" | "poor" | "very_poor";
export const CLASSES: QualityClass[] = ["good", "fair", "poor", "very_poor"];

/** good < 2 ≤ fair < 4 ≤ poor ≤ 6 < very poor (m/km). */
export function qualityClass(iri: number): QualityClass {
  if (iri < 2) return "good";
  if (iri < 4) return "fair";
  if (iri <= 6) return "poor";
  return "very_poor";
}

export function counts(speedMs: number): boolean {
  const kmh = speedMs * 3.6;
  return kmh >= MIN_COUNTED_KMH && kmh <= MAX_COUNTED_KMH;
}

/** Heading folded into four 45° buckets centred on 0, 45, 90, 135 degrees. */
export function axis(heading: number): "ns" | "ne" | "ew" | "nw" {
  const folded = ((heading % 180) + 180) % 180;
  return (["ns", "ne", "ew", "nw"] as const)[Math.floor((folded + 22.5) / 45) % 4] as "ns" | "ne" | "ew" | "nw";
}

export function segmentKey(latitude: number, longitude: number, heading: number): string {
  return `${ngeohash.encode(latitude, longitude, 8)}.${axis(heading)}`;
}

const EARTH_RADIUS_M = 6_371_008.8;

export function distanceM(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}
