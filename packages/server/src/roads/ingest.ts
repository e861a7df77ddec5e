import type { Observation, ObservationAck } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import { segmentKey } from "../domain/segment-key.js";
import { countsForQuality } from "../domain/speed-gate.js";
import type { IngestJournal, JournalEntry } from "../store/ingest-journal.js";
import type { ObservationDoc, ObservationsRepository } from "../store/observations.js";
import type { Aggregator } from "./aggregator.js";
import { validateObservations } from "./observation-validation.js";

/** Who sent a batch: the authenticated account and the device it came from. */
export interface Submitter {
  userId: string;
  deviceId: string;
}

/** geohash precision of daily history regions (~4.9 km × 4.9 km). */
export const HISTORY_REGION_PRECISION = 5;

function toDoc(o: Observation, who: Submitter, entry: JournalEntry, receivedAt: Date): ObservationDoc {
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
    region: ngeohash.encode(o.latitude, o.longitude, HISTORY_REGION_PRECISION),
    counted: countsForQuality(o.speed),
    batch: entry.batch,
  };
}

/**
 * The one ingest path of `observations:submit` and `POST /api/observations`: check each item, store
 * the valid ones exactly once, answer only once they are durable, then hand them to the aggregator.
 * When MongoDB is unreachable the storage error propagates and the caller answers
 * STORAGE_UNAVAILABLE: nothing is claimed, the device keeps the batch and sends it again.
 */
export class IngestService {
  constructor(
    private readonly ctx: NodeContext,
    private readonly journal: IngestJournal,
    private readonly observations: ObservationsRepository,
    private readonly aggregator: Aggregator,
  ) {}

  async submit(items: unknown[], who: Submitter): Promise<ObservationAck> {
    const metrics = this.ctx.metrics;
    metrics.observationBatchSize.observe(items.length);
    const now = this.ctx.clock();
    const { valid, rejected } = validateObservations(items, now);
    metrics.observations.inc({ result: "rejected" }, rejected.length);
    if (valid.length === 0) return { accepted: 0, duplicates: 0, rejected };

    await this.aggregator.admit();
    const entry = await this.journal.open();
    const { inserted, duplicates } = await this.observations.insertNew(valid.map((o) => toDoc(o, who, entry, now)));
    metrics.observations.inc({ result: "accepted" }, inserted.length);
    metrics.observations.inc({ result: "duplicate" }, duplicates);
    // Aggregates follow the ack. A batch of nothing but duplicates still goes through the queue: its
    // empty round just deletes the journal entry.
    this.aggregator.enqueue(entry, inserted);
    return { accepted: inserted.length, duplicates, rejected };
  }
}
