/**
 * Segment quality from the running sums kept on each segment (so it is computed without reading a
 * single observation): count n, sum Σx and sum of squares Σx² of counted roughness samples (IRI,
 * m/km), and the number of distinct devices that contributed them.
 */
export const QUALITY_CLASSES = ["good", "fair", "poor", "very_poor"] as const;
export type QualityClass = (typeof QUALITY_CLASSES)[number];

/** OpenStreetMap `smoothness` values used by the export. */
export type Smoothness = "excellent" | "good" | "intermediate" | "bad" | "very_bad" | "horrible";

/** z for a one-sided 95% / two-sided 90% interval. */
export const CONFIDENCE_Z = 1.645;
export const MIN_CONFIDENT_SAMPLES = 3;
export const MIN_CONFIDENT_DEVICES = 2;

export interface SegmentSums {
  count: number;
  sum: number;
  sumSquares: number;
  devices: number;
}

export interface SegmentQuality {
  /** Mean IRI in m/km; `null` without counted samples. */
  meanIri: number | null;
  qualityClass: QualityClass | null;
  /** Half-width of the 90% interval around the mean, 1.645·σ/√n; `null` below two samples. */
  confidence: number | null;
  /** Enough evidence to publish: n ≥ 3 samples from ≥ 2 devices. */
  confident: boolean;
  /** OSM smoothness, given only for confident segments. */
  smoothness: Smoothness | null;
}

/** good < 2 ≤ fair < 4 ≤ poor ≤ 6 < very poor (m/km). */
export function qualityClass(meanIri: number): QualityClass {
  if (meanIri < 2) return "good";
  if (meanIri < 4) return "fair";
  if (meanIri <= 6) return "poor";
  return "very_poor";
}

/**
 * IRI → OSM smoothness. The classes above split at the same limits; the two ends are finer because
 * OSM distinguishes them (excellent: roller blades; horrible: off-road vehicles only).
 */
export function smoothness(meanIri: number): Smoothness {
  if (meanIri < 1.5) return "excellent";
  if (meanIri < 2) return "good";
  if (meanIri < 4) return "intermediate";
  if (meanIri <= 6) return "bad";
  if (meanIri <= 10) return "very_bad";
  return "horrible";
}

/** Sample standard deviation (n − 1) from running sums; clamped at 0 against rounding. */
export function standardDeviation(count: number, sum: number, sumSquares: number): number | null {
  if (count < 2) return null;
  const variance = (sumSquares - (sum * sum) / count) / (count - 1);
  return Math.sqrt(Math.max(0, variance));
}

export function segmentQuality(sums: SegmentSums): SegmentQuality {
  if (sums.count <= 0) {
    return { meanIri: null, qualityClass: null, confidence: null, confident: false, smoothness: null };
  }
  const meanIri = sums.sum / sums.count;
  const sigma = standardDeviation(sums.count, sums.sum, sums.sumSquares);
  const confidence = sigma === null ? null : (CONFIDENCE_Z * sigma) / Math.sqrt(sums.count);
  const confident = sums.count >= MIN_CONFIDENT_SAMPLES && sums.devices >= MIN_CONFIDENT_DEVICES;
  return {
    meanIri,
    qualityClass: qualityClass(meanIri),
    confidence,
    confident,
    smoothness: confident ? smoothness(meanIri) : null,
  };
}
