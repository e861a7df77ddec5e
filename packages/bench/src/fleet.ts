import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  Cluster,
  freePort,
  type MongoInstance,
  type RedisInstance,
  startFerretDB,
  startRedisServer,
  storeBackendFromEnv,
  waitFor,
} from "@roadpulse/devstack";
import { runBenchmark } from "./lib/run.js";
import { type RawInsertResult, rawInsertThroughput } from "./raw-insert.js";

/**
 * `pnpm bench fleet`: the local cluster (2 nodes + nginx + a private Redis + FerretDB on
 * ROADPULSE_STORE_BACKEND, PostgreSQL by default as in scripts/start.sh, or MONGODB_URI) under `roadpulse-sim fleet` in steps of 250, 500, 1k, 2k, 5k devices until a step
 * breaks its thresholds. Before each step the same generator drives a bare Socket.IO server (acks
 * only) on the same machine with the same number of devices: the baseline, and every figure of the
 * step is also given as a ratio to it. Writes bench/results/<name>.json and <name>.md (`--name`,
 * default `fleet`; e.g. `--name fleet-realtime` for a run without observation batches).
 *
 * After the steps, in the same run and against the same store, the store's raw `insertMany`
 * throughput (raw-insert.ts): the highest passing step's accepted observations/s is also given as a
 * share of it, the figure that says how much of the store the write path leaves unused.
 *
 * Flags: --steps 250,500,1000,2000,5000  --duration 30s  --ramp 15s  --nodes 2  --batch-size 5  --name fleet
 *        --threshold EXPR (repeatable; default obs_ack_p99<1000, errors==0)  --no-raw
 *        -- <more fleet flags>
 */
const ROOT = resolve(new URL("../../..", import.meta.url).pathname);
const CLI = join(ROOT, "packages/simulator/dist/cli.js");
const RESULTS = join(ROOT, "bench/results");

type Report = {
  ok: boolean;
  machine: Record<string, unknown>;
  figures: Record<string, number | null>;
  thresholds: Array<{ expression: string; value: number | null; ok: boolean }>;
  fileLimits: string[];
  processes: Array<Record<string, unknown>>;
};

const args = parseArgs({
  args: process.argv.slice(2),
  options: {
    steps: { type: "string", default: "250,500,1000,2000,5000" },
    duration: { type: "string", default: "30s" },
    ramp: { type: "string", default: "15s" },
    nodes: { type: "string", default: "2" },
    threshold: { type: "string", multiple: true },
    "batch-size": { type: "string", default: "5" },
    "no-raw": { type: "boolean", default: false },
    name: { type: "string", default: "fleet" },
  },
  allowPositionals: true,
});
const steps = (args.values.steps as string).split(",").map(Number);
const thresholds = (args.values.threshold as string[] | undefined) ?? ["obs_ack_p99<1000", "errors==0"];
const extra = args.positionals;
const name = args.values.name as string;
if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`--name must be lowercase letters, digits and dashes, got "${name}"`);

function runFleet(url: string, devices: number, json: string, more: string[]): Promise<Report> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        "fleet",
        "--url",
        url,
        "--devices",
        String(devices),
        "--ramp",
        args.values.ramp as string,
        "--duration",
        args.values.duration as string,
        "--json",
        json,
        "--progress",
        "10s",
        "--batch-size",
        args.values["batch-size"] as string,
        ...thresholds.flatMap((t) => ["--threshold", t]),
        "--threshold",
        `connected>=${devices}`,
        ...more,
        ...extra,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    child.on("exit", (code) => {
      if (code === 2) return fail(new Error("roadpulse-sim refused its flags"));
      try {
        done(JSON.parse(readFileSync(json, "utf8")) as Report);
      } catch (error) {
        fail(error);
      }
    });
  });
}

async function baselineServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, "baseline", "--port", String(port)], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("baseline server", async () => (await fetch(`${url}/health`)).ok, 20_000, 100);
  return { url, child };
}

const fmt = (v: number | null | undefined, digits = 0) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "-"
    : v.toLocaleString("en-US", { maximumFractionDigits: digits });
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? null : a / b;

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-fleet-"));
  let redis: RedisInstance | undefined;
  let ferret: MongoInstance | undefined;
  let cluster: Cluster | undefined;
  const rows: Array<Record<string, unknown>> = [];
  let machine: Record<string, unknown> = {};
  let raw: RawInsertResult | undefined;
  try {
    redis = await startRedisServer({ dir, output: "ignore" });
    let mongoUri = process.env.MONGODB_URI;
    if (!mongoUri) {
      // The local cluster's store (scripts/start.sh): FerretDB on ROADPULSE_STORE_BACKEND, PostgreSQL by default.
      ferret = await startFerretDB({
        backend: storeBackendFromEnv("postgresql"),
        dataDir: join(dir, "ferretdb"),
        output: join(dir, "ferretdb.log"),
      });
      mongoUri = `${ferret.baseUri}/bench_fleet`;
    }
    cluster = await Cluster.start({
      nodes: Number(args.values.nodes),
      redisUrl: redis.url,
      mongoUri,
      env: { LOG_LEVEL: "warn" },
      dir,
      output: (name) => join(dir, `${name}.log`),
    });
    for (const devices of steps) {
      console.log(`\n=== ${devices} devices: baseline (bare Socket.IO, acks only) ===`);
      const baseline = await baselineServer();
      const base = await runFleet(baseline.url, devices, join(dir, `base-${devices}.json`), [
        "--procs",
        String(baseline.child.pid),
        "--accounts",
        "1",
      ]);
      baseline.child.kill("SIGTERM");
      console.log(`\n=== ${devices} devices: local cluster (${args.values.nodes} nodes + nginx + Redis + store) ===`);
      const step = await runFleet(cluster.url, devices, join(dir, `cluster-${devices}.json`), []);
      machine = step.machine;
      const ratios = Object.fromEntries(Object.entries(step.figures).map(([k, v]) => [k, ratio(v, base.figures[k])]));
      rows.push({
        devices,
        ok: step.ok,
        thresholds: step.thresholds,
        figures: step.figures,
        baseline: base.figures,
        ratios,
      });
      writeResults(rows, machine, raw);
      if (!step.ok) {
        console.log(`\nstep ${devices} broke its thresholds: stopping here`);
        break;
      }
    }
    if (!args.values["no-raw"]) {
      // The nodes stop first (finishing their aggregation rounds), so raw inserts have the store alone.
      await cluster.stop();
      cluster = undefined;
      console.log("\n=== raw insertMany throughput of the same store ===");
      raw = await rawInsertThroughput(mongoUri, Number(args.values["batch-size"]));
      writeResults(rows, machine, raw);
    }
  } finally {
    await cluster?.stop();
    await redis?.stop();
    await ferret?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${readFileSync(join(RESULTS, `${name}.md`), "utf8")}`);
}

/** The highest passing step's accepted observations/s, and its share of the raw figure. */
function rawSummary(rows: Array<Record<string, unknown>>, raw: RawInsertResult): string {
  const passing = rows.filter((row) => row.ok).map((row) => row.figures as Record<string, number | null>);
  const best = Math.max(0, ...passing.map((f) => f.obs_accepted_per_s ?? 0));
  const tried = Object.entries(raw.byConcurrency)
    .map(([c, v]) => `${fmt(v)}/s with ${c}`)
    .join(", ");
  return (
    `Raw \`insertMany\` of ${raw.batchSize}-document batches to the same store, same run: **${fmt(raw.docsPerSecond)} documents/s** ` +
    `(${tried} writers). Highest passing step: **${fmt(best)} observations/s accepted = ${fmt((100 * best) / raw.docsPerSecond)} %** of raw.`
  );
}

function writeResults(
  rows: Array<Record<string, unknown>>,
  machine: Record<string, unknown>,
  raw?: RawInsertResult,
): void {
  const at = new Date().toISOString();
  writeFileSync(
    join(RESULTS, `${name}.json`),
    `${JSON.stringify({ at, machine, thresholds, steps: rows, rawInsert: raw ?? null }, null, 2)}\n`,
  );
  const cell = (f: Record<string, number | null>, r: Record<string, number | null>, key: string, digits = 0) =>
    `${fmt(f[key], digits)} (×${fmt(r[key], 2)})`;
  const lines = [
    `\`pnpm bench fleet\`, ${at.slice(0, 16)}Z, ${machine.cores} × ${machine.cpu}, ${machine.memoryGb} GB, Node ${machine.node}; ` +
      `thresholds ${thresholds.join(", ")}; (×n) = ratio to the bare Socket.IO baseline at the same size.`,
    "",
    "| devices | ok | obs acks/s | obs ack p50 ms | obs ack p99 ms | location acks/s | location p99 ms | pushes/s | presence pushes / location | push lag p99 ms | errors | node CPU % | delivered / node CPU-s | RSS / conn KB | generator CPU % | generator loop p99 ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const f = row.figures as Record<string, number | null>;
    const r = row.ratios as Record<string, number | null>;
    lines.push(
      `| ${row.devices} | ${row.ok ? "yes" : "**no**"} | ${cell(f, r, "obs_acks_per_s", 1)} | ${cell(f, r, "obs_ack_p50", 1)} | ` +
        `${cell(f, r, "obs_ack_p99")} | ${fmt(f.location_acks_per_s, 1)} | ${cell(f, r, "location_ack_p99")} | ${fmt(f.pushes_per_s, 1)} | ` +
        `${fmt(ratio(f.push_presence_per_s, f.location_acks_per_s), 3)} | ${fmt(f.push_lag_p99)} | ` +
        `${fmt(f.errors)} | ${cell(f, r, "node_cpu_pct")} | ${cell(f, r, "delivered_per_node_cpu_s")} | ` +
        `${cell(f, r, "rss_per_connection_kb", 1)} | ${fmt(f.generator_cpu_pct)} | ${fmt(f.generator_loop_p99_ms, 1)} |`,
    );
  }
  if (raw !== undefined) lines.push("", rawSummary(rows, raw));
  writeFileSync(join(RESULTS, `${name}.md`), `${lines.join("\n")}\n`);
}

runBenchmark(main);
