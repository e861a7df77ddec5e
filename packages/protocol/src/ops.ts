import { type Static, Type } from "@sinclair/typebox";
import { HealthSchema } from "./health.js";
import { BboxParam } from "./roads.js";

/**
 * What the live ops map (`/map`) reads besides the open road data: the nodes of the cluster with
 * their health, and how many devices are in each region of the area on screen. Only accounts with
 * the `observer` or `admin` role may ask.
 */

/** One node process as the cluster sees it (`GET /api/ops/nodes`, `ops:nodes`). */
export const NodeStatusSchema = Type.Object({
  /** The instance id: NODE_ID, or `NODE_ID#n` for worker n of a node with WORKERS > 1. */
  node: Type.String(),
  /**
   * `ok` / `degraded` as its own `/health` says; `unreachable` when it is still listed as a member
   * of the cluster but has not reported for longer than its liveness TTL (dead, or cut off from Redis).
   */
  status: Type.Union([Type.Literal("ok"), Type.Literal("degraded"), Type.Literal("unreachable")]),
  services: Type.Union([HealthSchema.properties.services, Type.Null()]),
  /** Socket.IO connections it holds. */
  connections: Type.Integer({ minimum: 0 }),
  rssBytes: Type.Integer({ minimum: 0 }),
  version: Type.String(),
  /** When it last reported (null: never, or its report expired). */
  reportedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});
export type NodeStatus = Static<typeof NodeStatusSchema>;

export const NodeStatusListSchema = Type.Object({
  nodes: Type.Array(NodeStatusSchema),
  /** False while Redis is unreachable: the list then holds the answering node alone. */
  clusterWide: Type.Boolean(),
});
export type NodeStatusList = Static<typeof NodeStatusListSchema>;

/**
 * Most regions (geohash cells at REGION_PRECISION, ≈ 1.2 km × 0.6 km at the default 6) one
 * `ops:watch` follows live: a large screen at zoom 13 (≈ 25 km × 15 km) covers about 600.
 */
export const MAX_WATCHED_REGIONS = 1_024;

/**
 * `ops:watch {bbox}`: an observer's map shows this box. The socket then hears every
 * `segment:updated`, `hazard:updated` and `presence:updated` of the regions covering it (and no
 * longer those of the box before), and `ops:nodes` every few seconds. A malformed box (or one the
 * road API would refuse) is VALIDATION_FAILED and changes nothing.
 */
export const OpsWatchSchema = Type.Object({ bbox: BboxParam }, { additionalProperties: false });
export type OpsWatch = Static<typeof OpsWatchSchema>;

export const RegionCountSchema = Type.Object({ regionId: Type.String(), count: Type.Integer({ minimum: 0 }) });
export type RegionCount = Static<typeof RegionCountSchema>;

export const OpsWatchAckSchema = Type.Object({
  /** Regions of the box holding devices now, with how many (regions without any are left out). */
  regions: Type.Array(RegionCountSchema),
  /** Every region the socket now watches, empty ones included. */
  watched: Type.Integer({ minimum: 0 }),
  /**
   * False when the box covers more than MAX_WATCHED_REGIONS: nothing of it is followed live (zoom
   * in); the node list still is.
   */
  live: Type.Boolean(),
  nodes: NodeStatusListSchema,
});
export type OpsWatchAck = Static<typeof OpsWatchAckSchema>;

/** `GET /map/config.json`: how the map page draws. */
export const MapConfigSchema = Type.Object({
  /** A `{z}/{x}/{y}` raster tile URL, or null: the map draws on a plain background. */
  tileUrl: Type.Union([Type.String(), Type.Null()]),
  tileAttribution: Type.String(),
  /** Where the map opens when the address holds no view: `[latitude, longitude, zoom]`, or null. */
  center: Type.Union([Type.Tuple([Type.Number(), Type.Number(), Type.Number()]), Type.Null()]),
});
export type MapConfig = Static<typeof MapConfigSchema>;
