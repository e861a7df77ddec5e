/**
 * Speed gating. Roughness measured by a phone's accelerometer is only comparable between samples
 * taken at ordinary driving speeds: crawling in traffic hides the road's profile, and very high
 * speeds (or a GPS glitch) exaggerate it. Such samples are stored but do not count for quality.
 * A sample without a speed cannot be judged and does not count either.
 */
export const MIN_COUNTED_SPEED_KMH = 15;
export const MAX_COUNTED_SPEED_KMH = 160;

export function countsForQuality(speedMetresPerSecond: number | undefined): boolean {
  if (speedMetresPerSecond === undefined || !Number.isFinite(speedMetresPerSecond)) return false;
  const kmh = speedMetresPerSecond * 3.6;
  return kmh >= MIN_COUNTED_SPEED_KMH && kmh <= MAX_COUNTED_SPEED_KMH;
}
