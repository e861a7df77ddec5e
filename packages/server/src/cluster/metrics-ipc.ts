import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * With WORKERS > 1 each worker keeps its own registry, and the node's metrics listener, in the
 * primary, must describe the whole node: prom-client's cluster aggregation asks every worker over
 * IPC and merges their answers (counters and histograms summed).
 */

/** In the primary: the node-wide metrics, every worker's merged. */
export function clusterMetrics(): { contentType: string; render: () => Promise<string> } {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, render: () => aggregator.clusterMetrics() };
}

/** In a worker: registers its registry for the primary's aggregation. */
export function joinClusterMetrics(registry: Registry): void {
  // Constructing an aggregator is what installs prom-client's worker-side IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}
