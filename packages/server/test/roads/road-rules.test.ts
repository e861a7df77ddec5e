import { describe, expect, it } from "vitest";
import { distanceMetres } from "../../src/domain/distance.js";
import {
  centroid,
  clippedReport,
  EXPIRY_MS,
  FIX_VOTE_WINDOW_MS,
  foldPositions,
  type HazardCandidate,
  type HazardFacts,
  hazardStatus,
  MAX_REMEMBERED_REPORTS,
  matchHazard,
  rememberReport,
  settledStatusAt,
  staleGoneVoters,
} from "../../src/domain/hazard-rules.js";
import { checkRecordedAt, utcDay } from "../../src/domain/observation-rules.js";
import { parseSegmentKey, roadAxis, segmentKey } from "../../src/domain/segment-key.js";
import { qualityClass, segmentQuality, smoothness, standardDeviation } from "../../src/domain/segment-quality.js";
import { countsForQuality } from "../../src/domain/speed-gate.js";

const kmh = (value: number) => value / 3.6;
const DAY = 24 * 3600 * 1000;

describe("segment keys", () => {
  it.each([
    [undefined, "x"],
    [0, "ns"],
    [22.4, "ns"],
    [22.5, "ne"],
    [45, "ne"],
    [90, "ew"],
    [112.4, "ew"],
    [135, "nw"],
    [157.5, "ns"],
    [180, "ns"],
    [225, "ne"],
    [270, "ew"],
    [315, "nw"],
    [359.9, "ns"],
    [360, "ns"],
  ])("heading %s lies on axis %s", (heading, axis) => {
    expect(roadAxis(heading)).toBe(axis);
  });

  it("keys a sample by its geohash-8 cell and axis; both directions share a key, crossing roads do not", () => {
    const north = segmentKey(57.64911, 10.40744, 2);
    const south = segmentKey(57.64911, 10.40744, 182);
    const east = segmentKey(57.64911, 10.40744, 91);
    expect(north).toBe("u4pruydq.ns");
    expect(south).toBe(north);
    expect(east).toBe("u4pruydq.ew");
    expect(segmentKey(57.64911, 10.40744, undefined)).toBe("u4pruydq.x");
  });

  it("parses keys back to their cell centre and refuses anything else", () => {
    const parsed = parseSegmentKey("u4pruydq.ew");
    expect(parsed).toMatchObject({ geohash: "u4pruydq", axis: "ew" });
    // The centre of a 38 m × 19 m cell is within ~21 m of any point inside it.
    expect(
      distanceMetres(parsed ?? { latitude: 0, longitude: 0 }, { latitude: 57.64911, longitude: 10.40744 }),
    ).toBeLessThan(22);
    for (const bad of ["u4pruydq", "u4pruydq.up", "u4pruyd.ew", "u4pruydqa.ew", "U4PRUYDQ.ew", "u4pruydo.ew"]) {
      expect(parseSegmentKey(bad)).toBeNull();
    }
  });
});

describe("speed gating", () => {
  it.each([
    [undefined, false],
    [0, false],
    [kmh(14.9), false],
    [kmh(15), true],
    [kmh(90), true],
    [kmh(160), true],
    [kmh(160.1), false],
    [100, false],
  ])("speed %s m/s counts: %s", (speed, counts) => {
    expect(countsForQuality(speed)).toBe(counts);
  });
});

describe("segment quality", () => {
  it.each([
    [0, "good", "excellent"],
    [1.49, "good", "excellent"],
    [1.99, "good", "good"],
    [2, "fair", "intermediate"],
    [3.99, "fair", "intermediate"],
    [4, "poor", "bad"],
    [6, "poor", "bad"],
    [6.01, "very_poor", "very_bad"],
    [10.5, "very_poor", "horrible"],
  ])("mean IRI %s is %s (OSM %s)", (iri, cls, osm) => {
    expect(qualityClass(iri)).toBe(cls);
    expect(smoothness(iri)).toBe(osm);
  });

  it("computes mean, σ and the 1.645·σ/√n interval from running sums", () => {
    const samples = [2, 4, 4, 4, 5, 5, 7, 9];
    const sum = samples.reduce((a, b) => a + b, 0);
    const sumSquares = samples.reduce((a, b) => a + b * b, 0);
    const sigma = Math.sqrt(32 / 7);
    expect(standardDeviation(samples.length, sum, sumSquares)).toBeCloseTo(sigma, 12);
    const quality = segmentQuality({ count: samples.length, sum, sumSquares, devices: 2 });
    expect(quality.meanIri).toBe(5);
    expect(quality.qualityClass).toBe("poor");
    expect(quality.confidence).toBeCloseTo((1.645 * sigma) / Math.sqrt(8), 12);
    expect(quality).toMatchObject({ confident: true, smoothness: "bad" });
  });

  it.each([
    [{ count: 0, sum: 0, sumSquares: 0, devices: 0 }, false, null],
    [{ count: 1, sum: 3, sumSquares: 9, devices: 1 }, false, null],
    [{ count: 2, sum: 6, sumSquares: 18, devices: 2 }, false, 0],
    [{ count: 3, sum: 9, sumSquares: 27, devices: 1 }, false, 0],
    [{ count: 3, sum: 9, sumSquares: 27, devices: 2 }, true, 0],
  ])("%o is confident: %s (interval %s)", (sums, confident, confidence) => {
    const quality = segmentQuality(sums);
    expect(quality.confident).toBe(confident);
    expect(quality.confidence).toBe(confidence);
    expect(quality.smoothness === null).toBe(!confident);
  });

  it("never reports a negative variance from rounding", () => {
    const n = 1000;
    const x = 3.3;
    expect(standardDeviation(n, n * x, n * x * x * (1 - 1e-15))).toBe(0);
  });
});

describe("observation time window", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  it.each([
    ["2026-06-01T12:04:59Z", "ok"],
    ["2026-06-01T12:05:01Z", "IN_FUTURE"],
    ["2026-05-02T12:00:01Z", "ok"],
    ["2026-05-02T11:59:59Z", "TOO_OLD"],
  ])("%s is %s", (at, verdict) => {
    expect(checkRecordedAt(new Date(at), now)).toBe(verdict);
  });
  it("days are UTC calendar days", () => {
    expect(utcDay(new Date("2026-06-01T23:59:59-02:00"))).toBe("2026-06-02");
  });
});

describe("hazard rules", () => {
  const now = new Date("2026-06-01T12:00:00Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const base: HazardFacts = {
    type: "pothole",
    latitude: 48.8566,
    longitude: 2.3522,
    status: "reported",
    reporters: ["a"],
    lastSeenAt: ago(DAY),
    goneVotes: [],
  };

  it.each<[string, Partial<HazardFacts>, string]>([
    ["one account", {}, "reported"],
    ["two accounts", { reporters: ["a", "b"] }, "reported"],
    ["three distinct accounts", { reporters: ["a", "b", "c"] }, "confirmed"],
    ["one gone vote", { goneVotes: [{ voter: "x", at: ago(1000) }] }, "reported"],
    [
      "two gone votes by one account",
      {
        goneVotes: [
          { voter: "x", at: ago(1000) },
          { voter: "x", at: ago(500) },
        ],
      },
      "reported",
    ],
    [
      "two accounts say gone",
      {
        reporters: ["a", "b", "c"],
        goneVotes: [
          { voter: "x", at: ago(1000) },
          { voter: "y", at: ago(500) },
        ],
      },
      "fixed",
    ],
    [
      "a gone vote older than 30 days",
      {
        lastSeenAt: ago(40 * DAY),
        goneVotes: [
          { voter: "x", at: ago(FIX_VOTE_WINDOW_MS + 1000) },
          { voter: "y", at: ago(500) },
        ],
      },
      "reported",
    ],
    [
      "gone votes followed by a newer sighting",
      {
        lastSeenAt: ago(100),
        goneVotes: [
          { voter: "x", at: ago(1000) },
          { voter: "y", at: ago(500) },
        ],
      },
      "reported",
    ],
    ["last seen 90 days ago, exactly", { lastSeenAt: ago(EXPIRY_MS) }, "reported"],
    ["last seen over 90 days ago", { reporters: ["a", "b", "c"], lastSeenAt: ago(EXPIRY_MS + 1) }, "expired"],
    [
      "three accounts, 3 reports, 15 passes (one in 5)",
      { reporters: ["a", "b", "c"], reports: 3, passes: 15 },
      "confirmed",
    ],
    ["three accounts, 3 reports, 16 passes", { reporters: ["a", "b", "c"], reports: 3, passes: 16 }, "reported"],
    ["three accounts, 16 reports, 1,000 passes", { reporters: ["a", "b", "c"], reports: 16, passes: 1000 }, "reported"],
    [
      "three accounts, 900 reports, 1,000 passes",
      { reporters: ["a", "b", "c"], reports: 900, passes: 1000 },
      "confirmed",
    ],
    ["two accounts, 900 reports, 1,000 passes", { reporters: ["a", "b"], reports: 900, passes: 1000 }, "reported"],
    ["three accounts, passes not counted", { reporters: ["a", "b", "c"], reports: 3 }, "confirmed"],
    [
      "confirmed, then passed by many",
      { status: "confirmed", reporters: ["a", "b", "c"], reports: 3, passes: 10_000 },
      "confirmed",
    ],
    [
      "confirmed, then two accounts say gone",
      {
        status: "confirmed",
        reporters: ["a", "b", "c"],
        goneVotes: [
          { voter: "x", at: ago(1000) },
          { voter: "y", at: ago(500) },
        ],
      },
      "fixed",
    ],
    ["confirmed, last seen over 90 days ago", { status: "confirmed", lastSeenAt: ago(EXPIRY_MS + 1) }, "expired"],
    ["already fixed, new accounts", { status: "fixed", reporters: ["a", "b", "c", "d"] }, "fixed"],
    ["already expired", { status: "expired" }, "expired"],
  ])("%s → %s", (_what, facts, status) => {
    expect(hazardStatus({ ...base, ...facts }, now)).toBe(status);
  });

  it.each<[string, Partial<HazardFacts>, string]>([
    ["reported by three accounts, held back by its passes", { reporters: ["a", "b", "c"] }, "reported"],
    ["confirmed", { status: "confirmed" }, "confirmed"],
    ["confirmed, last seen over 90 days ago", { status: "confirmed", lastSeenAt: ago(EXPIRY_MS + 1) }, "expired"],
    ["reported, last seen over 90 days ago", { lastSeenAt: ago(EXPIRY_MS + 1) }, "expired"],
    ["fixed", { status: "fixed" }, "fixed"],
  ])("reads a stored hazard that is %s as %s", (_what, facts, status) => {
    expect(settledStatusAt({ ...base, ...facts }, now)).toBe(status);
  });

  it("makes room among gone votes only with votes that can never count again", () => {
    const facts: HazardFacts = {
      ...base,
      lastSeenAt: ago(10 * DAY),
      goneVotes: [
        { voter: "before the last sighting", at: ago(11 * DAY) },
        { voter: "outside the window", at: ago(FIX_VOTE_WINDOW_MS + 1000) },
        { voter: "current", at: ago(DAY) },
      ],
    };
    expect(staleGoneVoters(facts, now).sort()).toEqual(["before the last sighting", "outside the window"]);
    expect(staleGoneVoters({ ...facts, lastSeenAt: ago(40 * DAY) }, now)).toEqual(["outside the window"]);
  });

  it("joins the first-opened (smallest id) open hazard of the same type within 15 m, else none", () => {
    const at = (id: string, metresNorth: number, extra: Partial<HazardCandidate> = {}): HazardCandidate => ({
      ...base,
      id,
      latitude: base.latitude + metresNorth / 111_195,
      ...extra,
    });
    const point = { latitude: base.latitude, longitude: base.longitude };
    // Ids order hazards as ObjectIds do: by creation time.
    expect(matchHazard(point, "pothole", [at("3-far", 15.5), at("2-near", 14), at("1-nearer", 6)], now)?.id).toBe(
      "1-nearer",
    );
    // A satellite opened later nearer to the report does not take it from the first hazard.
    expect(
      matchHazard(point, "pothole", [at("0-out of reach", 15.5), at("2-satellite", 2), at("1-first", 14)], now)?.id,
    ).toBe("1-first");
    // Nor does a first hazard that is closed, of another type, or out of reach.
    expect(
      matchHazard(
        point,
        "pothole",
        [at("0-fixed", 1, { status: "fixed" }), at("0-bump", 1, { type: "bump" }), at("2-open", 9)],
        now,
      )?.id,
    ).toBe("2-open");
    expect(matchHazard(point, "pothole", [at("far", 15.5)], now)).toBeNull();
    expect(matchHazard(point, "bump", [at("other type", 1)], now)).toBeNull();
    expect(matchHazard(point, "pothole", [at("fixed", 1, { status: "fixed" })], now)).toBeNull();
    expect(matchHazard(point, "pothole", [at("stale", 1, { lastSeenAt: ago(EXPIRY_MS + 1) })], now)).toBeNull();
  });

  describe("position", () => {
    const north = (metres: number, east = 0) => ({
      latitude: base.latitude + metres / 111_195,
      longitude: base.longitude + east / (111_195 * Math.cos((base.latitude * Math.PI) / 180)),
    });
    const truth = north(0);

    it.each([
      ["a report inside the clip counts as it is", 6, 6],
      ["a report at the clip distance counts as it is", 10, 10],
      ["a report beyond the clip is pulled in to it", 14, 10],
    ])("%s", (_what, metres, counted) => {
      expect(distanceMetres(truth, clippedReport(truth, north(metres)))).toBeCloseTo(counted, 3);
    });

    it("starts at the first report and becomes the mean of reports that agree", () => {
      const sums = foldPositions(null, [north(2), north(-2), north(0, 3), north(0, -3)]);
      expect(sums?.positions).toBe(4);
      expect(distanceMetres(truth, centroid(sums as NonNullable<typeof sums>))).toBeLessThan(0.01);
      expect(foldPositions(sums, [])).toEqual(sums);
    });

    it("converges on the pothole as devices confirm it, where the first report stays off", () => {
      // Deterministic GPS noise, σ ≈ 4 m per axis (Box–Muller over a fixed LCG).
      let seed = 42;
      const uniform = () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return (seed + 1) / (2 ** 31 + 1);
      };
      const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      let firstError = 0;
      let centroidError = 0;
      const runs = 200;
      for (let run = 0; run < runs; run += 1) {
        const reports = Array.from({ length: 10 }, () => north(4 * gauss(), 4 * gauss()));
        firstError += distanceMetres(truth, reports[0] as (typeof reports)[0]);
        centroidError += distanceMetres(
          truth,
          centroid(foldPositions(null, reports) as NonNullable<ReturnType<typeof foldPositions>>),
        );
      }
      expect(firstError / runs).toBeGreaterThan(4);
      expect(centroidError / runs).toBeLessThan(2);
    });

    it("moves by at most the clip over n for one wild report", () => {
      const agreeing = foldPositions(null, [north(0), north(0), north(0), north(0)]);
      const after = foldPositions(agreeing, [north(15)]);
      expect(distanceMetres(truth, centroid(after as NonNullable<typeof after>))).toBeCloseTo(10 / 5, 3);
    });
  });
});

describe("report ids a hazard remembers (exactly-once reports)", () => {
  const many = Array.from({ length: MAX_REMEMBERED_REPORTS }, (_, i) => `r${i}`);
  it.each([
    ["the first report", [], "a", ["a"]],
    ["a new report, newest last", ["a", "b"], "c", ["a", "b", "c"]],
    ["a report already remembered, once", ["a", "b"], "a", ["b", "a"]],
    ["a full list, which forgets its oldest", many, "new", [...many.slice(1), "new"]],
  ])("%s", (_, ids, id, expected) => {
    expect(rememberReport(ids, id)).toEqual(expected);
  });
});
