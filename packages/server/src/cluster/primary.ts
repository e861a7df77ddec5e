import cluster, { type Worker } from "node:cluster";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { startMetricsServer } from "../metrics/server.js";
import { ConnectionHandover } from "./handover.js";
import { clusterMetrics } from "./metrics-ipc.js";
import { workerReady } from "./ready.js";

/**
 * The primary process of a node with WORKERS > 1. It owns the listening port and hands each new
 * TCP connection to a worker (see handover.ts): by Engine.IO session id when the request carries
 * one (so every long-poll of a session reaches the worker that holds it), else to the ready worker
 * with the fewest sessions. Every worker is a full node in its own right (Redis adapter, presence,
 * metrics); the primary only routes, restarts crashed workers, serves the node's metrics (every
 * worker's, merged) and forwards shutdown.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const handover = new ConnectionHandover(log);
  const server = handover.server;
  cluster.on("message", (worker: Worker, message: unknown) => {
    handover.onMessage(worker.id, message);
  });

  let stopping = false;
  const fork = (index: number): Worker => {
    const worker = cluster.fork({ WORKER_INDEX: String(index) });
    // A worker that cannot take connections yet (first start, or a restart after a crash) is
    // handed none until it says it is ready.
    handover.add(worker.id, worker);
    void workerReady(worker).then(() => handover.ready(worker.id));
    worker.once("exit", (code, signal) => {
      handover.remove(worker.id);
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
  // The node's metrics listener is the primary's: it merges every worker's registry.
  const merged = clusterMetrics();
  const metrics = await startMetricsServer(config.metricsHost, config.metricsPort, merged.contentType, merged.render);
  log.info(
    { port: config.port, metricsPort: metrics.port, workers: config.workers },
    "RoadPulse node primary listening",
  );

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, connections: handover.stats }, "shutting down workers");
    server.close();
    void metrics.close();
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
