import { type HazardSummary, type SegmentSummary, ServerEvents } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { Publish } from "../publish.js";

/**
 * Live road updates: each is published at the region (geohash at REGION_PRECISION) that holds the
 * segment or hazard; the transport delivers it to the devices in and around that region.
 */
export class LiveRoads {
  constructor(
    private readonly publish: Publish,
    private readonly regionPrecision: number,
  ) {}

  segment(segment: SegmentSummary): void {
    this.publish(this.#region(segment.latitude, segment.longitude), ServerEvents.SegmentUpdated, segment);
  }

  hazard(hazard: HazardSummary): void {
    this.publish(this.#region(hazard.latitude, hazard.longitude), ServerEvents.HazardUpdated, hazard);
  }

  #region(latitude: number, longitude: number): string {
    return ngeohash.encode(latitude, longitude, this.regionPrecision);
  }
}
