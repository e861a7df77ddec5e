import cluster from "node:cluster";
import { setFlagsFromString } from "node:v8";
import { runPrimary } from "./cluster/primary.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { startNode } from "./node.js";

/**
 * Process entry point: validate configuration (one clear line and exit 1 when wrong), start the
 * node, and stop it gracefully on SIGTERM/SIGINT within SHUTDOWN_TIMEOUT_MS.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.instanceId, config.logLevel);
  // A node's heap is mostly its connections' state, and its garbage is short-lived (acks, pushes,
  // Redis replies). V8 lets the old generation grow up to 4× what survived the last full collection
  // when collections seem cheap, which made garbage most of each connection's memory. V8 reads this
  // flag at each collection, so setting it here works (it cannot be put in NODE_OPTIONS); workers
  // forked by the primary run this too.
  if (config.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
  if (config.workers > 1 && cluster.isPrimary) {
    await runPrimary(config, log);
    return;
  }
  const node = await startNode(config, {
    log,
    mode: cluster.isWorker ? "worker" : "listen",
  });

  const stop = (signal: string) => {
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      log.error("graceful shutdown timed out, exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`RoadPulse node failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
