import type { GroupSample } from "../proc/sampler.js";
import { ACKED_EVENTS } from "./figures.js";
import type { ThresholdResult } from "./thresholds.js";

const ms = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "-" : v < 10 ? v.toFixed(1) : v.toFixed(0);
const n = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v)
    ? "-"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(headers), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** The end-of-run summary: one markdown table per concern, then the thresholds. */
export function summaryText(
  f: Record<string, number>,
  processes: GroupSample[],
  thresholds: ThresholdResult[],
  extra?: string,
  counters?: Map<string, number>,
): string {
  const out: string[] = [];
  const codes = [...(counters ?? new Map<string, number>())].filter(([name]) =>
    /\.(error|failure)\.|^disconnect\./.test(name),
  );
  out.push(
    table(
      ["event", "sent", "acked", "acks/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "timeouts", "errors", "interrupted"],
      // The catch-up row only when there was one (after reconnections), so a plain run reads as before.
      ACKED_EVENTS.filter(({ key }) => key !== "sync" || (f.sync_sent ?? 0) > 0).map(({ key, event }) => [
        event,
        n(f[`${key}_sent`]),
        n(f[`${key}_acked`]),
        n(f[`${key}_acks_per_s`], 1),
        ms(f[`${key}_ack_p50`]),
        ms(f[`${key}_ack_p95`]),
        ms(f[`${key}_ack_p99`]),
        ms(f[`${key}_ack_max`]),
        n(f[`${key}_timeouts`]),
        n(f[`${key}_errors`]),
        n(f[`${key}_interrupted`]),
      ]),
    ),
  );
  out.push(
    `observations: accepted ${n(f.obs_accepted)} (${n(f.obs_accepted_per_s, 1)}/s), duplicates ${n(f.obs_duplicates)}, ` +
      `rejected ${n(f.obs_rejected)}, resent batches ${n(f.obs_resent)}, dropped ${n(f.obs_dropped)}, ` +
      `unsent at end ${n(f.obs_unsent)}, false acks ${n(f.false_acks)}` +
      (Number.isFinite(f.verified)
        ? `; store check: ${n(f.verified)} acked ids looked up, ${n(f.missing)} missing`
        : ""),
  );
  if (codes.length > 0) out.push(`by code: ${codes.map(([name, count]) => `${name} ${count}`).join(", ")}`);
  out.push(
    `connections: ${n(f.connected)}/${n(f.devices)} connected, connect p50 ${ms(f.connect_p50)} ms p99 ${ms(f.connect_p99)} ms, ` +
      `failures ${n(f.connect_failures)}, disconnects ${n(f.disconnects)}, reconnects ${n(f.reconnects)}`,
  );
  out.push(
    `pushes: segment ${n(f.push_segment_per_s, 1)}/s, hazard ${n(f.push_hazard_per_s, 1)}/s, presence ${n(f.push_presence_per_s, 1)}/s; ` +
      `lag (now − observation time) p50 ${ms(f.push_lag_p50)} ms p99 ${ms(f.push_lag_p99)} ms`,
  );
  out.push(
    `generator: ${n(f.generator_workers)} worker(s), CPU ${n(f.generator_cpu_s, 1)} s (${n(f.generator_cpu_pct)}% of one core), ` +
      `event-loop delay p99 ≤ ${ms(f.generator_loop_p99_ms)} ms (max ${ms(f.generator_loop_max_ms)} ms)`,
  );
  if (processes.length > 0) {
    out.push(
      table(
        ["process", "procs", "CPU s", "CPU %", "RSS MB", "open fds"],
        processes.map((p) => [
          p.name,
          String(p.processes),
          n(p.cpuSeconds, 1),
          n(f.duration_s ? (100 * p.cpuSeconds) / f.duration_s : Number.NaN),
          n(p.rssBytes / 2 ** 20, 1),
          String(p.fds),
        ]),
      ),
    );
    out.push(
      `delivered messages per node CPU-second: ${n(f.delivered_per_node_cpu_s)}; node RSS added per connection: ${n(f.rss_per_connection_kb, 1)} KB`,
    );
  }
  if (extra) out.push(extra);
  if (thresholds.length > 0) {
    out.push(
      table(
        ["threshold", "value", "result"],
        thresholds.map((t) => [t.expression, t.value === null ? "no data" : n(t.value, 2), t.ok ? "ok" : "BROKEN"]),
      ),
    );
  }
  return out.join("\n\n");
}

/** The live line: rates over the last period, levels now. */
export function progressLine(p: {
  elapsedS: number;
  connected: number;
  devices: number;
  rates: Record<string, number>;
  obsP99: number;
  lagP99: number;
  timeouts: number;
  errors: number;
  disconnects: number;
  genCpuPct: number;
  genLoopMs: number;
  nodeCpuPct: number;
  nodeRssMb: number;
}): string {
  return (
    `[${String(Math.round(p.elapsedS)).padStart(4)}s] conn ${p.connected}/${p.devices} | ` +
    `batches ${n(p.rates.obs, 1)}/s p99 ${ms(p.obsP99)}ms | loc ${n(p.rates.location, 1)}/s | ` +
    `push ${n(p.rates.push, 1)}/s lag p99 ${ms(p.lagP99)}ms | timeouts ${p.timeouts} err ${p.errors} disc ${p.disconnects} | ` +
    `gen cpu ${n(p.genCpuPct)}% loop p99 ${ms(p.genLoopMs)}ms | nodes cpu ${n(p.nodeCpuPct)}% rss ${n(p.nodeRssMb)}MB`
  );
}
