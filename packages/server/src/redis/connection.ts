import { EventEmitter } from "node:events";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.js";

export type RedisState = "connected" | "disconnected" | "disabled";

/** Printed once per outage, word for word as the Redis integration guide shows it. */
export const REDIS_DEGRADED_WARNING = "⚠️ Server will continue without Redis";

/**
 * Client options chosen for a node that must keep serving while Redis is away:
 * - `enableOfflineQueue: false`: while disconnected every command fails at once instead of piling
 *   up in memory without bound until Redis returns;
 * - `maxRetriesPerRequest: 1`: a command caught by a dropped connection is retried once, then fails;
 * - the one exception is a subscriber connection (`subscriber: true`): it holds only (UN)SUBSCRIBE
 *   commands, one per room created or emptied on this node, which must reach Redis when it returns,
 *   so they wait for the reconnection instead of failing (a failed subscribe would leave a room
 *   deaf after the outage);
 * - reconnect forever with a capped back-off, so the node heals without a restart.
 */
export function redisOptions(connectionName: string, subscriber = false): RedisOptions {
  return {
    connectionName,
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 1,
    connectTimeout: 2_000,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
    reconnectOnError: (error) => error.message.startsWith("READONLY"),
  };
}

/**
 * One Redis connection and the node's view of it. It turns ioredis' stream of connection events
 * into two transitions, `up` and `down`, logs each outage once (not once per retry or per
 * request), and never throws when Redis is missing: callers check `available` or handle a rejected
 * command.
 */
export class RedisConnection extends EventEmitter<{ up: []; down: [] }> {
  readonly client: Redis | null;
  #available = false;
  #warnedSinceUp = false;
  #closing = false;
  readonly #quiet: boolean;

  /**
   * `quiet` connections (secondary ones, like the adapter's subscriber) do not log outages: the
   * node's main connection already says it once.
   */
  constructor(
    url: string | null,
    private readonly log: Logger,
    readonly name: string,
    options: { subscriber?: boolean; quiet?: boolean } = {},
  ) {
    super();
    this.#quiet = options.quiet ?? false;
    this.client = url === null ? null : new Redis(url, redisOptions(name, options.subscriber));
    if (this.client === null) return;
    this.client.on("ready", () => this.#markUp());
    this.client.on("error", (error: Error) => this.#markDown(error));
    this.client.on("close", () => this.#markDown());
    this.client.on("end", () => this.#markDown());
  }

  get state(): RedisState {
    if (this.client === null) return "disabled";
    return this.#available ? "connected" : "disconnected";
  }

  /** True when commands can be sent right now. */
  get available(): boolean {
    return this.#available;
  }

  /** Waits up to `timeoutMs` for the first connection; resolves either way. */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.client === null) return false;
    if (this.#available) return true;
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.off("up", onUp);
        this.#warn();
        resolve(false);
      }, timeoutMs);
      const onUp = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once("up", onUp);
    });
  }

  /** A real round trip, bounded in time; `false` on any failure. */
  async ping(timeoutMs = 500): Promise<boolean> {
    if (this.client === null || !this.#available) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("ping timed out")), timeoutMs);
      });
      return (await Promise.race([this.client.ping(), timeout])) === "PONG";
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.client === null) return;
    try {
      if (this.#available) await this.client.quit();
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
  }

  #markUp(): void {
    const wasDown = !this.#available;
    this.#available = true;
    this.#warnedSinceUp = false;
    if (wasDown) {
      if (!this.#quiet) this.log.info({ redis: this.name }, "Redis connected");
      this.emit("up");
    }
  }

  #markDown(error?: Error): void {
    if (this.#closing) return;
    const wasUp = this.#available;
    this.#available = false;
    this.#warn(error);
    if (wasUp) this.emit("down");
  }

  #warn(error?: Error): void {
    if (this.#warnedSinceUp || this.#closing || this.#quiet) return;
    this.#warnedSinceUp = true;
    const reason = error?.message ?? "connection closed";
    this.log.error({ redis: this.name }, `❌ Redis Client Error: ${reason}`);
    this.log.warn({ redis: this.name }, REDIS_DEGRADED_WARNING);
  }
}
