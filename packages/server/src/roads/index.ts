import type { NodeContext } from "../context.js";
import type { Publish } from "../publish.js";
import { AggregateLanes } from "../store/aggregate-lanes.js";
import { HazardsRepository } from "../store/hazards.js";
import { IngestJournal } from "../store/ingest-journal.js";
import { ObservationsRepository } from "../store/observations.js";
import { RegionStatsRepository } from "../store/region-stats.js";
import { SegmentsRepository } from "../store/segments.js";
import { Aggregator } from "./aggregator.js";
import { RegionCatchUp } from "./catch-up.js";
import { FoldLock } from "./fold-lock.js";
import { GROUP_COMMIT_DEFAULTS, GroupCommit } from "./group-commit.js";
import { HazardClusters } from "./hazard-clusters.js";
import { HazardPasses } from "./hazard-passes.js";
import { HazardTracker } from "./hazard-tracker.js";
import { IngestService } from "./ingest.js";
import { LiveRoads } from "./live.js";
import { RedisPassCounts } from "./pass-counts.js";
import { RoadReads } from "./reads.js";

/** The road services of one node, built once by node.ts and handed to its routes, handlers and jobs. */
export interface Roads {
  /** Observations in: validated, stored exactly once, acked when durable. */
  ingest: IngestService;
  /** Stored observations folded into segments, daily history and hazards. */
  aggregator: Aggregator;
  /** Hazards: reports clustered, votes, expiry. */
  hazards: HazardTracker;
  /** Counts devices passing hazards, for the share of them that must report one (its own phase of each round). */
  passes: HazardPasses;
  /** The road map as it is read, and ML scores written onto it. */
  reads: RoadReads;
  /** What a reconnecting device missed around its region. */
  catchUp: RegionCatchUp;
}

/** Builds the node's road services on its store and Redis; live updates go out through `publish`. */
export function buildRoads(ctx: NodeContext, publish: Publish): Roads {
  const db = ctx.mongo.db;
  const readTimeoutMs = ctx.config.mongodbTimeoutMs;
  const live = new LiveRoads(publish, ctx.config.regionPrecision);
  const journal = new IngestJournal(db, ctx.metrics, ctx.config.instanceId, readTimeoutMs);
  const lanes = new AggregateLanes(db, ctx.metrics, ctx.config.instanceId, readTimeoutMs);
  const observations = new ObservationsRepository(db, ctx.metrics);
  const segments = new SegmentsRepository(db, ctx.metrics);
  const hazardsRepo = new HazardsRepository(db, ctx.metrics);
  const regionStats = new RegionStatsRepository(db, ctx.metrics);
  // Without Redis configured (REDIS_URL=off) hazards are clustered from MongoDB alone.
  const clusters = ctx.redis.client === null ? null : new HazardClusters(ctx.redis.client);
  const passCounts = ctx.redis.client === null ? null : new RedisPassCounts(ctx.redis.client);
  // The lock outlives any one store call, so a call in flight never outlasts it.
  const lock = new FoldLock(ctx.redis, ctx.log, 2 * ctx.config.mongodbTimeoutMs);
  const hazards = new HazardTracker(ctx, hazardsRepo, ctx.redis, clusters, passCounts, lock, live);
  const passes = new HazardPasses(ctx, clusters, ctx.redis, passCounts);
  const aggregator = new Aggregator(
    ctx,
    journal,
    lanes,
    observations,
    segments,
    regionStats,
    hazards,
    passes,
    lock,
    live,
  );
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
  return {
    ingest: new IngestService(ctx, commits, aggregator),
    aggregator,
    hazards,
    passes,
    reads: new RoadReads(segments, hazardsRepo, regionStats, live, lock),
    catchUp: new RegionCatchUp(segments, hazardsRepo, ctx.config.regionPrecision, readTimeoutMs),
  };
}
