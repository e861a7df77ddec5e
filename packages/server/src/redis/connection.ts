import { EventEmitter } from "node:events";
import { Redis, type RedisOptions } from "ioredis";
import { answersWithin } from "../deadline.js";
import type { Logger } from "../log.js";

/** How often the watchdog checks that Redis still answers (see RedisConnection). */
const WATCHDOG_INTERVAL_MS = 1_000;
/** The message ioredis rejects a command with when `commandTimeout` passes. */
const COMMAND_TIMED_OUT = "Command timed out";

/**
 * True for a command that ioredis gave up waiting for. Such a command is still queued on a live
 * connection and Redis applies it, in order, whenever it answers; if the connection breaks
 * instead, the reconnection is an `up` like any other.
 */
export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === COMMAND_TIMED_OUT;
}

export type RedisState = "connected" | "disconnected" | "disabled";

/** Printed once per outage, word for word as the Redis integration guide shows it. */
export const REDIS_DEGRADED_WARNING = "⚠️ Server will continue without Redis";

/** A command unanswered this long fails (and makes the watchdog check Redis at once, see below). */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 1_000;

/**
 * Client options chosen for a node that must keep serving while Redis is away:
 * - `enableOfflineQueue: false`: while disconnected every command fails at once instead of piling
 *   up in memory without bound until Redis returns;
 * - `commandTimeout`: a Redis that keeps the connection open but does not answer (paused, swapping,
 *   a long blocking script) fails a command after this long instead of holding it, and the event
 *   that waits for it, for ever;
 * - `maxRetriesPerRequest: 1`: a command caught by a dropped connection is retried once, then fails;
 * - the one exception is a subscriber connection (`subscriber: true`): it holds only (UN)SUBSCRIBE
 *   commands, one per room created or emptied on this node, which must reach Redis when it returns,
 *   so they wait for the reconnection instead of failing (a failed subscribe would leave a room
 *   deaf after the outage). It re-subscribes by itself after a reconnection (see
 *   `guardedSubscriber` in realtime/adapter.ts): ioredis' own re-subscription leaves its promises
 *   unhandled, and one cut by the node's shutdown would end the process;
 * - reconnect forever with a capped back-off, so the node heals without a restart.
 */
export function redisOptions(
  connectionName: string,
  subscriber = false,
  commandTimeoutMs = DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
): RedisOptions {
  return {
    connectionName,
    // SUBSCRIBE waits for Redis by design (above); every other command has a deadline.
    ...(subscriber ? {} : { commandTimeout: commandTimeoutMs }),
    enableOfflineQueue: subscriber,
    autoResubscribe: !subscriber,
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
 *
 * A Redis that refuses connections is seen by ioredis. One that holds the connection open without
 * answering is not: ioredis stays "ready" while every command waits. So the connection also counts
 * as down ("stalled") when the watchdog's PINGs go unanswered (checked every second, and at once
 * when a command times out); the node then serves from memory exactly as in an outage, and the watchdog brings it
 * back `up` (presence writes back) at the first PING answered again.
 */
export class RedisConnection extends EventEmitter<{ up: []; down: [] }> {
  readonly client: Redis | null;
  #available = false;
  #warnedSinceUp = false;
  #closing = false;
  /** Connected, but the watchdog's PINGs went unanswered. */
  #stalled = false;
  #watchdog: NodeJS.Timeout | undefined;
  #probing = false;
  readonly #quiet: boolean;
  readonly #commandTimeoutMs: number;

  /**
   * `quiet` connections (secondary ones, like the adapter's subscriber) do not log outages: the
   * node's main connection already says it once.
   */
  constructor(
    url: string | null,
    private readonly log: Logger,
    readonly name: string,
    options: { subscriber?: boolean; quiet?: boolean; commandTimeoutMs?: number } = {},
  ) {
    super();
    this.#quiet = options.quiet ?? false;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    this.client = url === null ? null : new Redis(url, redisOptions(name, options.subscriber, this.#commandTimeoutMs));
    if (this.client === null) return;
    this.client.on("ready", () => {
      this.#stalled = false;
      this.#markUp();
    });
    this.client.on("error", (error: Error) => this.#markDown(error));
    this.client.on("close", () => this.#markDown());
    this.client.on("end", () => this.#markDown());
    // A subscriber's only commands wait for Redis on purpose: it has nothing to time out.
    if (!options.subscriber) {
      this.#watchdog = setInterval(() => void this.#probe(), WATCHDOG_INTERVAL_MS);
      this.#watchdog.unref();
    }
  }

  /**
   * Callers report a failed command here. A timeout may mean Redis holds the connection without
   * answering: the watchdog checks at once, and if so the node stops sending until it hears from
   * Redis again.
   */
  reportFailure(error: unknown): void {
    if (isCommandTimeout(error)) void this.#probe();
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
    return await this.#roundTrip(timeoutMs);
  }

  async #roundTrip(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (client === null) return false;
    return await answersWithin(async () => (await client.ping()) === "PONG", timeoutMs);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#watchdog);
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

  /**
   * The watchdog: one PING per interval on a connection ioredis calls ready (and at once when a
   * command timed out). Two unanswered within the command timeout while up: stalled. One answered
   * while stalled: up again.
   */
  async #probe(): Promise<void> {
    if (this.client === null || this.#closing || this.#probing || this.client.status !== "ready") return;
    if (!this.#available && !this.#stalled) return;
    this.#probing = true;
    try {
      // Up, two PINGs in a row must go unanswered: one late answer can be this process's own event
      // loop blocked past the deadline (a busy machine, a long GC pause), not a stalled Redis.
      let answered = await this.#roundTrip(this.#commandTimeoutMs);
      if (!answered && !this.#stalled) answered = await this.#roundTrip(this.#commandTimeoutMs);
      if (this.#closing || this.client.status !== "ready") return;
      if (!answered) this.#stall();
      else if (this.#stalled) {
        this.#stalled = false;
        this.#markUp();
      }
    } finally {
      this.#probing = false;
    }
  }

  #stall(): void {
    if (this.#stalled || !this.#available || this.#closing) return;
    this.#stalled = true;
    this.#markDown(new Error(`no answer within ${this.#commandTimeoutMs} ms (connection open, Redis not answering)`));
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
