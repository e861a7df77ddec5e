import cluster, { type Worker } from "node:cluster";
import { createServer } from "node:http";
import { setupMaster } from "@socket.io/sticky";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { serveClusterMetrics } from "./metrics-ipc.js";
import { workerReady } from "./ready.js";

/**
 * The primary process of a node with WORKERS > 1. It owns the listening port and hands each new
 * TCP connection to a worker: by Engine.IO session id when the request carries one (so every
 * long-poll of a session reaches the worker that holds it), else to the least-loaded worker.
 * Every worker is a full node in its own right (Redis adapter, presence, metrics); the primary only
 * routes, restarts crashed workers, aggregates metrics and forwards shutdown.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const server = createServer();
  setupMaster(server, { loadBalancingMethod: "least-connection" });
  serveClusterMetrics();

  let stopping = false;
  const fork = (index: number): Worker => {
    const worker = cluster.fork({ WORKER_INDEX: String(index) }) as Worker & { clientsCount?: number };
    // @socket.io/sticky's least-connection choice reads `clientsCount`: a worker that cannot take
    // connections yet (first start, or a restart after a crash) looks full until it says it is ready,
    // so no new device is handed to it meanwhile.
    worker.clientsCount = Number.MAX_SAFE_INTEGER;
    void workerReady(worker).then(() => {
      worker.clientsCount = 0;
    });
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      log.error({ worker: index, code, signal }, "worker exited; starting a new one");
      setTimeout(() => fork(index), 500).unref();
    });
    return worker;
  };
  const workers = Array.from({ length: config.workers }, (_, index) => fork(index));
  // Listen only once every worker takes connections (see ready.ts): until then the port refuses
  // connections, so the node's health check and balancers see it as not up yet.
  await Promise.all(workers.map(workerReady));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  log.info({ port: config.port, workers: config.workers }, "RoadPulse node primary listening");

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down workers");
    server.close();
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exits = alive.map((worker) => new Promise((resolve) => worker.once("exit", resolve)));
    for (const worker of alive) worker.process.kill("SIGTERM");
    const force = setTimeout(() => {
      log.error("workers did not stop in time");
      process.exit(1);
    }, config.shutdownTimeoutMs + 2_000);
    force.unref();
    void Promise.all(exits).then(() => process.exit(0));
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
