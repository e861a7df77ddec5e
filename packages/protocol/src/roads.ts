import { type Static, Type } from "@sinclair/typebox";
import { Instant, ObservationEventTypes, RegionId } from "./payloads.js";

/**
 * Road data as the API and the live events show it: segments, hazards, daily history, and the ML
 * pipeline's scores. Query schemas are closed and hold scalars only, so a query string can never
 * carry an operator object.
 */

const closed = { additionalProperties: false } as const;

/** Why an observation was refused, one code per item in `rejected: [{id, code}]`. */
export const ObservationRejectCodes = {
  /** `id` missing or not a UUID; the item is then named `#<index in the batch>`. */
  BadId: "BAD_ID",
  MissingField: "MISSING_FIELD",
  UnknownField: "UNKNOWN_FIELD",
  BadCoordinates: "BAD_COORDINATES",
  BadTime: "BAD_TIME",
  InFuture: "IN_FUTURE",
  TooOld: "TOO_OLD",
  BadRoughness: "BAD_ROUGHNESS",
  BadSpeed: "BAD_SPEED",
  BadHeading: "BAD_HEADING",
  UnknownEvent: "UNKNOWN_EVENT",
} as const;
export type ObservationRejectCode = (typeof ObservationRejectCodes)[keyof typeof ObservationRejectCodes];

/** `<geohash-8>.<axis>`; see docs/road-rules.md. */
export const SEGMENT_ID_PATTERN = "^[0-9b-hjkmnp-z]{8}\\.(ns|ne|ew|nw|x)$";
export const SegmentId = Type.String({ pattern: SEGMENT_ID_PATTERN, maxLength: 11 });
export const HazardId = Type.String({ pattern: "^[0-9a-f]{24}$" });

export const QualityClassSchema = Type.Union([
  Type.Literal("good"),
  Type.Literal("fair"),
  Type.Literal("poor"),
  Type.Literal("very_poor"),
]);

const Nullable = <T extends ReturnType<typeof Type.Number> | ReturnType<typeof Type.String>>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const MlScoreSchema = Type.Object({
  score: Type.Number(),
  model: Type.String(),
  scoredAt: Type.String({ format: "date-time" }),
});
export type MlScore = Static<typeof MlScoreSchema>;

/** A segment as `segment:updated` and the read API show it. */
export const SegmentSummarySchema = Type.Object({
  id: SegmentId,
  geohash: Type.String(),
  axis: Type.String(),
  /** Centre of the segment's geohash-8 cell. */
  latitude: Type.Number(),
  longitude: Type.Number(),
  /** Every stored sample, counted or not. */
  samples: Type.Integer(),
  /** Samples that count for quality (speed gate passed). */
  count: Type.Integer(),
  /** Distinct devices behind `count` (remembered up to 16). */
  devices: Type.Integer(),
  meanIri: Nullable(Type.Number()),
  class: Type.Union([QualityClassSchema, Type.Null()]),
  /** Half-width of the 90% interval around meanIri: 1.645·σ/√n. */
  confidence: Nullable(Type.Number()),
  confident: Type.Boolean(),
  smoothness: Nullable(Type.String()),
  lastObservedAt: Nullable(Type.String({ format: "date-time" })),
  ml: Type.Union([MlScoreSchema, Type.Null()]),
  /** When the server last changed it: a device's `region:sync` cursor. */
  updatedAt: Type.String({ format: "date-time" }),
});
export type SegmentSummary = Static<typeof SegmentSummarySchema>;

export const HazardStatuses = ["reported", "confirmed", "fixed", "expired"] as const;
export type HazardStatusName = (typeof HazardStatuses)[number];
export const HazardStatusSchema = Type.Union(HazardStatuses.map((s) => Type.Literal(s)));
export const HazardTypeSchema = Type.Union(ObservationEventTypes.map((e) => Type.Literal(e)));

/** A hazard as `hazard:updated` and the read API show it. */
export const HazardSummarySchema = Type.Object({
  id: HazardId,
  type: HazardTypeSchema,
  latitude: Type.Number(),
  longitude: Type.Number(),
  status: HazardStatusSchema,
  /** Distinct accounts that saw it (remembered up to 10): 3 confirm it. */
  reporters: Type.Integer(),
  reports: Type.Integer(),
  firstReportedAt: Type.String({ format: "date-time" }),
  lastSeenAt: Type.String({ format: "date-time" }),
  expiresAt: Type.String({ format: "date-time" }),
  /** When the server last changed it: a device's `region:sync` cursor. */
  updatedAt: Type.String({ format: "date-time" }),
});
export type HazardSummary = Static<typeof HazardSummarySchema>;

/**
 * The largest box a read covers: at most 0.25 square degrees (a 0.5° × 0.5° square, ≈ 55 km × 31 km
 * at 55° N) and at most 1° on either side, so every read is a bounded cover of geohash-5 cells. The
 * server refuses larger boxes (roads/bbox.ts); a map client zooms in before asking.
 */
export const MAX_BBOX_AREA_SQUARE_DEGREES = 0.25;
export const MAX_BBOX_SIDE_DEGREES = 1;

/**
 * `minLon,minLat,maxLon,maxLat` in degrees (GeoJSON order), each number as JavaScript prints a
 * double (`String(x)`: up to 17 significant digits, exponent form for tiny values such as `1e-7`),
 * so a map client's `getBounds().toBBoxString()` is taken as it is. The length bound only stops
 * absurd input; the server caps the box's area, not its spelling.
 */
const BBOX_NUMBER = "-?\\d{1,3}(\\.\\d{1,30})?([eE][-+]?\\d{1,3})?";
export const BBOX_PATTERN = `^${BBOX_NUMBER}(,${BBOX_NUMBER}){3}$`;
export const BboxParam = Type.String({
  pattern: BBOX_PATTERN,
  maxLength: 200,
  description:
    `minLon,minLat,maxLon,maxLat (degrees, full precision); area at most ${MAX_BBOX_AREA_SQUARE_DEGREES} ` +
    `square degrees, sides at most ${MAX_BBOX_SIDE_DEGREES}°`,
});
export const MAX_PAGE = 500;
export const MAX_EXPORT_PAGE = 5000;
const Limit = (max: number, fallback: number) => Type.Integer({ minimum: 1, maximum: max, default: fallback });

export const SegmentsQuerySchema = Type.Object(
  {
    bbox: Type.Optional(BboxParam),
    geohash: Type.Optional(
      Type.String({ pattern: "^[0-9b-hjkmnp-z]{4,8}$", description: "segments whose cell lies in this geohash" }),
    ),
    limit: Type.Optional(Limit(MAX_PAGE, 100)),
    after: Type.Optional(SegmentId),
  },
  closed,
);
export type SegmentsQuery = Static<typeof SegmentsQuerySchema>;

export const SegmentPageSchema = Type.Object({
  items: Type.Array(SegmentSummarySchema),
  /** Pass as `after` for the next page; `null` on the last page. */
  next: Type.Union([SegmentId, Type.Null()]),
});
export type SegmentPage = Static<typeof SegmentPageSchema>;

export const ExportQuerySchema = Type.Object(
  {
    bbox: BboxParam,
    limit: Type.Optional(Limit(MAX_EXPORT_PAGE, 1000)),
    after: Type.Optional(SegmentId),
  },
  closed,
);
export type ExportQuery = Static<typeof ExportQuerySchema>;

export const HazardsQuerySchema = Type.Object(
  {
    bbox: BboxParam,
    status: Type.Optional(HazardStatusSchema),
    limit: Type.Optional(Limit(MAX_PAGE, 100)),
    after: Type.Optional(HazardId),
  },
  closed,
);
export type HazardsQuery = Static<typeof HazardsQuerySchema>;

export const HazardPageSchema = Type.Object({
  items: Type.Array(HazardSummarySchema),
  next: Type.Union([HazardId, Type.Null()]),
});
export type HazardPage = Static<typeof HazardPageSchema>;

export const Day = Type.String({ pattern: "^\\d{4}-\\d{2}-\\d{2}$", format: "date" });
/** Longest span of one daily-history request. */
export const MAX_DAILY_SPAN_DAYS = 366;

export const DailyQuerySchema = Type.Object(
  {
    region: Type.String({ pattern: "^[0-9b-hjkmnp-z]{5}$", description: "geohash-5 region" }),
    from: Day,
    to: Day,
  },
  closed,
);
export type DailyQuery = Static<typeof DailyQuerySchema>;

export const DailyStatsSchema = Type.Object({
  day: Type.String(),
  /** Every observation recorded that day in the region. */
  observations: Type.Integer(),
  /** Observations that counted for quality. */
  counted: Type.Integer(),
  meanIri: Nullable(Type.Number()),
  potholes: Type.Integer(),
  bumps: Type.Integer(),
});
export type DailyStats = Static<typeof DailyStatsSchema>;

export const DailyPageSchema = Type.Object({
  region: RegionId,
  from: Type.String(),
  to: Type.String(),
  /** Days with data, ascending; days without observations are absent. */
  items: Type.Array(DailyStatsSchema),
});
export type DailyPage = Static<typeof DailyPageSchema>;

export const MAX_ML_BATCH = 500;
export const MlScoresBodySchema = Type.Object(
  {
    scores: Type.Array(
      Type.Object(
        {
          segmentId: SegmentId,
          score: Type.Number({ minimum: 0, maximum: 1, description: "model score, 0–1" }),
          model: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,64}$" }),
        },
        closed,
      ),
      { minItems: 1, maxItems: MAX_ML_BATCH },
    ),
  },
  closed,
);
export type MlScoresBody = Static<typeof MlScoresBodySchema>;

export const MlScoresResultSchema = Type.Object({
  updated: Type.Integer(),
  /** Segment ids that do not exist (nothing stored for them). */
  unknown: Type.Array(Type.String()),
});
export type MlScoresResult = Static<typeof MlScoresResultSchema>;

export const HazardVoteAckSchema = Type.Object({ hazard: HazardSummarySchema });

/** Most segments, and most hazards, one `region:sync` answers with. */
export const MAX_SYNC_ITEMS = 500;

/**
 * `region:sync`: what changed around the device's region (its own and the 8 around it, as live
 * updates reach it) since `since`: the newest `updatedAt` the device saw, or the last answer's
 * `until`. A device sends it after it reconnects (and after its first `location:update`, which puts
 * it in its region).
 */
export const RegionSyncSchema = Type.Object(
  {
    since: Instant,
    /** Items per kind at most (default and maximum MAX_SYNC_ITEMS). */
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SYNC_ITEMS })),
  },
  closed,
);
export type RegionSync = Static<typeof RegionSyncSchema>;

export const RegionSyncAckSchema = Type.Object({
  /** The region the answer covers (with its 8 neighbours). */
  regionId: Type.String(),
  /** Changed since `since` (a few seconds before it, for clocks that differ), oldest change first; may repeat what the device has. */
  segments: Type.Array(SegmentSummarySchema),
  hazards: Type.Array(HazardSummarySchema),
  /** The server's time of the answer: the next `region:sync`'s `since` if no live update is newer. */
  until: Type.String({ format: "date-time" }),
  /**
   * False when more changed than `limit` of a kind: the answer holds the oldest changes only, and the
   * device should read its area again (`GET /api/segments?bbox=…`, `GET /api/hazards?bbox=…`).
   */
  complete: Type.Boolean(),
});
export type RegionSyncAck = Static<typeof RegionSyncAckSchema>;
