import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import ngeohash from "ngeohash";
import type { Point } from "../domain/distance.js";
import { EXPIRY_MS, HAZARD_TYPES, type HazardType, JOIN_RADIUS_METRES } from "../domain/hazard-rules.js";
import { roadRegionOf } from "../domain/segment-key.js";
import { Keys } from "../presence/keys.js";

/** geohash-7 cells are ~150 m wide: a cell and its neighbours surely hold every hazard within 15 m. */
export const HAZARD_CELL_PRECISION = 7;
/** Marker members of a GEO set: `cell:<geohash7>` says the cell's open hazards were loaded. */
const MARKER_PREFIX = "cell:";
/** Keys outlive the last hazard they hold by a day: every member expires before its key does. */
const KEY_TTL_SECONDS = Math.ceil(EXPIRY_MS / 1000) + 24 * 3600;
/** Expired members removed per region and call, so one call's work stays small. */
const PRUNE_LIMIT = 32;

const ASSIGN_SCRIPT = readFileSync(new URL("./hazard-cluster.lua", import.meta.url), "utf8");

/** The cells and regions one event's neighbourhood spans (the MongoDB fallback reads the same cells). */
export interface ClusterArea {
  /** The event's geohash-7 cell, then its 8 neighbours. */
  cells: string[];
  /** The distinct geohash-5 regions of those cells, the event's own first (1, 2 or 4 of them). */
  regions: string[];
}

export function clusterArea(point: Point): ClusterArea {
  const cell = ngeohash.encode(point.latitude, point.longitude, HAZARD_CELL_PRECISION);
  const cells = [cell, ...ngeohash.neighbors(cell)];
  const regions = [...new Set(cells.map(regionOfCell))];
  return { cells, regions };
}

export function regionOfCell(cell: string): string {
  return roadRegionOf(cell);
}

/** An open hazard near some place, as the GEO sets know it. */
export interface NearbyHazard extends Point {
  id: string;
  type: HazardType;
}

const METRES_PER_DEGREE = 111_195;

/** A hazard as the GEO sets know it: id, position, region (of its `cell`) and last sighting. */
export interface ClusterMember extends Point {
  id: string;
  cell: string;
  lastSeenAt: Date;
}

export type Assignment = { kind: "new" | "match"; id: string } | { kind: "seed" };

export interface AssignRequest {
  type: HazardType;
  point: Point;
  /** The id the event's hazard gets when it opens one. */
  newId: string;
  seenAt: Date;
  now: Date;
  /** The open hazards MongoDB holds in the area's cells, or null when not loaded. */
  seeds: ClusterMember[] | null;
}

/** KEYS and ARGV of hazard-cluster.lua for one event (contract at the top of the script). */
export function assignArgs(request: AssignRequest): { keys: string[]; args: Array<string | number> } {
  const { type, point } = request;
  const area = clusterArea(point);
  const index = (cell: string) => area.regions.indexOf(regionOfCell(cell)) + 1;
  const keys = [
    ...area.regions.map((region) => Keys.hazardGeo(region, type)),
    ...area.regions.map((region) => Keys.hazardSeen(region, type)),
  ];
  const args: Array<string | number> = [
    area.regions.length,
    point.longitude,
    point.latitude,
    JOIN_RADIUS_METRES,
    request.newId,
    request.seenAt.getTime(),
    request.now.getTime() - EXPIRY_MS,
    KEY_TTL_SECONDS,
    PRUNE_LIMIT,
    request.seeds === null ? 0 : 1,
    area.cells.length,
  ];
  for (const cell of area.cells) {
    const centre = ngeohash.decode(cell);
    args.push(index(cell), `${MARKER_PREFIX}${cell}`, centre.longitude, centre.latitude);
  }
  for (const seed of request.seeds ?? []) {
    // A seed from outside the area (its cell query said otherwise) would have no key here.
    if (index(seed.cell) === 0) continue;
    args.push(index(seed.cell), seed.id, seed.longitude, seed.latitude, seed.lastSeenAt.getTime());
  }
  return { keys, args };
}

/** Runs a MULTI and fails if any of its commands failed (ioredis reports those per command). */
async function execAll(multi: ChainableCommander): Promise<void> {
  const results = await multi.exec();
  if (results === null) throw new Error("Redis MULTI aborted");
  const failed = results.find(([error]) => error !== null);
  if (failed) throw failed[0];
}

interface AssignCommand {
  roadpulseAssignHazard(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<string[]>;
}

/**
 * Redis's side of hazard clustering: the GEO sets that decide, atomically, which hazard an event
 * joins (hazard-cluster.lua), kept in step with MongoDB as hazards move, are seen or close.
 * Every method rejects when Redis fails; the tracker then falls back to MongoDB alone.
 */
export class HazardClusters {
  constructor(private readonly redis: Redis) {
    // ioredis runs it by EVALSHA and sends the source again after a Redis restart (NOSCRIPT).
    redis.defineCommand("roadpulseAssignHazard", { lua: ASSIGN_SCRIPT });
  }

  async assign(request: AssignRequest): Promise<Assignment> {
    const { keys, args } = assignArgs(request);
    const reply = await (this.redis as Redis & AssignCommand).roadpulseAssignHazard(keys.length, ...keys, ...args);
    const [kind, id] = reply;
    if (kind === "seed") return { kind };
    if ((kind === "new" || kind === "match") && typeof id === "string") return { kind, id };
    throw new Error(`unexpected reply from the hazard cluster script: ${JSON.stringify(reply)}`);
  }

  /**
   * The open hazards of every type within `marginM` of each geohash-7 cell (a box around it), one
   * pipelined `GEOSEARCH` per cell, region and type. A cell without hazards maps to an empty list.
   */
  async nearCells(cells: readonly string[], marginM: number): Promise<Map<string, NearbyHazard[]>> {
    const pipeline = this.redis.pipeline();
    const asked: Array<{ cell: string; type: HazardType }> = [];
    for (const cell of cells) {
      const [minLat, minLon, maxLat, maxLon] = ngeohash.decode_bbox(cell) as [number, number, number, number];
      const centre = { latitude: (minLat + maxLat) / 2, longitude: (minLon + maxLon) / 2 };
      const heightM = (maxLat - minLat) * METRES_PER_DEGREE + 2 * marginM;
      const widthM = (maxLon - minLon) * METRES_PER_DEGREE * Math.cos((centre.latitude * Math.PI) / 180) + 2 * marginM;
      // The cell and its 8 neighbours cover the margin (cells are ~150 m, margins tens of metres).
      for (const region of clusterArea(centre).regions) {
        for (const type of HAZARD_TYPES) {
          pipeline.geosearch(
            Keys.hazardGeo(region, type),
            "FROMLONLAT",
            centre.longitude,
            centre.latitude,
            "BYBOX",
            widthM,
            heightM,
            "m",
            "WITHCOORD",
          );
          asked.push({ cell, type });
        }
      }
    }
    const replies = (await pipeline.exec()) ?? [];
    const near = new Map<string, NearbyHazard[]>(cells.map((cell) => [cell, []]));
    replies.forEach(([error, reply], i) => {
      if (error) throw error;
      const { cell, type } = asked[i] as { cell: string; type: HazardType };
      for (const [id, [longitude, latitude]] of reply as Array<[string, [string, string]]>) {
        if (id.startsWith(MARKER_PREFIX)) continue;
        near.get(cell)?.push({ id, type, latitude: Number(latitude), longitude: Number(longitude) });
      }
    });
    return near;
  }

  /** A hazard's position moved (its centroid) or it was seen again: only members still present. */
  async update(type: HazardType, member: ClusterMember): Promise<void> {
    const region = regionOfCell(member.cell);
    await execAll(
      this.redis
        .multi()
        .geoadd(Keys.hazardGeo(region, type), "XX", member.longitude, member.latitude, member.id)
        .zadd(Keys.hazardSeen(region, type), "XX", "GT", member.lastSeenAt.getTime(), member.id),
    );
  }

  /**
   * Adds hazards opened while Redis was away (they are in MongoDB only, and the cells' markers may
   * still say the sets are complete). Never moves a member already there.
   */
  async restore(type: HazardType, members: ClusterMember[]): Promise<void> {
    const multi = this.redis.multi();
    for (const member of members) {
      const region = regionOfCell(member.cell);
      multi.geoadd(Keys.hazardGeo(region, type), "NX", member.longitude, member.latitude, member.id);
      multi.zadd(Keys.hazardSeen(region, type), "GT", member.lastSeenAt.getTime(), member.id);
      multi.expire(Keys.hazardGeo(region, type), KEY_TTL_SECONDS);
      multi.expire(Keys.hazardSeen(region, type), KEY_TTL_SECONDS);
    }
    await execAll(multi);
  }

  /** A hazard became fixed or expired: no event may join it any more. */
  async forget(type: HazardType, member: Pick<ClusterMember, "id" | "cell">): Promise<void> {
    const region = regionOfCell(member.cell);
    await execAll(
      this.redis.multi().zrem(Keys.hazardGeo(region, type), member.id).zrem(Keys.hazardSeen(region, type), member.id),
    );
  }
}
