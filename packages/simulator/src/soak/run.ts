import { type FleetResult, runFleet } from "../fleet/run.js";
import { table } from "../metrics/summary.js";
import type { FleetOptions } from "../options.js";
import { SoakWatch } from "./watch.js";

export interface SoakOptions {
  checkIntervalMs: number;
  healthTimeoutMs: number;
}

/** Thresholds a soak applies when none are given: the promises the issue lists, as numbers. */
export const DEFAULT_SOAK_THRESHOLDS = [
  "health_failures==0",
  "node_rss_growth_pct<25",
  "node_heap_growth_pct<25",
  "node_fds_growth<50",
  "missing==0",
  "errors==0",
];

export const SOAK_FIGURES = [
  "health_checks",
  "health_failures",
  "health_p99",
  "health_max",
  "node_rss_growth_pct",
  "node_heap_growth_pct",
  "node_fds_growth",
];

/**
 * `roadpulse-sim soak`: the fleet for a long time, with a watch every few seconds (health within a
 * deadline, node RSS, heap and open files) and, at the end, every acked observation looked up in
 * the store (`--mongo-uri`, or `auto`: the store a local node uses).
 */
export async function runSoak(
  fleet: FleetOptions,
  soak: SoakOptions,
  stopSignal?: Promise<void>,
): Promise<FleetResult> {
  const watch = new SoakWatch(fleet.url, soak.healthTimeoutMs);
  let lastCheck = 0;
  let checking = false;
  const q = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted.length === 0
      ? Number.NaN
      : (sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number);
  };
  const figures = async () => {
    const fds = watch.worst("fds");
    return {
      health_checks: watch.health.length + watch.healthFailures,
      health_failures: watch.healthFailures,
      health_p99: q(watch.health, 0.99),
      health_max: q(watch.health, 1),
      node_rss_growth_pct: watch.worst("rss").pct,
      node_heap_growth_pct: watch.worst("heap").pct,
      node_fds_growth: fds.to - fds.from,
    };
  };
  const fmt = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  const summary = () => {
    const rows = (["rss", "heap", "fds"] as const).map((kind) => {
      const w = watch.worst(kind);
      const scale = kind === "fds" ? 1 : 2 ** 20;
      return [`node ${kind} (worst: ${w.name})`, fmt(w.from / scale, 1), fmt(w.to / scale, 1), `${fmt(w.pct, 1)} %`];
    });
    const failures = watch.failures.length > 0 ? `\nhealth failures:\n  ${watch.failures.join("\n  ")}` : "";
    return (
      `${table(["soak (2nd quarter → last quarter median)", "from", "to", "growth"], rows)}\n` +
      `health: ${watch.health.length + watch.healthFailures} checks, ${watch.healthFailures} failed ` +
      `(deadline ${soak.healthTimeoutMs} ms), p99 ${fmt(q(watch.health, 0.99), 1)} ms${failures}`
    );
  };
  return await runFleet(
    { ...fleet, thresholds: fleet.thresholds.length > 0 ? fleet.thresholds : DEFAULT_SOAK_THRESHOLDS },
    {
      ...(stopSignal ? { stopSignal } : {}),
      onSecond: (elapsedS, processes, groups) => {
        if (checking || (elapsedS - lastCheck) * 1000 < soak.checkIntervalMs) return;
        lastCheck = elapsedS;
        checking = true;
        void watch.check(processes, groups).finally(() => {
          checking = false;
        });
      },
      extra: { names: SOAK_FIGURES, figures, summary },
      extraReport: () => ({ tool: "roadpulse-sim soak", series: Object.fromEntries(watch.series) }),
    },
  );
}
