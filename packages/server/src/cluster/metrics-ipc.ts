import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * With WORKERS > 1 a scrape reaches one worker, but `/metrics` must describe the whole node.
 * The worker asks the primary, which gathers every worker's registry through prom-client's
 * cluster aggregation and answers with the merged text.
 */
const REQUEST = "roadpulse:metrics-request";
const REPLY = "roadpulse:metrics-reply";

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof REPLY;
  id: number;
  body?: string;
  error?: string;
}

/** In the primary: answers workers' requests for the node-wide metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker: Worker, message: MetricsRequest) => {
    if (message?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: REPLY, id: message.id, body } satisfies MetricsReply),
      (error: Error) => worker.send({ type: REPLY, id: message.id, error: error.message } satisfies MetricsReply),
    );
  });
}

let nextId = 0;
const pending = new Map<number, { resolve: (body: string) => void; reject: (error: Error) => void }>();

/** In a worker: registers its registry for aggregation and listens for the primary's replies. */
export function joinClusterMetrics(registry: Registry): void {
  // Constructing an aggregator is what installs prom-client's worker-side IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  process.on("message", (message: MetricsReply) => {
    if (message?.type !== REPLY) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.body !== undefined) waiter?.resolve(message.body);
    else waiter?.reject(new Error(message.error ?? "no metrics"));
  });
}

/** In a worker: the node-wide metrics text, from the primary. */
export function fetchClusterMetrics(timeoutMs = 5_000): Promise<string> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error("metrics aggregation timed out"));
    }, timeoutMs);
    pending.set(id, {
      resolve: (body) => {
        clearTimeout(timer);
        resolve(body);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    });
    process.send?.({ type: REQUEST, id } satisfies MetricsRequest);
  });
}
