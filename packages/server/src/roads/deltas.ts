import { utcDay } from "../domain/observation-rules.js";
import { parseSegmentKey, roadRegionOf } from "../domain/segment-key.js";
import type { ObservationDoc } from "../store/observations.js";
import type { RegionDayDelta } from "../store/region-stats.js";
import { regionDayId } from "../store/region-stats.js";
import type { SegmentDelta } from "../store/segments.js";

export interface RoundDeltas {
  segments: SegmentDelta[];
  regionDays: RegionDayDelta[];
  /** Pothole/bump observations, oldest first: hazards are built from them one by one. */
  events: ObservationDoc[];
}

/**
 * Folds stored observations into one increment per segment and per region-day, so a round costs
 * one upsert per touched segment however many samples it holds.
 */
export function roundDeltas(observations: ObservationDoc[]): RoundDeltas {
  const segments = new Map<string, SegmentDelta>();
  const regionDays = new Map<string, RegionDayDelta>();
  const events: ObservationDoc[] = [];
  for (const o of observations) {
    let segment = segments.get(o.segmentId);
    if (segment === undefined) {
      const location = parseSegmentKey(o.segmentId);
      if (location === null) continue;
      segment = {
        id: o.segmentId,
        ...location,
        region: roadRegionOf(location.geohash),
        samples: 0,
        count: 0,
        sum: 0,
        sumSquares: 0,
        devices: new Set(),
        firstObservedAt: o.recordedAt,
        lastObservedAt: o.recordedAt,
      };
      segments.set(o.segmentId, segment);
    }
    segment.samples += 1;
    if (o.recordedAt < segment.firstObservedAt) segment.firstObservedAt = o.recordedAt;
    if (o.recordedAt > segment.lastObservedAt) segment.lastObservedAt = o.recordedAt;
    if (o.counted) {
      segment.count += 1;
      segment.sum += o.roughness;
      segment.sumSquares += o.roughness * o.roughness;
      segment.devices.add(o.deviceId);
    }

    const day = utcDay(o.recordedAt);
    const key = regionDayId(o.region, day);
    let regionDay = regionDays.get(key);
    if (regionDay === undefined) {
      regionDay = { region: o.region, day, observations: 0, counted: 0, sum: 0, sumSquares: 0, potholes: 0, bumps: 0 };
      regionDays.set(key, regionDay);
    }
    regionDay.observations += 1;
    if (o.counted) {
      regionDay.counted += 1;
      regionDay.sum += o.roughness;
      regionDay.sumSquares += o.roughness * o.roughness;
    }
    if (o.event === "pothole") regionDay.potholes += 1;
    if (o.event === "bump") regionDay.bumps += 1;
    if (o.event !== undefined) events.push(o);
  }
  events.sort((a, b) => a.recordedAt.getTime() - b.recordedAt.getTime());
  return { segments: [...segments.values()], regionDays: [...regionDays.values()], events };
}
