#!/usr/bin/env node
/**
 * The local cluster, as plain processes: Redis (the machine's when it answers, else our own),
 * FerretDB (unless MONGODB_URI is set; on ROADPULSE_STORE_BACKEND, PostgreSQL by default), NODES RoadPulse nodes on ports 5001… (metrics on 9464…) and nginx on LB_PORT
 * in front of them, with the project's nginx.conf. Stops everything it started on Ctrl-C or
 * SIGTERM. Run through scripts/start.sh, which installs and builds first.
 */
import { join, resolve } from "node:path";
import { Cluster } from "./cluster.js";
import { type StoreBackend, startFerretDB, storeBackendFromEnv } from "./ferretdb.js";
import { isListening } from "./ports.js";
import { type RedisInstance, redisAnswers, startRedisServer } from "./redis.js";
import { StoreSupervisor } from "./store-supervisor.js";

const ROOT = resolve(new URL("../../..", import.meta.url).pathname);
const RUN_DIR = process.env.RUN_DIR ?? join(ROOT, ".run");

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return Number(raw);
}

async function provideRedis(): Promise<RedisInstance> {
  const configured = process.env.REDIS_URL;
  if (configured) {
    if (configured !== "off" && !(await redisAnswers(configured))) {
      console.warn(`REDIS_URL=${configured} does not answer; nodes will start degraded`);
    }
    return { url: configured, port: 0, stop: async () => {} };
  }
  const machineRedis = "redis://127.0.0.1:6379";
  if (await redisAnswers(machineRedis)) return { url: machineRedis, port: 6379, stop: async () => {} };
  return await startRedisServer({ port: 6379, dir: join(RUN_DIR, "redis"), output: join(RUN_DIR, "redis.log") });
}

/** The local cluster's default store backend, chosen by measurement (docs/store-backend.md). */
const DEFAULT_BACKEND: StoreBackend = "postgresql";

async function provideMongo(): Promise<{ uri: string; backend?: StoreBackend; supervisor?: StoreSupervisor }> {
  if (process.env.MONGODB_URI) return { uri: process.env.MONGODB_URI };
  const backend = storeBackendFromEnv(DEFAULT_BACKEND);
  const wanted = intFromEnv("MONGO_PORT", 27017);
  const free = !(await isListening(wanted));
  const start = (port?: number) =>
    startFerretDB({
      ...(port === undefined ? {} : { port }),
      dataDir: join(RUN_DIR, "ferretdb"),
      output: join(RUN_DIR, "ferretdb.log"),
      backend,
      // The local cluster's data outlives it, whichever the backend (`dropdb` removes it by hand).
      keepData: true,
      log: (line) => console.error(`[cluster] store: ${line}`),
    });
  const instance = await start(free ? wanted : undefined);
  // The store we start is ours to watch: restarted on the same port when it stalls.
  const supervisor = new StoreSupervisor(instance, () => start(instance.port), {
    log: (line) => console.error(`[cluster] ${line}`),
  });
  supervisor.start();
  return { uri: `${instance.baseUri}/roadpulse`, backend, supervisor };
}

async function main(): Promise<void> {
  const nodes = intFromEnv("NODES", 3);
  if (nodes < 1 || nodes > 32) throw new Error("NODES must be between 1 and 32");
  const firstPort = intFromEnv("NODE_BASE_PORT", 5001);
  // Each node's metrics listener (METRICS_PORT), where a local Prometheus would scrape it.
  const firstMetricsPort = intFromEnv("METRICS_BASE_PORT", 9464);
  const lbPort = intFromEnv("LB_PORT", 8080);

  const stoppers: Array<() => Promise<unknown>> = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping the local cluster…");
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    process.exit(code);
  };
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));

  try {
    const redis = await provideRedis();
    stoppers.push(() => redis.stop());
    const mongo = await provideMongo();
    const supervisor = mongo.supervisor;
    if (supervisor) {
      stoppers.push(async () => {
        supervisor.stop();
        await supervisor.current.stop();
      });
    }

    const cluster = await Cluster.start({
      nodes,
      nodePorts: Array.from({ length: nodes }, (_, i) => firstPort + i),
      metricsPorts: Array.from({ length: nodes }, (_, i) => firstMetricsPort + i),
      lbPort,
      redisUrl: redis.url,
      mongoUri: mongo.uri,
      dir: RUN_DIR,
      output: () => "inherit-prefixed",
      // A node that dies on its own is started again (with back-off), so one crash does not cost
      // the local cluster a node for good.
      supervise: { log: (line) => console.error(`[cluster] ${line}`) },
    });
    stoppers.push(() => cluster.stop());
    const running = cluster.nodes.filter((node) => node !== undefined);
    const nginx = cluster.nginx;

    console.log("\nRoadPulse local cluster is up:");
    console.log(`  Redis     ${redis.url}${redis.service ? " (started here)" : " (reused)"}`);
    console.log(
      `  MongoDB   ${mongo.uri}${mongo.supervisor ? ` (FerretDB on ${mongo.backend}, started here, restarted if it stalls)` : ""}`,
    );
    for (const node of running) {
      console.log(
        `  ${node.nodeId.padEnd(9)} ${node.url}  (health: ${node.url}/health, metrics: ${node.metricsUrl}/metrics)`,
      );
    }
    console.log(`  nginx     ${nginx.url}  ← devices, the simulator and curl go here (health: ${nginx.url}/health)`);
    console.log(
      `  ops map   ${nginx.url}/map  (an observer account: register, then MONGODB_URI=${mongo.uri} node packages/server/dist/auth/admin-cli.js grant <email> observer)`,
    );
    console.log("A node that dies is restarted. Ctrl-C stops everything.\n");
  } catch (error) {
    console.error(`local cluster failed to start: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll(1);
  }
}

void main();
