import type { NodeContext } from "../context.js";
import type { RedisState } from "../redis/connection.js";
import type { Metrics } from "./registry.js";

export interface BackendView {
  mongodb: boolean;
  redis: RedisState;
}

/**
 * Writes `roadpulse_backend_up` and `roadpulse_degraded` from one view of the backing services, so
 * the two gauges and `/health` always agree on what "degraded" means: MongoDB unreachable, or Redis
 * configured but unreachable (`REDIS_URL=off` is a choice, not a fault).
 */
export function reportBackends(metrics: Metrics, view: BackendView): void {
  metrics.backendUp.set({ service: "mongodb" }, view.mongodb ? 1 : 0);
  if (view.redis !== "disabled") metrics.backendUp.set({ service: "redis" }, view.redis === "connected" ? 1 : 0);
  metrics.degraded.set(view.mongodb && view.redis !== "disconnected" ? 0 : 1);
}

/**
 * Keeps those gauges current between health checks. Prometheus scrapes `/metrics`, not `/health`,
 * so an outage must show up in the metrics even when nobody probes the node: Redis transitions come
 * from the connection's own up/down events, MongoDB reachability from the driver's heartbeats.
 * Returns a stopper that removes the listeners.
 */
export function watchBackends(ctx: NodeContext): () => void {
  const { metrics, redis, mongo } = ctx;
  // First value from real round trips rather than "down until the first heartbeat": the node's
  // start has just connected and created the indexes (see MongoConnection.start). A separate ping
  // here used to time out now and then while a worker's start kept its event loop busy for over a
  // second (two workers and FerretDB starting on two cores), and marked a reachable MongoDB down
  // until the next heartbeat, up to 10 s later: `roadpulse_degraded` 1 on a healthy node.
  let mongoUp = mongo.indexesReady;
  let heartbeats = 0;
  const publish = () => reportBackends(metrics, { mongodb: mongoUp, redis: redis.state });
  const setMongo = (up: boolean) => {
    mongoUp = up;
    publish();
  };
  const onHeartbeatOk = () => {
    heartbeats++;
    setMongo(true);
  };
  const onHeartbeatFailed = () => {
    heartbeats++;
    setMongo(false);
  };
  redis.on("up", publish);
  redis.on("down", publish);
  mongo.client.on("serverHeartbeatSucceeded", onHeartbeatOk);
  mongo.client.on("serverHeartbeatFailed", onHeartbeatFailed);
  if (!mongoUp) {
    // The start failed: ask once more, but a heartbeat that lands first is newer and wins.
    const before = heartbeats;
    void mongo.ping().then((up) => {
      if (heartbeats === before) setMongo(up);
    });
  }
  publish();
  return () => {
    redis.off("up", publish);
    redis.off("down", publish);
    mongo.client.off("serverHeartbeatSucceeded", onHeartbeatOk);
    mongo.client.off("serverHeartbeatFailed", onHeartbeatFailed);
  };
}
