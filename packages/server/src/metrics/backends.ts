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
  let mongoUp = false;
  const publish = () => reportBackends(metrics, { mongodb: mongoUp, redis: redis.state });
  const setMongo = (up: boolean) => {
    mongoUp = up;
    publish();
  };
  const onHeartbeatOk = () => setMongo(true);
  const onHeartbeatFailed = () => setMongo(false);
  redis.on("up", publish);
  redis.on("down", publish);
  mongo.client.on("serverHeartbeatSucceeded", onHeartbeatOk);
  mongo.client.on("serverHeartbeatFailed", onHeartbeatFailed);
  // First value from a real round trip rather than "down until the first heartbeat".
  void mongo.ping().then(setMongo);
  publish();
  return () => {
    redis.off("up", publish);
    redis.off("down", publish);
    mongo.client.off("serverHeartbeatSucceeded", onHeartbeatOk);
    mongo.client.off("serverHeartbeatFailed", onHeartbeatFailed);
  };
}
