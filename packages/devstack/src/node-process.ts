import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "./ports.js";
import { type Service, startService } from "./process.js";

/** The compiled node entry point (the README's commands build it first). */
export const NODE_MAIN = fileURLToPath(new URL("../../server/dist/main.js", import.meta.url));

/**
 * The Node.js flags a node runs with, as in deploy/Dockerfile and the server's `start` script: a
 * young generation of 2 × 4 MB instead of V8's default 2 × 16 MB (docs/configuration.md, "Node.js
 * flags").
 */
export const NODE_FLAGS = ["--max-semi-space-size=4"];

export interface NodeProcess {
  nodeId: string;
  port: number;
  url: string;
  /** The node's metrics listener (METRICS_PORT): `${metricsUrl}/metrics` is what Prometheus scrapes. */
  metricsPort: number;
  metricsUrl: string;
  service: Service;
}

export interface HealthBody {
  status: string;
  node: string;
  services: Record<string, string>;
}

export async function fetchHealth(url: string): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3_000) });
  return { status: response.status, body: (await response.json()) as HealthBody };
}

/** Starts one RoadPulse node as its own OS process and waits until it answers /health. */
export async function startNodeProcess(options: {
  nodeId: string;
  port: number;
  /** A free port when absent. */
  metricsPort?: number;
  env: NodeJS.ProcessEnv;
  output: string | "inherit-prefixed" | "ignore";
  readyTimeoutMs?: number;
}): Promise<NodeProcess> {
  const metricsPort = options.metricsPort ?? (await freePort());
  const service = startService(options.nodeId, process.execPath, [...NODE_FLAGS, NODE_MAIN], {
    env: {
      ...process.env,
      ...options.env,
      PORT: String(options.port),
      METRICS_PORT: String(metricsPort),
      NODE_ID: options.nodeId,
    },
    output: options.output,
  });
  const url = `http://127.0.0.1:${options.port}`;
  const ready = waitFor(
    `node ${options.nodeId} on port ${options.port}`,
    async () => {
      if (!service.running) throw new Error(`node exited early:\n${service.recentOutput}`);
      const { body } = await fetchHealth(url);
      return body.node === options.nodeId;
    },
    // A node starts in about a second; a loaded two-core machine (the test suite, a CPU burner)
    // has been seen to need over 20.
    options.readyTimeoutMs ?? 60_000,
    100,
  );
  // A node that never became ready must not linger on its port.
  await ready.catch(async (error: unknown) => {
    await service.kill();
    throw error;
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  return { nodeId: options.nodeId, port: options.port, url, metricsPort, metricsUrl, service };
}
