import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";
import { freePort, waitFor } from "./ports.js";
import { type Service, startService } from "./process.js";

export interface RedisInstance {
  url: string;
  port: number;
  /** Present only when this tool started the server (and so may stop or kill it). */
  service?: Service;
  stop(): Promise<void>;
}

/** PONG from a Redis URL within a short deadline. */
export async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: true,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export function redisServerBinary(): string {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("redis-server not found: run the README's test or start command, which installs it");
  }
}

/**
 * Starts a private, non-persistent redis-server. Tests use their own so they can stop, kill and
 * restart it (and flush it) without touching the machine's shared Redis.
 */
export async function startRedisServer(
  options: { port?: number; dir: string; output: string | "ignore" } = { dir: "/tmp", output: "ignore" },
): Promise<RedisInstance> {
  const port = options.port ?? (await freePort());
  mkdirSync(options.dir, { recursive: true });
  const service = startService(
    `redis:${port}`,
    redisServerBinary(),
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", options.dir],
    { output: options.output },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(`redis-server on port ${port}`, async () => {
    if (!service.running) throw new Error(`redis-server exited: ${service.recentOutput}`);
    return await redisAnswers(url);
  });
  return { url, port, service, stop: async () => void (await service.stop("SIGTERM", 5_000)) };
}
