import type { NodeContext } from "../context.js";
import { AggregateLanes } from "../store/aggregate-lanes.js";
import { HazardsRepository } from "../store/hazards.js";
import { IngestJournal } from "../store/ingest-journal.js";
import { ObservationsRepository } from "../store/observations.js";
import { RegionStatsRepository } from "../store/region-stats.js";
import { SegmentsRepository } from "../store/segments.js";
import { Aggregator } from "./aggregator.js";
import { FoldLock } from "./fold-lock.js";
import { GROUP_COMMIT_DEFAULTS, GroupCommit } from "./group-commit.js";
import { HazardClusters } from "./hazard-clusters.js";
import { HazardTracker } from "./hazard-tracker.js";
import { IngestService } from "./ingest.js";

/** The road-data services of one node, shared by its HTTP routes and Socket.IO handlers. */
export interface Roads {
  ingest: IngestService;
  aggregator: Aggregator;
  hazards: HazardTracker;
  segmentsRepo: SegmentsRepository;
  hazardsRepo: HazardsRepository;
  regionStatsRepo: RegionStatsRepository;
}

const perNode = new WeakMap<NodeContext, Roads>();

/** The node's road services, built on first use (one aggregator per node). */
export function roadsOf(ctx: NodeContext): Roads {
  let roads = perNode.get(ctx);
  if (roads === undefined) {
    const db = ctx.mongo.db;
    const readTimeoutMs = ctx.config.mongodbTimeoutMs;
    const journal = new IngestJournal(db, ctx.metrics, ctx.config.instanceId, readTimeoutMs);
    const lanes = new AggregateLanes(db, ctx.metrics, ctx.config.instanceId, readTimeoutMs);
    const observations = new ObservationsRepository(db, ctx.metrics);
    const segmentsRepo = new SegmentsRepository(db, ctx.metrics);
    const hazardsRepo = new HazardsRepository(db, ctx.metrics);
    const regionStatsRepo = new RegionStatsRepository(db, ctx.metrics);
    // Without Redis configured (REDIS_URL=off) hazards are clustered from MongoDB alone.
    const clusters = ctx.redis.client === null ? null : new HazardClusters(ctx.redis.client);
    const hazards = new HazardTracker(ctx, hazardsRepo, ctx.redis, clusters);
    // The lock outlives any one store call, so a call in flight never outlasts it.
    const lock = new FoldLock(ctx.redis, ctx.log, 2 * ctx.config.mongodbTimeoutMs);
    const aggregator = new Aggregator(ctx, journal, lanes, observations, segmentsRepo, regionStatsRepo, hazards, lock);
    const commits = new GroupCommit(
      journal,
      observations,
      (entry, inserted) => aggregator.enqueue(entry, inserted),
      ctx.metrics,
      ctx.log,
      {
        ...GROUP_COMMIT_DEFAULTS,
        lingerMs: ctx.config.ingestCommitLingerMs,
        maxPending: ctx.config.ingestMaxPending,
      },
    );
    roads = {
      ingest: new IngestService(ctx, commits, aggregator),
      aggregator,
      hazards,
      segmentsRepo,
      hazardsRepo,
      regionStatsRepo,
    };
    perNode.set(ctx, roads);
  }
  return roads;
}
