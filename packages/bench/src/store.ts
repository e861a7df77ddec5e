import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  Cluster,
  type MongoInstance,
  type RedisInstance,
  STORE_BACKENDS,
  type StoreBackend,
  StoreSupervisor,
  startFerretDB,
  startRedisServer,
} from "@roadpulse/devstack";
import { MongoClient, ObjectId } from "mongodb";
import { cpuSeconds, postgresCpuSeconds } from "./lib/proc-cpu.js";
import { runBenchmark } from "./lib/run.js";

/**
 * `pnpm bench store`: FerretDB on SQLite against FerretDB on PostgreSQL, in one run. Both local
 * clusters (2 nodes + nginx + a private Redis + a supervised FerretDB each) are up at once and
 * measured in turn, so both see the same machine load. Per backend: raw `insertMany` throughput;
 * `roadpulse-sim fleet` steps of devices × 5 observations/s (the order of the two backends
 * alternates per step) until observation ack p99 passes 5 s or acks time out; then both soak at once.
 * The summary names, per backend, the highest step whose p99 stayed under --p99-limit. Store CPU
 * is FerretDB's plus, for PostgreSQL, every `postgres` process's. Writes bench/results/store.json/.md.
 *
 * Flags: --steps 50,100,200,300,400,600,800,1000  --duration 30s  --ramp 10s  --p99-limit 250
 *        --soak-minutes 10  --soak-devices 100  --backends sqlite,postgresql
 */
const ROOT = resolve(new URL("../../..", import.meta.url).pathname);
const CLI = join(ROOT, "packages/simulator/dist/cli.js");
const RESULTS = join(ROOT, "bench/results");

const args = parseArgs({
  args: process.argv.slice(2),
  options: {
    steps: { type: "string", default: "50,100,200,300,400,600,800,1000" },
    duration: { type: "string", default: "30s" },
    ramp: { type: "string", default: "10s" },
    "p99-limit": { type: "string", default: "250" },
    "soak-minutes": { type: "string", default: "10" },
    "soak-devices": { type: "string", default: "100" },
    backends: { type: "string", default: STORE_BACKENDS.join(",") },
  },
});
const steps = (args.values.steps as string).split(",").map(Number);
const p99Limit = Number(args.values["p99-limit"]);
const backends = (args.values.backends as string).split(",") as StoreBackend[];

interface Stack {
  backend: StoreBackend;
  redis: RedisInstance;
  supervisor: StoreSupervisor;
  cluster: Cluster;
  mongoUri: string;
  supervisorLog: string[];
}

/** Store CPU over `run`, in % of one core: FerretDB, plus PostgreSQL for that backend. */
async function withStoreCpu<T>(
  stack: Stack,
  run: () => Promise<T>,
): Promise<{ result: T; storeCpuPct: number; ferretCpuPct: number }> {
  const pid = stack.supervisor.current.service?.pid as number;
  const pg = stack.backend === "postgresql";
  const [f0, p0, t0] = [cpuSeconds(pid), pg ? postgresCpuSeconds() : 0, Date.now()];
  const result = await run();
  const seconds = (Date.now() - t0) / 1000;
  const ferret = cpuSeconds(pid) - f0;
  const postgres = pg ? postgresCpuSeconds() - p0 : 0;
  return { result, storeCpuPct: (100 * (ferret + postgres)) / seconds, ferretCpuPct: (100 * ferret) / seconds };
}

async function startStack(backend: StoreBackend, dir: string): Promise<Stack> {
  const home = join(dir, backend);
  const redis = await startRedisServer({ dir: join(home, "redis"), output: "ignore" });
  const start = (port?: number): Promise<MongoInstance> =>
    startFerretDB({
      ...(port === undefined ? {} : { port }),
      dataDir: join(home, "ferretdb"),
      output: join(home, "ferretdb.log"),
      backend,
    });
  const first = await start();
  const supervisorLog: string[] = [];
  const supervisor = new StoreSupervisor(first, () => start(first.port), {
    log: (line) => {
      supervisorLog.push(`${new Date().toISOString()} ${line}`);
      console.error(`[${backend} supervisor] ${line}`);
    },
  });
  supervisor.start();
  const mongoUri = `${first.baseUri}/roadpulse`;
  try {
    const cluster = await Cluster.start({
      nodes: 2,
      redisUrl: redis.url,
      mongoUri,
      env: { LOG_LEVEL: "warn" },
      dir: home,
      output: (name) => join(home, `${name}.log`),
    });
    return { backend, redis, supervisor, cluster, mongoUri, supervisorLog };
  } catch (error) {
    supervisor.stop();
    await supervisor.current.stop();
    await redis.stop();
    throw error;
  }
}

async function stopStack(stack: Stack): Promise<void> {
  await stack.cluster.stop();
  stack.supervisor.stop();
  await stack.supervisor.current.stop();
  await stack.redis.stop();
}

/** Raw throughput: 20 clients × 50 durable `insertMany` of 50 observation-shaped documents. */
async function rawInsertMany(stack: Stack, round: number): Promise<number> {
  const client = new MongoClient(`${stack.supervisor.current.baseUri}/raw_${round}`, { maxPoolSize: 20 });
  try {
    const collection = client.db().collection("observations");
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 20 }, async (_, device) => {
        for (let b = 0; b < 50; b++) {
          const docs = Array.from({ length: 50 }, (_, i) => ({
            _id: new ObjectId(),
            deviceId: `raw-${device}`,
            userId: "0123456789abcdef01234567",
            latitude: 28.6 + i / 1e4,
            longitude: 77.2 + b / 1e4,
            recordedAt: new Date(),
            receivedAt: new Date(),
            roughness: (i % 17) / 3,
            speed: 12.5,
            heading: 90,
            segmentId: "u3butzxb.ew",
            region: "u3but",
            counted: true,
          }));
          await collection.insertMany(docs, { ordered: false, writeConcern: { w: "majority", j: true } });
        }
      }),
    );
    return (20 * 50 * 50) / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    await client
      .db()
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
  }
}

/** The simulator runs under way, told to stop early (and still report) on Ctrl-C. */
const running = new Set<ChildProcess>();

function sim(
  command: "fleet" | "soak",
  stack: Stack,
  devices: number,
  json: string,
  more: string[],
): Promise<Record<string, number | null>> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        command,
        "--url",
        stack.cluster.url,
        "--devices",
        String(devices),
        "--ramp",
        args.values.ramp as string,
        "--json",
        json,
        "--progress",
        "30s",
        ...more,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    running.add(child);
    child.on("exit", (code) => {
      running.delete(child);
      if (code === 2) return fail(new Error("roadpulse-sim refused its flags"));
      try {
        done((JSON.parse(readFileSync(json, "utf8")) as { figures: Record<string, number | null> }).figures);
      } catch (error) {
        fail(error);
      }
    });
  });
}

/** A run that ended without a report (the simulator failed): recorded as such, the next one still runs. */
async function simOrFailure(...params: Parameters<typeof sim>): Promise<Record<string, number | null>> {
  try {
    return await sim(...params);
  } catch (error) {
    console.error(`roadpulse-sim ${params[0]} against ${params[1].backend} gave no report: ${error}`);
    return { failed: 1 };
  }
}

const KEEP = [
  "failed",
  "obs_ack_p50",
  "obs_ack_p99",
  "obs_ack_max",
  "obs_acks_per_s",
  "obs_accepted_per_s",
  "location_ack_p99",
  "obs_timeouts",
  "errors",
  "push_lag_p99",
  "node_cpu_pct",
  "generator_cpu_pct",
  "generator_loop_p99_ms",
  "missing",
  "health_failures",
  "health_p99",
  "health_max",
  "node_rss_growth_pct",
];
const pick = (f: Record<string, number | null>) => Object.fromEntries(KEEP.filter((k) => k in f).map((k) => [k, f[k]]));

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-store-"));
  const stacks: Stack[] = [];
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    args: args.values,
    raw: [],
    steps: [],
    soak: [],
  };
  const save = () => {
    writeFileSync(join(RESULTS, "store.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(RESULTS, "store.md"), table(results));
  };
  // Ctrl-C or SIGTERM still stops both clusters and drops the PostgreSQL database (the finally below).
  let interrupted = false;
  let failed = false;
  const interrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    for (const child of running) child.kill("SIGINT");
    console.error("interrupted: stopping after the current run");
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    for (const backend of backends) stacks.push(await startStack(backend, dir));
    for (let round = 0; round < 2; round++) {
      for (const stack of round % 2 === 0 ? stacks : [...stacks].reverse()) {
        if (interrupted) break;
        const m = await withStoreCpu(stack, () => rawInsertMany(stack, round));
        (results.raw as unknown[]).push({
          backend: stack.backend,
          round,
          docsPerS: m.result,
          storeCpuPct: m.storeCpuPct,
          ferretCpuPct: m.ferretCpuPct,
        });
        console.log(
          `raw insertMany ${stack.backend} round ${round}: ${m.result.toFixed(0)} docs/s, store CPU ${m.storeCpuPct.toFixed(0)}%`,
        );
        save();
      }
    }
    const live = new Set(stacks);
    for (const [i, devices] of steps.entries()) {
      for (const stack of i % 2 === 0 ? stacks : [...stacks].reverse()) {
        if (!live.has(stack) || interrupted) continue;
        console.log(`\n=== ${stack.backend}: ${devices} devices × 5 obs/s ===`);
        const restartsBefore = stack.supervisor.restarts;
        const json = join(dir, `${stack.backend}-${devices}.json`);
        const m = await withStoreCpu(stack, () =>
          simOrFailure("fleet", stack, devices, json, ["--duration", args.values.duration as string]),
        );
        const row = {
          backend: stack.backend,
          devices,
          ...pick(m.result),
          storeCpuPct: m.storeCpuPct,
          ferretCpuPct: m.ferretCpuPct,
          storeRestarts: stack.supervisor.restarts - restartsBefore,
          load1: loadavg()[0],
        };
        (results.steps as unknown[]).push(row);
        save();
        // Past seconds of p99 or with acks timing out, a bigger step says nothing more.
        if (!(Number(m.result.obs_ack_p99) < 5_000) || Number(m.result.obs_timeouts) > 0) live.delete(stack);
      }
    }
    const soakDevices = Number(args.values["soak-devices"]);
    // Both soaks at once: each backend's stability over the same 10 minutes of the same machine.
    await Promise.all(
      stacks.map(async (stack) => {
        if (interrupted) return;
        console.log(
          `\n=== ${stack.backend}: soak, ${soakDevices} devices × 5 obs/s, ${args.values["soak-minutes"]} min ===`,
        );
        const restartsBefore = stack.supervisor.restarts;
        const json = join(dir, `${stack.backend}-soak.json`);
        const m = await withStoreCpu(stack, () =>
          simOrFailure("soak", stack, soakDevices, json, [
            "--minutes",
            args.values["soak-minutes"] as string,
            "--mongo-uri",
            stack.mongoUri,
          ]),
        );
        (results.soak as unknown[]).push({
          backend: stack.backend,
          devices: soakDevices,
          minutes: Number(args.values["soak-minutes"]),
          ...pick(m.result),
          storeCpuPct: m.storeCpuPct,
          ferretCpuPct: m.ferretCpuPct,
          storeRestarts: stack.supervisor.restarts - restartsBefore,
          supervisorLog: stack.supervisorLog.slice(),
        });
        save();
      }),
    );
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    for (const stack of stacks) {
      const log = readFileSync(join(dir, stack.backend, "ferretdb.log"), "utf8");
      (results as Record<string, unknown>)[`${stack.backend}_ferretdb_panics`] = (log.match(/panic/g) ?? []).length;
      await stopStack(stack).catch((error) => console.error(`stopping ${stack.backend}: ${error}`));
    }
    save();
    // A store that stalled left its goroutine dump in its log: keep the logs to read it.
    if (failed || stacks.some((stack) => stack.supervisor.restarts > 0)) console.log(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n${readFileSync(join(RESULTS, "store.md"), "utf8")}`);
}

function table(results: Record<string, unknown>): string {
  const n = (v: unknown, d = 0) =>
    typeof v === "number" && Number.isFinite(v) ? v.toLocaleString("en-US", { maximumFractionDigits: d }) : "-";
  const lines = [
    `\`pnpm bench store\`, ${String(results.at).slice(0, 16)}Z`,
    "",
    "| backend | raw insertMany docs/s | store CPU % |",
    "|---|---|---|",
  ];
  for (const r of results.raw as Array<Record<string, number>>)
    lines.push(`| ${r.backend} | ${n(r.docsPerS)} | ${n(r.storeCpuPct)} |`);
  const head =
    "| backend | devices | observations/s | obs ack p50 ms | p99 ms | max ms | location p99 ms | errors | store CPU % | FerretDB CPU % | node CPU % | generator CPU % | store restarts | load (1 min) |";
  lines.push("", head, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results.steps as Array<Record<string, number>>) {
    lines.push(
      `| ${r.backend} | ${r.devices} | ${n(r.obs_accepted_per_s, 1)} | ${n(r.obs_ack_p50, 1)} | ${n(r.obs_ack_p99)} | ${n(r.obs_ack_max)} | ${n(r.location_ack_p99)} | ${n(r.errors)} | ${n(r.storeCpuPct)} | ${n(r.ferretCpuPct)} | ${n(r.node_cpu_pct)} | ${n(r.generator_cpu_pct)} | ${n(r.storeRestarts)} | ${n(r.load1, 1)} |`,
    );
  }
  for (const backend of new Set((results.steps as Array<Record<string, unknown>>).map((r) => r.backend))) {
    const ok = (results.steps as Array<Record<string, number>>).filter(
      (r) => r.backend === backend && Number(r.obs_ack_p99) < p99Limit && r.errors === 0,
    );
    const best = ok.sort((a, b) => Number(b.devices) - Number(a.devices))[0];
    lines.push(
      "",
      `${backend}: highest step with observation ack p99 < ${p99Limit} ms and no errors: ` +
        (best ? `${best.devices} devices, ${n(best.obs_accepted_per_s, 1)} observations/s` : "none"),
    );
  }
  lines.push(
    "",
    "| soak backend | devices | minutes | observations/s | p99 ms | max ms | errors | missing | health failures | health max ms | store CPU % | node CPU % | generator CPU % | store restarts |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of results.soak as Array<Record<string, number>>) {
    lines.push(
      `| ${r.backend} | ${r.devices} | ${r.minutes} | ${n(r.obs_accepted_per_s, 1)} | ${n(r.obs_ack_p99)} | ${n(r.obs_ack_max)} | ${n(r.errors)} | ${n(r.missing)} | ${n(r.health_failures)} | ${n(r.health_max)} | ${n(r.storeCpuPct)} | ${n(r.node_cpu_pct)} | ${n(r.generator_cpu_pct)} | ${n(r.storeRestarts)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

runBenchmark(main);
