import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/**
 * The node's Prometheus registry. Process metrics come from prom-client's defaults; every metric
 * RoadPulse defines lives in this folder so names and labels are reviewed in one place.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly degraded: Gauge;

  constructor(nodeId: string, version: string) {
    this.registry.setDefaultLabels({ node: nodeId });
    collectDefaultMetrics({ register: this.registry, prefix: "roadpulse_" });
    new Gauge({
      name: "roadpulse_build_info",
      help: "Build information; always 1",
      labelNames: ["version", "node_version"],
      registers: [this.registry],
    }).set({ version, node_version: process.version }, 1);
    this.degraded = new Gauge({
      name: "roadpulse_degraded",
      help: "1 while a backing service (Redis or MongoDB) is unreachable from this node",
      registers: [this.registry],
    });
  }
}
