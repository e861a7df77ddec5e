import type { GroupSample } from "../proc/sampler.js";
import { Histogram } from "./histogram.js";
import type { Recorder } from "./recorder.js";

/**
 * The acknowledged client events, as named in metrics and thresholds (`obs_ack_p99`…). `sync` is
 * the SDK's catch-up after a reconnect: none in a run without disconnections.
 */
export const ACKED_EVENTS = [
  { key: "obs", event: "observations:submit" },
  { key: "location", event: "location:update" },
  { key: "heartbeat", event: "heartbeat" },
  { key: "sync", event: "region:sync" },
] as const;

export interface FigureInputs {
  metrics: Recorder;
  /** Counters at the end of the ramp: rates are steady-state rates, from there to the end. */
  atRampEnd: Map<string, number>;
  steadySeconds: number;
  wallSeconds: number;
  devices: number;
  processes: GroupSample[];
  generator: { cpuSeconds: number; loopP99MaxMs: number; loopMaxMs: number; rssBytes: number; workers: number };
  /** Acked observations looked up in the store, and how many were not there (undefined: not checked). */
  verified?: { checked: number; missing: number };
  unsent: number;
  /** Nodes' RSS before the first device connected: what connections add is measured from there. */
  nodeRssAtStart: number;
}

const quantiles = (prefix: string, h: Histogram | undefined): Record<string, number> => ({
  [`${prefix}_p50`]: h?.quantile(0.5) ?? Number.NaN,
  [`${prefix}_p95`]: h?.quantile(0.95) ?? Number.NaN,
  [`${prefix}_p99`]: h?.quantile(0.99) ?? Number.NaN,
  [`${prefix}_max`]: h && h.count > 0 ? h.max : Number.NaN,
});

/**
 * Every figure of a run under one flat name: what thresholds refer to, what `--json` writes and
 * what the summary table shows. Latencies in ms, rates per second (steady state, after the ramp),
 * memory in bytes unless the name says otherwise.
 */
export function computeFigures(input: FigureInputs): Record<string, number> {
  const { metrics } = input;
  const c = (name: string) => metrics.counter(name);
  const rate = (name: string) =>
    input.steadySeconds > 0 ? (c(name) - (input.atRampEnd.get(name) ?? 0)) / input.steadySeconds : Number.NaN;
  const f: Record<string, number> = { devices: input.devices, duration_s: input.wallSeconds };

  for (const { key } of ACKED_EVENTS) {
    Object.assign(f, quantiles(`${key}_ack`, metrics.histograms.get(`${key}.ack`)));
    f[`${key}_sent`] = c(`${key}.sent`);
    f[`${key}_acked`] = c(`${key}.acked`);
    f[`${key}_acks_per_s`] = rate(`${key}.acked`);
    f[`${key}_timeouts`] = c(`${key}.timeouts`);
    f[`${key}_errors`] = c(`${key}.errors`);
    f[`${key}_interrupted`] = c(`${key}.interrupted`);
  }
  f.obs_accepted = c("obs.accepted");
  f.obs_duplicates = c("obs.duplicates");
  f.obs_rejected = c("obs.rejected");
  f.obs_resent = c("obs.resent");
  f.obs_dropped = c("obs.dropped");
  f.obs_unsent = input.unsent;
  f.obs_accepted_per_s = rate("obs.accepted");
  f.false_acks = c("obs.false_acks");

  Object.assign(f, quantiles("connect", metrics.histograms.get("connect.time")));
  f.connect_failures = c("connect.failures");
  f.connected = c("connect.ok") - c("reconnects");
  f.disconnects = c("disconnects");
  f.reconnects = c("reconnects");

  const lag = new Histogram();
  for (const name of ["push.segment.lag", "push.hazard.lag"]) {
    const h = metrics.histograms.get(name);
    if (h) lag.merge(h.toJSON());
  }
  Object.assign(f, quantiles("push_lag", lag));
  for (const kind of ["segment", "hazard", "presence"]) {
    f[`push_${kind}`] = c(`push.${kind}`);
    f[`push_${kind}_per_s`] = rate(`push.${kind}`);
  }
  f.pushes = c("push.segment") + c("push.hazard") + c("push.presence");
  f.pushes_per_s = rate("push.segment") + rate("push.hazard") + rate("push.presence");

  f.ack_timeouts = ACKED_EVENTS.reduce((sum, { key }) => sum + c(`${key}.timeouts`), 0);
  f.ack_errors = ACKED_EVENTS.reduce((sum, { key }) => sum + c(`${key}.errors`), 0);
  f.missing = input.verified ? input.verified.missing : Number.NaN;
  f.verified = input.verified ? input.verified.checked : Number.NaN;
  f.errors = f.ack_errors + f.ack_timeouts + f.connect_failures + f.false_acks + (input.verified?.missing ?? 0);

  const gen = input.generator;
  f.generator_workers = gen.workers;
  f.generator_cpu_s = gen.cpuSeconds;
  f.generator_cpu_pct = input.wallSeconds > 0 ? (100 * gen.cpuSeconds) / input.wallSeconds : Number.NaN;
  f.generator_loop_p99_ms = gen.loopP99MaxMs;
  f.generator_loop_max_ms = gen.loopMaxMs;
  f.generator_rss_mb = gen.rssBytes / 2 ** 20;

  // Delivered messages: every ack and every push a device received.
  const delivered = ACKED_EVENTS.reduce((sum, { key }) => sum + c(`${key}.acked`) + c(`${key}.errors`), 0) + f.pushes;
  const nodes = input.processes.filter((p) => p.role === "node");
  const nodeCpu = nodes.reduce((sum, p) => sum + p.cpuSeconds, 0);
  const nodeRss = nodes.reduce((sum, p) => sum + p.rssBytes, 0);
  f.delivered = delivered;
  f.node_cpu_s = nodes.length > 0 ? nodeCpu : Number.NaN;
  f.node_cpu_pct = nodes.length > 0 && input.wallSeconds > 0 ? (100 * nodeCpu) / input.wallSeconds : Number.NaN;
  f.cluster_cpu_s = input.processes.length > 0 ? input.processes.reduce((s, p) => s + p.cpuSeconds, 0) : Number.NaN;
  f.delivered_per_node_cpu_s = nodeCpu > 0 ? delivered / nodeCpu : Number.NaN;
  f.node_rss_mb = nodes.length > 0 ? nodeRss / 2 ** 20 : Number.NaN;
  // What the connections added to the nodes' memory, per device (the idle node is not counted).
  f.rss_per_connection_kb =
    nodes.length > 0 && input.devices > 0 ? (nodeRss - input.nodeRssAtStart) / 1024 / input.devices : Number.NaN;
  return f;
}
