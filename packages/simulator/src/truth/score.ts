import type { HazardSummary, SegmentSummary } from "@roadpulse/protocol";
import type { Truth } from "./network.js";
import { CONFIRMING_REPORTERS, distanceM, HAZARD_JOIN_M, qualityClass } from "./rules.js";

export interface TruthScore {
  segments_scored: number;
  class_accuracy: number;
  segments_missing: number;
  segment_count_mismatches: number;
  potholes: number;
  potholes_confirmable: number;
  hazards_confirmed: number;
  hazards_reported: number;
  hazard_precision: number;
  hazard_recall: number;
  hazard_position_error_m: number;
  bogus_reports: number;
  false_hazards: number;
  aggregated: number;
}

/**
 * Scores what the server made of the drives against the ground truth.
 * - Segment class accuracy: over segments with n ≥ `minN` counted samples in the truth, the share
 *   whose class equals the class of the true IRI of those samples (a missing segment is wrong).
 * - Hazards: confirmed potholes against real potholes that ≥ 3 distinct accounts reported (the
 *   documented confirmation rule; `accountOf` says whose each device is), matched one to one within
 *   15 m, nearest pairs first.
 */
export function score(
  truth: Truth,
  segments: SegmentSummary[],
  hazards: HazardSummary[],
  minN: number,
  accountOf: (device: string) => number,
): TruthScore {
  const byId = new Map(segments.map((s) => [s.id, s]));
  let scored = 0;
  let correct = 0;
  let missing = 0;
  let mismatches = 0;
  for (const [key, t] of truth.segments) {
    const served = byId.get(key);
    if (!served || served.count !== t.n) mismatches += 1;
    if (t.n < minN) continue;
    scored += 1;
    if (!served) missing += 1;
    else if (served.class === qualityClass(t.trueSum / t.n)) correct += 1;
  }
  const confirmed = hazards.filter((h) => h.type === "pothole" && h.status === "confirmed");
  const confirmable = truth.potholes.filter(
    (p) => new Set([...p.reporters].map(accountOf)).size >= CONFIRMING_REPORTERS,
  );
  const pairs: Array<{ h: number; p: number; d: number }> = [];
  confirmed.forEach((h, hi) => {
    confirmable.forEach((p, pi) => {
      const d = distanceM(h, p);
      if (d <= HAZARD_JOIN_M) pairs.push({ h: hi, p: pi, d });
    });
  });
  pairs.sort((a, b) => a.d - b.d);
  const usedH = new Set<number>();
  const usedP = new Set<number>();
  let errorSum = 0;
  for (const pair of pairs) {
    if (usedH.has(pair.h) || usedP.has(pair.p)) continue;
    usedH.add(pair.h);
    usedP.add(pair.p);
    errorSum += pair.d;
  }
  const matched = usedH.size;
  return {
    segments_scored: scored,
    class_accuracy: scored > 0 ? correct / scored : Number.NaN,
    segments_missing: missing,
    segment_count_mismatches: mismatches,
    potholes: truth.potholes.length,
    potholes_confirmable: confirmable.length,
    hazards_confirmed: confirmed.length,
    hazards_reported: hazards.filter((h) => h.status === "reported").length,
    hazard_precision: confirmed.length > 0 ? matched / confirmed.length : Number.NaN,
    hazard_recall: confirmable.length > 0 ? matched / confirmable.length : Number.NaN,
    hazard_position_error_m: matched > 0 ? errorSum / matched : Number.NaN,
    bogus_reports: truth.bogusReports,
    false_hazards: confirmed.length - matched,
    aggregated: segments.reduce((sum, s) => sum + s.samples, 0),
  };
}
