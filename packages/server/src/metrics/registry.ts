import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * prom-client's default metrics include three gauges named `…_total` (sums of their labelled
 * siblings). Prometheus reserves `_total` for counters and `promtool check metrics` flags them, so
 * they are dropped; `sum(roadpulse_nodejs_active_handles)` etc. give the same numbers.
 */
const MISNAMED_DEFAULT_GAUGES = [
  "roadpulse_nodejs_active_handles_total",
  "roadpulse_nodejs_active_requests_total",
  "roadpulse_nodejs_active_resources_total",
];

/** Buckets for things that should take around a millisecond (Redis, acks at rest). */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Buckets for durable writes and HTTP requests. */
const SLOW_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Every metric a node exports, in one place so names, units and labels are reviewed together.
 * Prometheus conventions: base units, `_total` counters, `_seconds` durations, and only bounded
 * label values (event names, outcomes, collections), never user, device or socket ids.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly degraded: Gauge;
  readonly connectedSockets: Gauge;
  readonly socketEvents: Counter<"event" | "outcome">;
  readonly limits: Counter<"limit">;
  readonly tokenRefreshes: Counter<"outcome">;
  readonly ackDuration: Histogram<"event">;
  readonly httpRequests: Counter<"method" | "route" | "status_class">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly presenceOps: Counter<"op" | "outcome">;
  readonly redisCommandDuration: Histogram<"op">;
  readonly presenceReaped: Counter<"reason">;
  readonly mongoWriteDuration: Histogram<"collection">;
  readonly observationBatchSize: Histogram;
  readonly ingestGroupSize: Histogram;
  readonly observations: Counter<"result">;
  readonly hazardTransitions: Counter<"status">;
  readonly adapterMessages: Counter<"direction">;
  readonly backendUp: Gauge<"service">;
  readonly aggregatePhase: Histogram<"phase">;
  readonly aggregateBacklog: Gauge;

  constructor(nodeId: string, version: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: "roadpulse_" });
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    new Gauge({
      name: "roadpulse_build_info",
      help: "Build information; always 1",
      labelNames: ["version", "node_version"],
      // With several workers the node still has one build: take one worker's value, not the sum.
      aggregator: "first",
      registers,
    }).set({ version, node_version: process.version }, 1);

    this.degraded = new Gauge({
      name: "roadpulse_degraded",
      help: "1 while a backing service (Redis or MongoDB) is unreachable from this node",
      aggregator: "max",
      registers,
    });
    this.connectedSockets = new Gauge({
      name: "roadpulse_connected_sockets",
      help: "Socket.IO connections currently open on this node",
      registers,
    });
    this.socketEvents = new Counter({
      name: "roadpulse_socket_events_total",
      help: "Client events handled, by event name and outcome (ok, rejected, error, rate_limited)",
      labelNames: ["event", "outcome"],
      registers,
    });
    this.limits = new Counter({
      name: "roadpulse_limits_total",
      help: "Times a bound bit: events over a connection's budget (socket_events) or in flight (socket_in_flight), connections closed for abuse (socket_abuse) or not reading (send_buffer), sessions refused (pending_sessions), connections over an account's cap (sockets_per_account), HTTP requests refused (http_requests)",
      labelNames: ["limit"],
      registers,
    });
    this.tokenRefreshes = new Counter({
      name: "roadpulse_token_refreshes_total",
      help: "Refresh token uses by outcome: ok, invalid (bad signature or expired), revoked (logged out), reused (a used-up token presented again past the 30 s retry grace: its session is revoked), unavailable (Redis away)",
      labelNames: ["outcome"],
      registers,
    });
    this.ackDuration = new Histogram({
      name: "roadpulse_ack_duration_seconds",
      help: "Time from receiving a client event to sending its acknowledgement",
      labelNames: ["event"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.httpRequests = new Counter({
      name: "roadpulse_http_requests_total",
      help: "HTTP requests answered, by route pattern and status class",
      labelNames: ["method", "route", "status_class"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "roadpulse_http_request_duration_seconds",
      help: "HTTP request duration by route pattern",
      labelNames: ["method", "route"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.presenceOps = new Counter({
      name: "roadpulse_presence_operations_total",
      help: "Presence writes and reads against Redis, by operation and outcome",
      labelNames: ["op", "outcome"],
      registers,
    });
    this.redisCommandDuration = new Histogram({
      name: "roadpulse_redis_command_duration_seconds",
      help: "Round-trip time of presence pipelines and commands against Redis",
      labelNames: ["op"],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.presenceReaped = new Counter({
      name: "roadpulse_presence_reaped_sessions_total",
      help: "Sessions removed by the reaper, by reason (dead_node, heartbeat_expired)",
      labelNames: ["reason"],
      registers,
    });
    this.mongoWriteDuration = new Histogram({
      name: "roadpulse_mongodb_write_duration_seconds",
      help: "Duration of MongoDB writes, by collection",
      labelNames: ["collection"],
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.observationBatchSize = new Histogram({
      name: "roadpulse_observation_batch_size",
      help: "Observations per submitted batch",
      buckets: [1, 5, 10, 25, 50, 100, 250, 500],
      registers,
    });
    this.ingestGroupSize = new Histogram({
      name: "roadpulse_ingest_group_observations",
      help: "Observations stored by one group insert (the batches of many devices together)",
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
      registers,
    });
    this.observations = new Counter({
      name: "roadpulse_observations_total",
      help: "Observations received, by result (accepted, duplicate, rejected, shed)",
      labelNames: ["result"],
      registers,
    });
    this.hazardTransitions = new Counter({
      name: "roadpulse_hazard_transitions_total",
      help: "Hazard status changes, by new status (reported, confirmed, fixed, expired)",
      labelNames: ["status"],
      registers,
    });
    this.adapterMessages = new Counter({
      name: "roadpulse_adapter_messages_total",
      help: "Socket.IO Redis adapter messages, by direction (in, out)",
      labelNames: ["direction"],
      registers,
    });
    this.backendUp = new Gauge({
      name: "roadpulse_backend_up",
      help: "1 while this node reaches the backing service (redis, mongodb), else 0; no redis series when REDIS_URL=off",
      labelNames: ["service"],
      // A node is only as connected as its least connected worker.
      aggregator: "min",
      registers,
    });
    this.aggregatePhase = new Histogram({
      name: "roadpulse_aggregate_round_phase_seconds",
      help: "Duration of each phase of an aggregation round (begin, segments, region_stats, hazards, hazard_passes, hazard_status, close)",
      labelNames: ["phase"],
      buckets: [...SLOW_BUCKETS, 10, 30],
      registers,
    });
    this.aggregateBacklog = new Gauge({
      name: "roadpulse_aggregate_backlog_observations",
      help: "Observations stored and acked but not yet folded into the road map",
      registers,
    });
  }
}
