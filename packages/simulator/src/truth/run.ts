import { writeFileSync } from "node:fs";
import type { HazardPage, Observation, SegmentPage } from "@roadpulse/protocol";
import { obtainSessions, registerDevices } from "../accounts.js";
import { Device } from "../fleet/device.js";
import type { ObservationSource, Position } from "../fleet/drive.js";
import { figureNames, machine } from "../fleet/run.js";
import { SharedToken } from "../fleet/tokens.js";
import { computeFigures } from "../metrics/figures.js";
import { Recorder } from "../metrics/recorder.js";
import { table } from "../metrics/summary.js";
import { checkNames, evaluate, parseThreshold, type ThresholdResult } from "../metrics/thresholds.js";
import { TokenKeeper } from "../token-keeper.js";
import { generateNetwork, type NetworkOptions } from "./network.js";
import { score, type TruthScore } from "./score.js";

export interface TruthOptions extends NetworkOptions {
  url: string;
  accounts: number;
  password: string;
  transport: "websocket" | "polling";
  batchSize: number;
  batchIntervalMs: number;
  maxInflight: number;
  ackTimeoutMs: number;
  settleTimeoutMs: number;
  /** Give up waiting when the aggregates have not changed for this long. */
  settleQuietMs: number;
  minN: number;
  json: string | undefined;
  thresholds: string[];
  quiet: boolean;
}

/** A drive recorded in advance: handed out in order, batch by batch. */
class ScriptedDrive implements ObservationSource {
  #next = 0;
  constructor(private readonly list: Observation[]) {}
  get finished(): boolean {
    return this.#next >= this.list.length;
  }
  take(max: number): Observation[] {
    const out = this.list.slice(this.#next, this.#next + max);
    this.#next += out.length;
    return out;
  }
  position(): Position {
    const o = this.list[Math.max(0, this.#next - 1)];
    return { latitude: o?.latitude ?? 0, longitude: o?.longitude ?? 0, speed: o?.speed ?? 0, heading: o?.heading ?? 0 };
  }
}

class ReadError extends Error {}

async function readAll<T>(url: string, path: string, bbox: string): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  do {
    const query: string = `bbox=${bbox}&limit=500${after ? `&after=${after}` : ""}`;
    const response = await fetch(`${url}${path}?${query}`, { signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new ReadError(`GET ${path}: HTTP ${response.status} ${await response.text()}`);
    const page = (await response.json()) as { items: T[]; next: string | null };
    items.push(...page.items);
    after = page.next;
  } while (after);
  return items;
}

export const TRUTH_FIGURES: Array<
  keyof TruthScore | "aggregate_lag_s" | "acked" | "not_aggregated" | "over_aggregated" | "settled" | "read_errors"
> = [
  "segments_scored",
  "class_accuracy",
  "segments_missing",
  "segment_count_mismatches",
  "potholes",
  "potholes_confirmable",
  "hazards_confirmed",
  "hazards_reported",
  "hazard_precision",
  "hazard_recall",
  "hazard_position_error_m",
  "bogus_reports",
  "false_hazards",
  "aggregated",
  "aggregate_lag_s",
  "acked",
  "not_aggregated",
  "over_aggregated",
  "settled",
  "read_errors",
];

/**
 * `roadpulse-sim truth`: generates a network with known truth, drives it with devices that behave
 * like the app (same Device as the load fleet), waits until the server's aggregates hold every acked
 * observation (or the settle deadline), reads segments and hazards back through the HTTP read API
 * and scores them.
 */
export async function runTruth(options: TruthOptions, log: (line: string) => void = console.log) {
  const thresholds = options.thresholds.map(parseThreshold);
  checkNames(thresholds, [...figureNames(), ...TRUTH_FIGURES]);
  const truth = generateNetwork(options);
  const bbox = truth.bbox.map((v) => v.toFixed(6)).join(",");
  log(
    `truth: ${options.roads} roads × ${options.roadKm} km, ${truth.segments.size} segments, ${truth.potholes.length} potholes, ` +
      `${truth.observations} observations from ${options.devices} devices (seed ${options.seed}, bbox ${bbox})`,
  );
  const metrics = new Recorder();
  const ids = [...truth.drives.keys()];
  const sessions = await obtainSessions(
    {
      url: options.url,
      accounts: options.accounts,
      prefix: "",
      password: options.password,
      deviceIdOf: (i) => ids[i] ?? "x",
    },
    metrics,
  );
  // One token per account, shared by its devices and renewed by the keeper.
  const shared = sessions.map((session) => new SharedToken(session.token));
  const tokens = new TokenKeeper({ url: options.url }, sessions, metrics, (account, token) =>
    shared[account]?.set(token),
  );
  const issued = await registerDevices({ url: options.url }, tokens.tokens, ids.length, metrics);
  const started = performance.now();
  const devices = ids.map(
    (name, i) =>
      new Device(
        {
          url: options.url,
          localAddress: "",
          session: shared[i % sessions.length] as SharedToken,
          deviceId: issued[i] as string,
          transport: options.transport,
          locationIntervalMs: 5_000,
          heartbeatIntervalMs: 30_000,
          batchIntervalMs: options.batchIntervalMs,
          batchSize: options.batchSize,
          maxInflight: options.maxInflight,
          maxQueued: 1_000_000,
          ackTimeoutMs: options.ackTimeoutMs,
        },
        new ScriptedDrive(truth.drives.get(name) ?? []),
        metrics,
      ),
  );
  await Promise.all(devices.map((device) => device.start()));
  tokens.start();
  const deadline = Date.now() + options.settleTimeoutMs + truth.observations * 20;
  let lastLog = Date.now();
  while (Date.now() < deadline) {
    if (devices.every((d) => d.drained)) break;
    if (!options.quiet && Date.now() - lastLog > 5_000) {
      lastLog = Date.now();
      log(
        `  sending: ${metrics.counter("obs.accepted") + metrics.counter("obs.duplicates")}/${truth.observations} acked`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const lastAckAt = performance.now();
  tokens.stop();
  const unsent = (await Promise.all(devices.map((d) => d.stop(options.ackTimeoutMs)))).reduce(
    (s, r) => s + r.unsent,
    0,
  );
  const acked = metrics.counter("obs.accepted");

  // Aggregates follow the acks: wait until the segments hold every acked observation and the hazards stop changing.
  let segments: SegmentPage["items"] = [];
  let hazards: HazardPage["items"] = [];
  let settledAt: number | undefined;
  let previous = "";
  let lastChange = performance.now();
  const settleBy = Date.now() + options.settleTimeoutMs;
  let readErrors = 0;
  while (Date.now() < settleBy) {
    try {
      segments = await readAll(options.url, "/api/segments", bbox);
      hazards = await readAll(options.url, "/api/hazards", bbox);
    } catch (error) {
      // A failed read is counted and the poll tried again, as any reader of the API would.
      if (!(error instanceof ReadError) && !(error instanceof TypeError)) throw error;
      readErrors += 1;
      if (readErrors <= 3) log(`  read failed (${(error as Error).message.slice(0, 120)}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      continue;
    }
    const aggregated = segments.reduce((s, seg) => s + seg.samples, 0);
    const shape = `${aggregated}:${hazards.map((h) => `${h.id}${h.status}${h.reports}`).join()}`;
    if (shape !== previous) lastChange = performance.now();
    if (aggregated >= acked) settledAt ??= performance.now();
    if (aggregated >= acked && shape === previous) break;
    // Nothing moved for a while and observations are still missing: they are not coming.
    if (performance.now() - lastChange > options.settleQuietMs) break;
    previous = shape;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  // Device i drives for account i % accounts: the server confirms a pothole from 3 distinct accounts.
  const accountOf = new Map(ids.map((name, i) => [name, i % sessions.length]));
  const scores = score(truth, segments, hazards, options.minN, (device) => accountOf.get(device) ?? -1);
  const wallSeconds = (performance.now() - started) / 1000;
  const fleet = computeFigures({
    metrics,
    atRampEnd: new Map(),
    steadySeconds: (lastAckAt - started) / 1000,
    wallSeconds,
    devices: options.devices,
    processes: [],
    generator: {
      cpuSeconds: process.cpuUsage().user / 1e6,
      loopP99MaxMs: Number.NaN,
      loopMaxMs: Number.NaN,
      rssBytes: 0,
      workers: 1,
    },
    unsent,
    nodeRssAtStart: 0,
  });
  const figures: Record<string, number> = {
    ...fleet,
    ...scores,
    acked,
    not_aggregated: acked - scores.aggregated,
    // More samples in the segments than observations acked: some were folded in twice.
    over_aggregated: Math.max(0, scores.aggregated - acked),
    aggregate_lag_s: settledAt === undefined ? Number.NaN : (settledAt - lastAckAt) / 1000,
    settled: settledAt === undefined ? 0 : 1,
    read_errors: readErrors,
  };
  const results = evaluate(thresholds, figures);
  log(`\n${truthSummary(figures, results)}`);
  const ok = results.every((r) => r.ok);
  const report = {
    tool: "roadpulse-sim truth",
    at: new Date().toISOString(),
    ok,
    options: { ...options, password: undefined },
    machine: machine(),
    figures: Object.fromEntries(
      Object.entries(figures).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toFixed(4)) : null]),
    ),
    thresholds: results,
  };
  if (options.json) writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  return { ok, figures, thresholds: results, report };
}

function truthSummary(f: Record<string, number>, thresholds: ThresholdResult[]): string {
  const v = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));
  const rows: string[][] = [
    [
      "segment class accuracy (n ≥ min-n)",
      `${v((f.class_accuracy ?? Number.NaN) * 100, 1)} % of ${v(f.segments_scored)}`,
    ],
    ["segments missing / count mismatches", `${v(f.segments_missing)} / ${v(f.segment_count_mismatches)}`],
    ["hazard precision (confirmed, 15 m)", v(f.hazard_precision, 3)],
    ["hazard recall (potholes seen by ≥ 3 accounts)", `${v(f.hazard_recall, 3)} of ${v(f.potholes_confirmable)}`],
    ["mean hazard position error", `${v(f.hazard_position_error_m, 1)} m`],
    [
      "confirmed / reported hazards, false ones",
      `${v(f.hazards_confirmed)} / ${v(f.hazards_reported)}, ${v(f.false_hazards)}`,
    ],
    ["bogus single-device reports sent", v(f.bogus_reports)],
    ["acked vs aggregated observations", `${v(f.acked)} vs ${v(f.aggregated)}`],
    ["aggregate lag after the last ack", `${v(f.aggregate_lag_s, 1)} s`],
    ["observations:submit ack p50 / p99", `${v(f.obs_ack_p50)} / ${v(f.obs_ack_p99)} ms`],
    ["errors / timeouts / failed reads", `${v(f.errors)} / ${v(f.ack_timeouts)} / ${v(f.read_errors)}`],
  ];
  const out = [table(["truth", "value"], rows)];
  if (thresholds.length > 0) {
    out.push(
      table(
        ["threshold", "value", "result"],
        thresholds.map((t) => [
          t.expression,
          t.value === null ? "no data" : t.value.toFixed(3),
          t.ok ? "ok" : "BROKEN",
        ]),
      ),
    );
  }
  return out.join("\n\n");
}
