import { distanceMetres, type Point } from "./distance.js";

/**
 * Hazard rules (potholes and bumps). A hazard is a cluster of event reports:
 * - an event within 15 m of open hazards of the same type joins the one opened first, else it opens
 *   a new hazard (`reported`);
 * - it is `confirmed` once 3 distinct accounts have seen it (an event, or a "still there" vote) and,
 *   where the devices passing it are counted, it has a report per 5 passes at least; once
 *   confirmed it stays so until fixed or expired;
 * - it is `fixed` when 2 distinct accounts have voted "gone" within the last 30 days, each vote newer
 *   than the last sighting (a newer report or "still there" vote outweighs older "gone" votes);
 * Accounts, not devices: one person with three phones (or three registered device ids) is one
 * witness, and each account has one "gone" vote per hazard, its newest.
 * - it `expired` 90 days after its last sighting.
 * `fixed` and `expired` are final: a later event at the same place opens a new hazard.
 */
export const HAZARD_TYPES = ["pothole", "bump"] as const;
export type HazardType = (typeof HAZARD_TYPES)[number];
export const HAZARD_STATUSES = ["reported", "confirmed", "fixed", "expired"] as const;
export type HazardStatus = (typeof HAZARD_STATUSES)[number];

export const JOIN_RADIUS_METRES = 15;
export const CONFIRMING_REPORTERS = 3;
/**
 * Passes a hazard may have per report and still be confirmed: one device in 5 that pass it must
 * report it. A fixed number of accounts does not scale with traffic: phones also report potholes
 * where there are none (the `truth` scenario sends 5 % of real reports as such), and where a
 * thousand devices drive the same 2 km, three of those land within 15 m of each other again and
 * again: 43–56 such hazards were confirmed in one `truth` run with 1,000 devices, against 8 real
 * potholes. A real pothole is reported by most devices that pass it (90 % in `truth`), such a
 * cluster by about one in 200 (3–16 reports in ~1,000 passes).
 *
 * Why 5 and not 20: the rule is met the first time the third account reports, and early on the
 * counts are small. Modelled (a stream of passes, each reporting with probability p), a cluster of
 * mistaken reports at p = 0.54 % is confirmed within 1,000 passes 6 % of the time with one report
 * per 20 passes (3 reports in the first 60 passes; measured: 7 false hazards in a `truth` run with
 * 1,000 devices), 1 % with one per 10, 0.3 % with one per 5. A pothole felt by 20 % of the devices
 * that pass it is confirmed 99 % of the time (after ~20 passes), one felt by 10 % about half the
 * time; one felt by fewer stays `reported` until votes or more reports make up for it.
 */
export const CONFIRMING_PASSES_PER_REPORT = 5;
/** A device whose observation lies this close to a hazard passed it (1 Hz at 20 m/s still does). */
export const PASS_RADIUS_METRES = 30;
/** Observations of one device near one hazard less than this apart belong to one pass. */
export const PASS_GAP_MS = 60_000;
export const FIXING_VOTERS = 2;
export const FIX_VOTE_WINDOW_MS = 30 * 24 * 3600 * 1000;
export const EXPIRY_MS = 90 * 24 * 3600 * 1000;
/**
 * Distinct accounts remembered per hazard. Every rule needs at most 3, so the list stops growing
 * there with some margin: a hazard on a motorway does not collect thousands of ids.
 */
export const MAX_REMEMBERED_REPORTERS = 10;
/** "Gone" votes kept per hazard; votes that no longer count make room (see `staleGoneVoters`). */
export const MAX_REMEMBERED_GONE_VOTES = 20;
/**
 * Ids of the newest reports (observation ids) a hazard remembers, so a report applied again (a
 * round re-applied after its node died, see ingest-journal.ts) is recognised and not counted
 * twice. A round is re-applied within minutes; a hazard gets far fewer reports than this meanwhile.
 */
export const MAX_REMEMBERED_REPORTS = 64;

/** The report ids a hazard remembers once `id` is counted: the newest MAX_REMEMBERED_REPORTS. */
export function rememberReport(ids: readonly string[], id: string): string[] {
  const kept = ids.filter((known) => known !== id);
  kept.push(id);
  return kept.slice(-MAX_REMEMBERED_REPORTS);
}

export interface GoneVote {
  /** The voting account. */
  voter: string;
  at: Date;
}

export interface HazardFacts extends Point {
  type: HazardType;
  /** Status as last stored; only `fixed` and `expired` constrain the outcome (they are final). */
  status: HazardStatus;
  /** Distinct accounts that reported the hazard or voted it still there. */
  reporters: string[];
  /** Newest report or "still there" vote. */
  lastSeenAt: Date;
  goneVotes: GoneVote[];
  /** Pothole/bump events counted on it. */
  reports?: number;
  /** Passes by devices counted since it opened (see PASS_RADIUS_METRES); absent when not counted. */
  passes?: number;
}

export function isFinal(status: HazardStatus): boolean {
  return status === "fixed" || status === "expired";
}

export function expiresAt(facts: Pick<HazardFacts, "lastSeenAt">): Date {
  return new Date(facts.lastSeenAt.getTime() + EXPIRY_MS);
}

/** Whether a "gone" vote counts at `now`: within the window and newer than the last sighting. */
function voteCounts(vote: GoneVote, lastSeenAt: Date, now: Date): boolean {
  const at = vote.at.getTime();
  return at > lastSeenAt.getTime() && at >= now.getTime() - FIX_VOTE_WINDOW_MS && at <= now.getTime();
}

/** Distinct accounts whose "gone" vote counts at `now`. */
export function currentGoneVoters(facts: HazardFacts, now: Date): number {
  const voters = new Set<string>();
  for (const vote of facts.goneVotes) if (voteCounts(vote, facts.lastSeenAt, now)) voters.add(vote.voter);
  return voters.size;
}

/**
 * The voters whose votes can never count again (a sighting came after them, or they left the
 * window): they make room, so accounts that voted long ago cannot fill a hazard's votes for good.
 */
export function staleGoneVoters(facts: HazardFacts, now: Date): string[] {
  return facts.goneVotes.filter((vote) => !voteCounts(vote, facts.lastSeenAt, now)).map((vote) => vote.voter);
}

/**
 * Whether the hazard's reports are a plausible share of the passes counted by it. Passes are
 * counted from the next aggregation round after a hazard opens, by nodes that reach Redis, so a
 * hazard with none counted (new, on a quiet road, or stored before passes were counted) is judged
 * on its accounts alone, as before.
 */
export function reportedByEnoughPasses(facts: Pick<HazardFacts, "reports" | "passes">): boolean {
  const passes = facts.passes ?? 0;
  return passes <= 0 || (facts.reports ?? 0) * CONFIRMING_PASSES_PER_REPORT >= passes;
}

/** The status the facts imply at `now`. */
export function hazardStatus(facts: HazardFacts, now: Date): HazardStatus {
  if (isFinal(facts.status)) return facts.status;
  if (currentGoneVoters(facts, now) >= FIXING_VOTERS) return "fixed";
  if (now.getTime() > expiresAt(facts).getTime()) return "expired";
  // Confirmed stays confirmed: more traffic past a pothole nobody reports any more is the business
  // of "gone" votes and expiry, not of a hazard that flickers back to "reported".
  if (facts.status === "confirmed") return "confirmed";
  const accounts = new Set(facts.reporters).size;
  return accounts >= CONFIRMING_REPORTERS && reportedByEnoughPasses(facts) ? "confirmed" : "reported";
}

/**
 * The status a stored hazard has at `now`, as reads give it: the status last settled (by a report,
 * a vote or the expiry sweep, with every fact at hand, passes included), and expired once its time
 * is up, which happens without a write. Not `hazardStatus` of the document alone: its passes are not
 * on it, and its accounts alone would call confirmed a hazard its passes hold back.
 */
export function settledStatusAt(facts: Pick<HazardFacts, "status" | "lastSeenAt">, now: Date): HazardStatus {
  if (isFinal(facts.status)) return facts.status;
  return now.getTime() > expiresAt(facts).getTime() ? "expired" : facts.status;
}

export interface HazardCandidate extends HazardFacts {
  id: string;
}

/**
 * Of the open hazards of the same type within the join radius of `point`, the one opened first, or
 * `null` when the event should open a new hazard. "First" is the smallest id: hazard ids are
 * ObjectIds, which begin with their creation time, so every node (and the Redis script in
 * roads/hazard-cluster.lua) picks the same one.
 *
 * Not the nearest: a hazard opened within the radius of an older one is nearly always a satellite,
 * opened by one report from the far tail of GPS error (beyond 15 m of the centroid, about one report
 * in a thousand with σ = 4 m). Joining the nearest lets a satellite take every report on its side;
 * its centroid then moves in, takes more, and one busy pothole ends as two hazards about 6 m apart.
 * Joining the first keeps the satellite to the rare reports beyond the first one's radius. The
 * price: two real potholes closer than the radius show as one hazard between them.
 */
export function matchHazard(
  point: Point,
  type: HazardType,
  candidates: HazardCandidate[],
  now: Date,
): HazardCandidate | null {
  let best: HazardCandidate | null = null;
  for (const candidate of candidates) {
    if (candidate.type !== type) continue;
    if (isFinal(hazardStatus(candidate, now))) continue;
    if (distanceMetres(point, candidate) > JOIN_RADIUS_METRES) continue;
    if (best === null || candidate.id < best.id) best = candidate;
  }
  return best;
}

/**
 * A hazard's position follows its reports: it is the centroid of every report, each one first
 * pulled to within POSITION_CLIP_METRES of the centroid so far (a Huber-style clip). GPS error is
 * about 4 m per axis, so honest reports lie well inside the clip and count in full; one wild
 * report (it can be up to JOIN_RADIUS_METRES away and still join) moves a hazard seen n times by at
 * most POSITION_CLIP_METRES / n. Kept as sums and a count so a store can fold reports with `$inc`.
 */
export const POSITION_CLIP_METRES = 10;

export interface PositionSums {
  sumLatitude: number;
  sumLongitude: number;
  /** Reports behind the sums. */
  positions: number;
}

export function centroid(sums: PositionSums): Point {
  return { latitude: sums.sumLatitude / sums.positions, longitude: sums.sumLongitude / sums.positions };
}

/** The report as it counts towards the centroid: moved towards `centre` to at most the clip distance. */
export function clippedReport(centre: Point, report: Point, clipMetres = POSITION_CLIP_METRES): Point {
  const distance = distanceMetres(centre, report);
  if (distance <= clipMetres) return { latitude: report.latitude, longitude: report.longitude };
  const keep = clipMetres / distance;
  return {
    latitude: centre.latitude + (report.latitude - centre.latitude) * keep,
    longitude: centre.longitude + (report.longitude - centre.longitude) * keep,
  };
}

/** Folds reports, in order, into a hazard's position sums (a new hazard starts from its first report). */
export function foldPositions(sums: PositionSums | null, reports: Point[]): PositionSums | null {
  let current = sums;
  for (const report of reports) {
    if (current === null || current.positions <= 0) {
      current = { sumLatitude: report.latitude, sumLongitude: report.longitude, positions: 1 };
      continue;
    }
    const counted = clippedReport(centroid(current), report);
    current = {
      sumLatitude: current.sumLatitude + counted.latitude,
      sumLongitude: current.sumLongitude + counted.longitude,
      positions: current.positions + 1,
    };
  }
  return current;
}
