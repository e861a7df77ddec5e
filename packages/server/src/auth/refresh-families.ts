import { readFileSync } from "node:fs";
import { StorageUnavailableError } from "../errors.js";
import { Keys } from "../presence/keys.js";
import type { RedisConnection } from "../redis/connection.js";

/** Rotates a refresh token (contract at the top of refresh-rotate.lua). */
const ROTATE = readFileSync(new URL("./refresh-rotate.lua", import.meta.url), "utf8");

export type Rotation =
  | { kind: "ok"; generation: number }
  | { kind: "unknown" }
  | { kind: "revoked" }
  | { kind: "reused" };

/**
 * How long after a rotation the refresh token it used up still works once more: a client whose
 * answer was lost (a node died mid-request) retries with it and must not be logged out for that.
 */
export const REUSE_GRACE_MS = 30_000;

/** Login sessions remembered in memory when no Redis is configured (one node), oldest dropped. */
const MEMORY_SESSIONS = 100_000;

interface MemorySession {
  user: string;
  generation: number;
  rotatedAt: number;
  revoked: boolean;
  expiresAt: number;
}

/**
 * The hot state of login sessions, shared by every node through Redis: each session's current
 * refresh generation and whether it was revoked (`auth:refresh:{sessionId}`, with the refresh
 * token's time to live). With `REDIS_URL=off` (one node) it is kept in memory. While a configured
 * Redis is away, rotating answers StorageUnavailable (the device keeps its access token and tries
 * again) and revocation checks let access tokens through: they live minutes
 * (ACCESS_TOKEN_TTL_SECONDS), and logging out still ends the refresh token, which is checked
 * against the durable record.
 */
export class RefreshFamilies {
  readonly #memory = new Map<string, MemorySession>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly ttlMs: number,
  ) {}

  /** A new session at generation 0. */
  async start(sessionId: string, userId: string): Promise<void> {
    const client = this.#client();
    if (client === null) {
      const now = Date.now();
      this.#remember(sessionId, {
        user: userId,
        generation: 0,
        rotatedAt: 0,
        revoked: false,
        expiresAt: now + this.ttlMs,
      });
      return;
    }
    await this.#call(() =>
      client
        .multi()
        .hset(Keys.refreshSession(sessionId), { gen: "0", user: userId })
        .pexpire(Keys.refreshSession(sessionId), this.ttlMs)
        .exec(),
    );
  }

  /** Rotates from `generation`; `seed` when the durable record vouches for a session Redis lost. */
  async rotate(sessionId: string, userId: string, generation: number, seed: boolean): Promise<Rotation> {
    const client = this.#client();
    if (client === null) return this.#rotateInMemory(sessionId, userId, generation, seed);
    const reply = (await this.#call(() =>
      client.eval(
        ROTATE,
        1,
        Keys.refreshSession(sessionId),
        String(generation),
        userId,
        String(this.ttlMs),
        seed ? "seed" : "check",
        String(Date.now()),
        String(REUSE_GRACE_MS),
      ),
    )) as [string, string?];
    if (reply[0] === "ok") return { kind: "ok", generation: Number(reply[1]) };
    return { kind: reply[0] as "unknown" | "revoked" | "reused" };
  }

  /** Marks the session revoked until its last token would have expired. */
  async revoke(sessionId: string, reason: string): Promise<void> {
    const client = this.#client();
    if (client === null) {
      const session = this.#memory.get(sessionId);
      if (session) session.revoked = true;
      return;
    }
    const key = Keys.refreshSession(sessionId);
    await this.#call(() => client.multi().hset(key, { revoked: reason }).pexpire(key, this.ttlMs).exec());
  }

  /** Whether the session was revoked; false when Redis cannot say (see the class comment). */
  async isRevoked(sessionId: string): Promise<boolean> {
    const client = this.redis.client;
    if (client === null) return this.#memory.get(sessionId)?.revoked ?? false;
    if (!this.redis.available) return false;
    try {
      return (await client.hexists(Keys.refreshSession(sessionId), "revoked")) === 1;
    } catch (error) {
      this.redis.reportFailure(error);
      return false;
    }
  }

  #client() {
    const client = this.redis.client;
    if (client !== null && !this.redis.available) {
      throw new StorageUnavailableError("Sign-in sessions are unavailable while Redis is unreachable");
    }
    return client;
  }

  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      this.redis.reportFailure(error);
      throw new StorageUnavailableError("Sign-in sessions are unavailable while Redis is unreachable", {
        cause: error,
      });
    }
  }

  #rotateInMemory(sessionId: string, userId: string, generation: number, seed: boolean): Rotation {
    let session = this.#memory.get(sessionId);
    if (session !== undefined && session.expiresAt < Date.now()) session = undefined;
    if (session?.revoked) return { kind: "revoked" };
    const now = Date.now();
    if (session === undefined) {
      if (!seed) return { kind: "unknown" };
      session = { user: userId, generation, rotatedAt: 0, revoked: false, expiresAt: 0 };
    } else if (session.user !== userId) {
      return { kind: "revoked" };
    } else if (session.generation !== generation) {
      if (generation === session.generation - 1 && now - session.rotatedAt <= REUSE_GRACE_MS) {
        return { kind: "ok", generation: session.generation };
      }
      session.revoked = true;
      return { kind: "reused" };
    }
    this.#remember(sessionId, { ...session, generation: generation + 1, rotatedAt: now, expiresAt: now + this.ttlMs });
    return { kind: "ok", generation: generation + 1 };
  }

  #remember(sessionId: string, session: MemorySession): void {
    this.#memory.delete(sessionId);
    this.#memory.set(sessionId, session);
    if (this.#memory.size > MEMORY_SESSIONS) this.#memory.delete(this.#memory.keys().next().value as string);
  }
}
