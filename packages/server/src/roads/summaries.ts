import type { HazardSummary, SegmentSummary } from "@roadpulse/protocol";
import { expiresAt, type HazardFacts, settledStatusAt } from "../domain/hazard-rules.js";
import { segmentQuality } from "../domain/segment-quality.js";
import { goneVotesOf, type HazardDoc, reportersOf } from "../store/hazards.js";
import type { SegmentDoc } from "../store/segments.js";

/** A stored segment as clients see it: the quality is derived from the sums at read time. */
export function segmentSummary(doc: SegmentDoc): SegmentSummary {
  const devices = doc.devices?.length ?? 0;
  const quality = segmentQuality({ count: doc.count, sum: doc.sum, sumSquares: doc.sumSquares, devices });
  return {
    id: doc._id,
    geohash: doc.geohash,
    axis: doc.axis,
    latitude: doc.latitude,
    longitude: doc.longitude,
    samples: doc.samples,
    count: doc.count,
    devices,
    meanIri: quality.meanIri,
    class: quality.qualityClass,
    confidence: quality.confidence,
    confident: quality.confident,
    smoothness: quality.smoothness,
    lastObservedAt: doc.lastObservedAt ? doc.lastObservedAt.toISOString() : null,
    ml: doc.ml ? { score: doc.ml.score, model: doc.ml.model, scoredAt: doc.ml.scoredAt.toISOString() } : null,
    updatedAt: doc.updatedAt.toISOString(),
  };
}

export function hazardFacts(doc: HazardDoc): HazardFacts {
  return {
    type: doc.type,
    latitude: doc.latitude,
    longitude: doc.longitude,
    status: doc.status,
    reporters: reportersOf(doc),
    lastSeenAt: doc.lastSeenAt,
    goneVotes: goneVotesOf(doc),
    reports: doc.reports,
  };
}

/** A stored hazard as clients see it, with the status the rules give it at `now`. */
export function hazardSummary(doc: HazardDoc, now: Date): HazardSummary {
  return {
    id: doc._id.toHexString(),
    type: doc.type,
    latitude: doc.latitude,
    longitude: doc.longitude,
    status: settledStatusAt(doc, now),
    reporters: reportersOf(doc).length,
    reports: doc.reports,
    firstReportedAt: doc.firstReportedAt.toISOString(),
    lastSeenAt: doc.lastSeenAt.toISOString(),
    expiresAt: expiresAt(doc).toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
  };
}
