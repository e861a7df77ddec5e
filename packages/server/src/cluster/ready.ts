import type { Worker } from "node:cluster";

/**
 * A worker's "I can take connections" signal. The primary hands each TCP connection to a worker
 * over IPC, and a worker only picks them up once `acceptHandedOverConnections` has run, which
 * is after Redis, MongoDB and the HTTP app are set up. A connection handed over before that is lost
 * and hangs until the client gives up, so the primary must not listen before every worker said so:
 * "online" (the process started) is not enough.
 */
const WORKER_READY = "roadpulse:worker-ready";

/** In a worker, once it accepts connections. */
export function announceWorkerReady(): void {
  process.send?.({ type: WORKER_READY });
}

/** In the primary: resolves when `worker` announced it is ready. */
export function workerReady(worker: Worker): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: unknown } | null) => {
      if (message?.type !== WORKER_READY) return;
      worker.off("message", onMessage);
      resolve();
    };
    worker.on("message", onMessage);
  });
}
