import type { Observation, ObservationAck } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { ROAD_REGION_PRECISION, segmentKey } from "../domain/segment-key.js";
import { countsForQuality } from "../domain/speed-gate.js";
import type { Aggregator } from "./aggregator.js";
import type { GroupCommit, NewObservation } from "./group-commit.js";
import { validateObservations } from "./observation-validation.js";

/** Who sent a batch: the authenticated account and the device it came from. */
export interface Submitter {
  userId: string;
  deviceId: string;
}

function toDoc(o: Observation, who: Submitter, receivedAt: Date): NewObservation {
  return {
    _id: o.id,
    userId: who.userId,
    deviceId: who.deviceId,
    latitude: o.latitude,
    longitude: o.longitude,
    recordedAt: new Date(o.recordedAt),
    receivedAt,
    roughness: o.roughness,
    ...(o.speed === undefined ? {} : { speed: o.speed }),
    ...(o.heading === undefined ? {} : { heading: o.heading }),
    ...(o.event === undefined ? {} : { event: o.event }),
    segmentId: segmentKey(o.latitude, o.longitude, o.heading),
    region: ngeohash.encode(o.latitude, o.longitude, ROAD_REGION_PRECISION),
    counted: countsForQuality(o.speed),
  };
}

/**
 * The one ingest path of `observations:submit` and `POST /api/observations`: check each item, store
 * the valid ones exactly once (together with other devices' batches: group-commit.ts), answer only
 * once they are durable; the group's stored observations go on to the aggregator. When MongoDB is
 * unreachable or behind, the storage error propagates and the caller answers STORAGE_UNAVAILABLE:
 * nothing is claimed, the device keeps the batch and sends it again.
 */
export class IngestService {
  constructor(
    private readonly ctx: NodeContext,
    private readonly commits: GroupCommit,
    private readonly aggregator: Aggregator,
  ) {}

  async submit(items: unknown[], who: Submitter): Promise<ObservationAck> {
    const metrics = this.ctx.metrics;
    metrics.observationBatchSize.observe(items.length);
    const now = this.ctx.clock();
    const { valid, rejected } = validateObservations(items, now);
    metrics.observations.inc({ result: "rejected" }, rejected.length);
    if (valid.length === 0) return { accepted: 0, duplicates: 0, rejected };

    // Back-pressure, bounded by the store deadline inside admit().
    await this.aggregator.admit();
    const { inserted, duplicates } = await this.commits.submit(valid.map((o) => toDoc(o, who, now)));
    metrics.observations.inc({ result: "accepted" }, inserted.length);
    metrics.observations.inc({ result: "duplicate" }, duplicates);
    return { accepted: inserted.length, duplicates, rejected };
  }
}
