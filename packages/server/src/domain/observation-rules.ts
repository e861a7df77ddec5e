/**
 * Rules on a single observation that a schema cannot express: when it may have been recorded.
 * Devices upload offline batches later, so the past is allowed up to 30 days; the future only by a
 * few minutes of clock skew.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
export const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export type TimeVerdict = "ok" | "IN_FUTURE" | "TOO_OLD";

export function checkRecordedAt(recordedAt: Date, now: Date): TimeVerdict {
  const at = recordedAt.getTime();
  if (!Number.isFinite(at)) return "TOO_OLD";
  if (at > now.getTime() + MAX_FUTURE_SKEW_MS) return "IN_FUTURE";
  if (at < now.getTime() - MAX_AGE_MS) return "TOO_OLD";
  return "ok";
}

/** UTC calendar day `YYYY-MM-DD` of an instant: the key of daily history. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
