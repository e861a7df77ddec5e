import { ErrorCodes, type HazardSummary } from "@roadpulse/protocol";
import ngeohash from "ngeohash";
import type { NodeContext } from "../context.js";
import {
  centroid,
  clippedReport,
  EXPIRY_MS,
  type HazardCandidate,
  hazardStatus,
  MAX_REMEMBERED_DEVICES,
  MAX_REMEMBERED_GONE_VOTES,
  matchHazard,
} from "../domain/hazard-rules.js";
import { ApiError } from "../http/errors.js";
import { type HazardDoc, type HazardsRepository, positionSums } from "../store/hazards.js";
import type { ObservationDoc } from "../store/observations.js";
import { publishHazard } from "./live.js";
import { hazardFacts, hazardSummary } from "./summaries.js";

/** geohash-7 cells are ~150 m wide: a cell and its neighbours surely hold every hazard within 15 m. */
const HAZARD_CELL_PRECISION = 7;

function candidate(doc: HazardDoc): HazardCandidate {
  return { id: doc._id.toHexString(), ...hazardFacts(doc) };
}

/** Remembers a device while the hazard's list has room (the rules never need more). */
function deviceToRemember(doc: HazardDoc, device: string): string | null {
  return doc.devices.includes(device) || doc.devices.length < MAX_REMEMBERED_DEVICES ? device : null;
}

/**
 * Applies hazard events and votes: the rules come from domain/hazard-rules.ts, this class reads and
 * writes the `hazards` collection and announces every change with `hazard:updated`.
 */
export class HazardTracker {
  constructor(
    private readonly ctx: NodeContext,
    private readonly hazards: HazardsRepository,
  ) {}

  /** Joins or opens a hazard per event (oldest first); returns the hazards that changed. */
  async applyEvents(events: ObservationDoc[], now: Date): Promise<HazardDoc[]> {
    const changed = new Map<string, HazardDoc>();
    for (const event of events) {
      if (event.event === undefined) continue;
      const cell = ngeohash.encode(event.latitude, event.longitude, HAZARD_CELL_PRECISION);
      const nearby = await this.hazards.openNear(event.event, [cell, ...ngeohash.neighbors(cell)]);
      const match = matchHazard(event, event.event, nearby.map(candidate), now);
      let doc: HazardDoc;
      if (match !== null) {
        const current = nearby.find((h) => h._id.toHexString() === match.id) as HazardDoc;
        // The report counts towards the position clipped to the centroid so far (hazard-rules.ts).
        const counted = clippedReport(centroid(positionSums(current)), event);
        doc = await this.hazards.addSighting(
          current,
          deviceToRemember(current, event.deviceId),
          event.recordedAt,
          counted,
          now,
        );
      } else {
        doc = await this.hazards.create({
          type: event.event,
          latitude: event.latitude,
          longitude: event.longitude,
          sumLatitude: event.latitude,
          sumLongitude: event.longitude,
          positions: 1,
          cell,
          region: ngeohash.encode(event.latitude, event.longitude, 5),
          status: "reported",
          devices: [event.deviceId],
          reports: 1,
          goneVotes: [],
          firstReportedAt: event.recordedAt,
          lastSeenAt: event.recordedAt,
          updatedAt: now,
        });
        this.ctx.metrics.hazardTransitions.inc({ status: "reported" });
      }
      doc = await this.#settle(doc, now);
      changed.set(doc._id.toHexString(), doc);
    }
    return [...changed.values()];
  }

  /** `hazard:vote`: "still there" is a sighting, "gone" a vote towards `fixed`. */
  async vote(hazardId: string, stillThere: boolean, device: string): Promise<HazardSummary> {
    const now = this.ctx.clock();
    const found = await this.hazards.findById(hazardId);
    if (found === null) throw new ApiError(404, ErrorCodes.NotFound, "No hazard with this id");
    let doc = await this.#settle(found, now);
    if (doc.status === "fixed" || doc.status === "expired") {
      const summary = hazardSummary(doc, now);
      if (doc.status !== found.status) publishHazard(this.ctx, summary);
      return summary;
    }
    if (stillThere) {
      doc = await this.hazards.addSighting(doc, deviceToRemember(doc, device), now, null, now);
    } else if (doc.goneVotes.length < MAX_REMEMBERED_GONE_VOTES) {
      doc = await this.hazards.addGoneVote(doc._id, { device, at: now }, now);
    }
    doc = await this.#settle(doc, now);
    const summary = hazardSummary(doc, now);
    publishHazard(this.ctx, summary);
    return summary;
  }

  /** Marks open hazards past their expiry as expired (and announces them); returns how many. */
  async expireDue(limit = 200): Promise<number> {
    const now = this.ctx.clock();
    const due = await this.hazards.openSeenBefore(new Date(now.getTime() - EXPIRY_MS), limit);
    let expired = 0;
    for (const doc of due) {
      const settled = await this.#settle(doc, now);
      if (settled.status === "expired" && doc.status !== "expired") {
        expired += 1;
        publishHazard(this.ctx, hazardSummary(settled, now));
      }
    }
    return expired;
  }

  /** Stores the status the rules give the hazard now, once, even when two nodes decide it together. */
  async #settle(doc: HazardDoc, now: Date): Promise<HazardDoc> {
    const status = hazardStatus(hazardFacts(doc), now);
    if (status === doc.status) return doc;
    if (await this.hazards.transition(doc._id, doc.status, status, now)) {
      this.ctx.metrics.hazardTransitions.inc({ status });
    }
    return { ...doc, status };
  }
}
