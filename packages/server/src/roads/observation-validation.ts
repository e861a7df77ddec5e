import {
  type Observation,
  ObservationRejectCodes,
  ObservationSchema,
  type RejectedObservation,
} from "@roadpulse/protocol";
import type { ErrorObject } from "ajv";
import { checkRecordedAt } from "../domain/observation-rules.js";
import { createPayloadAjv } from "../validation.js";

const validateObservation = createPayloadAjv().compile<Observation>(ObservationSchema);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const FIELD_CODES: Record<string, string> = {
  latitude: ObservationRejectCodes.BadCoordinates,
  longitude: ObservationRejectCodes.BadCoordinates,
  recordedAt: ObservationRejectCodes.BadTime,
  roughness: ObservationRejectCodes.BadRoughness,
  speed: ObservationRejectCodes.BadSpeed,
  heading: ObservationRejectCodes.BadHeading,
  event: ObservationRejectCodes.UnknownEvent,
  id: ObservationRejectCodes.BadId,
};

function codeFor(error: ErrorObject | undefined): string {
  if (error === undefined) return ObservationRejectCodes.MissingField;
  if (error.keyword === "additionalProperties") return ObservationRejectCodes.UnknownField;
  if (error.keyword === "required") {
    const field = String(error.params.missingProperty);
    return field === "id" ? ObservationRejectCodes.BadId : ObservationRejectCodes.MissingField;
  }
  const field = error.instancePath.split("/")[1] ?? "";
  return FIELD_CODES[field] ?? ObservationRejectCodes.MissingField;
}

export interface ValidatedBatch {
  valid: Observation[];
  rejected: RejectedObservation[];
}

/**
 * Checks a batch item by item: a bad item is named in `rejected` with a code and the rest go on.
 * An item is named by its `id` when that is a UUID, else by `#<index>` in the batch. Ids are
 * lower-cased, so one UUID spelled in two cases is still one observation.
 */
export function validateObservations(items: unknown[], now: Date): ValidatedBatch {
  const valid: Observation[] = [];
  const rejected: RejectedObservation[] = [];
  items.forEach((item, index) => {
    const rawId = typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined;
    const id = typeof rawId === "string" && UUID.test(rawId) ? rawId.toLowerCase() : `#${index}`;
    // The batch schema already refuses non-object items; anything without a usable id stops here.
    if (id.startsWith("#") || typeof item !== "object" || item === null) {
      rejected.push({ id, code: ObservationRejectCodes.BadId });
      return;
    }
    if (!validateObservation(item)) {
      rejected.push({ id, code: codeFor(validateObservation.errors?.[0]) });
      return;
    }
    const verdict = checkRecordedAt(new Date(item.recordedAt), now);
    if (verdict !== "ok") {
      rejected.push({ id, code: verdict });
      return;
    }
    valid.push({ ...item, id });
  });
  return { valid, rejected };
}
