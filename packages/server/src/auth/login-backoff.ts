import { createHash } from "node:crypto";
import { ErrorCodes } from "@roadpulse/protocol";
import { AppError } from "../errors.js";
import { Keys } from "../presence/keys.js";
import type { RedisConnection } from "../redis/connection.js";

/** Failed logins in a row an account may have before it must wait. */
export const FREE_FAILURES = 5;
/** The wait doubles with each failure past the free ones: 1 s, 2 s, 4 s … up to this. */
const MAX_WAIT_MS = 15 * 60_000;
/** Failures older than this are forgotten (the key's time to live). */
const WINDOW_MS = 60 * 60_000;
/** Accounts remembered in memory while Redis is away (oldest forgotten first). */
const MEMORY_ENTRIES = 10_000;

interface Failures {
  count: number;
  at: number;
}

/**
 * Per-account back-off of password guesses, shared by every node through Redis: after
 * `FREE_FAILURES` wrong passwords in a row the account's next attempt must wait 1 s, then 2 s,
 * 4 s … (up to 15 min); a right password resets it. While it must wait, an attempt is refused
 * before the password is hashed, so guessing costs the node nothing, and the right password does
 * not get in either. Keyed by a hash of the email, known or not, so the answer says nothing about
 * whether an account exists. With Redis away each node remembers failures itself (bounded).
 */
export class LoginBackoff {
  readonly #memory = new Map<string, Failures>();

  constructor(private readonly redis: RedisConnection) {}

  /** Throws `RATE_LIMITED` (HTTP 429 with Retry-After) when `email` must wait before its next attempt. */
  async check(email: string, now = Date.now()): Promise<void> {
    const failures = await this.#read(keyOf(email));
    if (failures === null || failures.count < FREE_FAILURES) return;
    const waitMs = Math.min(MAX_WAIT_MS, 1000 * 2 ** (failures.count - FREE_FAILURES));
    const left = failures.at + waitMs - now;
    if (left > 0) {
      const seconds = Math.ceil(left / 1000);
      throw new AppError(ErrorCodes.RateLimited, `Too many failed logins for this account; retry in ${seconds} s`, {
        retryAfterSeconds: seconds,
      });
    }
  }

  async failed(email: string, now = Date.now()): Promise<void> {
    const key = keyOf(email);
    const client = this.redis.client;
    if (client !== null && this.redis.available) {
      try {
        await client.multi().hincrby(key, "count", 1).hset(key, "at", String(now)).pexpire(key, WINDOW_MS).exec();
        return;
      } catch {
        // Redis went away mid-call: remembered here instead.
      }
    }
    const previous = this.#memory.get(key);
    this.#memory.delete(key);
    this.#memory.set(key, { count: (previous?.count ?? 0) + 1, at: now });
    if (this.#memory.size > MEMORY_ENTRIES) this.#memory.delete(this.#memory.keys().next().value as string);
  }

  async succeeded(email: string): Promise<void> {
    const key = keyOf(email);
    this.#memory.delete(key);
    const client = this.redis.client;
    if (client !== null && this.redis.available) await client.del(key).catch(() => undefined);
  }

  async #read(key: string): Promise<Failures | null> {
    const client = this.redis.client;
    if (client !== null && this.redis.available) {
      try {
        const [count, at] = await client.hmget(key, "count", "at");
        if (count !== null && at !== null) return { count: Number(count), at: Number(at) };
      } catch {
        // Redis went away mid-call: what this node remembers still counts.
      }
    }
    return this.#memory.get(key) ?? null;
  }
}

function keyOf(email: string): string {
  return Keys.loginFailures(createHash("sha256").update(email.toLowerCase()).digest("hex").slice(0, 32));
}
