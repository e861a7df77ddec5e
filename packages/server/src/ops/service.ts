import { MAX_WATCHED_REGIONS, type NodeStatusList, type RegionCount } from "@roadpulse/protocol";
import type { NodeContext } from "../context.js";
import type { PresenceService } from "../presence/service.js";
import { regionsCovering } from "./area.js";
import type { NodeStatusBoard } from "./node-status.js";

/**
 * What the ops map reads besides the open road data: the regions of the area on screen and the
 * devices in them, and the nodes with their health. Read-only; who may call it is the transport's
 * check (ops/socket.ts, ops/routes.ts).
 */
export class OpsService {
  constructor(
    private readonly ctx: NodeContext,
    private readonly presence: PresenceService,
    readonly board: NodeStatusBoard,
  ) {}

  /** The regions a map showing `bbox` watches; null past MAX_WATCHED_REGIONS (zoom in). */
  regions(bbox: string): string[] | null {
    return regionsCovering(bbox, this.ctx.config.regionPrecision, MAX_WATCHED_REGIONS);
  }

  /** The regions among these that hold devices now, with how many. */
  async devices(regionIds: string[]): Promise<{ regions: RegionCount[]; clusterWide: boolean }> {
    const { counts, clusterWide } = await this.presence.regionCounts(regionIds);
    const regions = regionIds
      .map((regionId, i) => ({ regionId, count: counts[i] ?? 0 }))
      .filter((region) => region.count > 0);
    return { regions, clusterWide };
  }

  async nodes(): Promise<NodeStatusList> {
    return await this.board.list();
  }
}
