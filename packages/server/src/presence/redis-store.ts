import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import { Keys, type PresenceTtls } from "./keys.js";
import type { Session } from "./session.js";
import type { PresenceStore, RegionMember, RegionPush } from "./store.js";
import { defineUpsertScript, queueUpsertScript, runUpsert, upsertArgs } from "./upsert-script.js";

/** Runs a MULTI (one round trip) and throws the first command error, if any. */
export async function execOrThrow(multi: ChainableCommander): Promise<unknown[]> {
  const replies = await multi.exec();
  if (replies === null) throw new Error("Redis transaction aborted");
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

const PUSH_COUNTS_SCRIPT = readFileSync(new URL("./push-counts.lua", import.meta.url), "utf8");

interface PushCountsCommand {
  roadpulsePushCounts(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>;
}

/**
 * Sessions and presence in Redis, in the seed's key schema (keys.ts). Every write that concerns one
 * socket is atomic and one round trip (a Lua script, or a MULTI for removal): no reader ever sees
 * half of it (a socket in two region sets, or in a region set without its session).
 */
export class RedisPresenceStore implements PresenceStore {
  readonly clusterWide = true;

  constructor(
    readonly redis: Redis,
    readonly ttls: PresenceTtls,
    readonly nodeId: string,
  ) {
    defineUpsertScript(redis);
    redis.defineCommand("roadpulsePushCounts", { lua: PUSH_COUNTS_SCRIPT });
  }

  /**
   * Queues the full state of one socket (see upsert-script.ts). Idempotent, so the same write serves
   * connect, location, heartbeat and restore after an outage.
   */
  queueUpsert(multi: ChainableCommander, session: Session, leftRegionIds: string[], nowMs: number): void {
    queueUpsertScript(multi, upsertArgs(session, leftRegionIds, nowMs, this.nodeId, this.ttls));
  }

  /** Queues the removal of everything one socket owns. */
  queueRemove(multi: ChainableCommander, session: Session): void {
    const { socketId } = session;
    multi.del(Keys.session(socketId), Keys.heartbeat(socketId));
    multi.srem(Keys.userSessions(session.userId), socketId);
    if (session.currentRegionId !== null) multi.srem(Keys.regionMembers(session.currentRegionId), socketId);
    multi.srem(Keys.nodeSockets(this.nodeId), socketId);
  }

  /** One socket's full state in one atomic command and one round trip. */
  async upsert(session: Session, leftRegionIds: string[], nowMs: number): Promise<void> {
    await runUpsert(this.redis, upsertArgs(session, leftRegionIds, nowMs, this.nodeId, this.ttls));
  }

  async accountSockets(userId: string): Promise<number> {
    return await this.redis.scard(Keys.userSessions(userId));
  }

  async remove(session: Session): Promise<void> {
    const multi = this.redis.multi();
    this.queueRemove(multi, session);
    await execOrThrow(multi);
  }

  /**
   * Writes many sockets back at once (after an outage), in MULTIs of `chunk` sockets. Each chunk is
   * built and sent in one synchronous step from the live iterator, so it always carries the newest
   * state: a later chunk never overwrites a move written in between by the socket's own handler.
   */
  async upsertMany(
    sessions: Iterable<Session>,
    leftOf: (session: Session) => string[],
    nowMs: number,
    chunk = 500,
  ): Promise<number> {
    const iterator = sessions[Symbol.iterator]();
    let written = 0;
    for (;;) {
      const multi = this.redis.multi();
      let queued = 0;
      let next = iterator.next();
      while (!next.done) {
        this.queueUpsert(multi, next.value, leftOf(next.value), nowMs);
        if (++queued === chunk) break;
        next = iterator.next();
      }
      if (queued === 0) return written;
      await execOrThrow(multi);
      written += queued;
      if (next.done) return written;
    }
  }

  /** Socket ids Redis believes this node owns. */
  async ownedSocketIds(): Promise<string[]> {
    return await this.redis.smembers(Keys.nodeSockets(this.nodeId));
  }

  async session(socketId: string): Promise<Session | null> {
    const raw = await this.redis.get(Keys.session(socketId));
    return raw === null ? null : (JSON.parse(raw) as Session);
  }

  async regionCount(regionId: string): Promise<number> {
    return await this.redis.scard(Keys.regionMembers(regionId));
  }

  async regionCounts(regionIds: string[]): Promise<number[]> {
    if (regionIds.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const regionId of regionIds) pipeline.scard(Keys.regionMembers(regionId));
    const replies = await execOrThrow(pipeline);
    return replies.map(Number);
  }

  /**
   * Counts of several regions, each marked changed when no node has pushed that count yet (and
   * recorded as pushed): one round trip, atomic across nodes (push-counts.lua).
   */
  async regionPushes(regionIds: string[]): Promise<Map<string, RegionPush>> {
    if (regionIds.length === 0) return new Map();
    const keys = regionIds.flatMap((regionId) => [Keys.regionMembers(regionId), Keys.presencePushed(regionId)]);
    const reply = await (this.redis as Redis & PushCountsCommand).roadpulsePushCounts(
      keys.length,
      ...keys,
      this.ttls.session,
    );
    return new Map(
      regionIds.map((regionId, i) => [regionId, { count: Number(reply[2 * i]), changed: reply[2 * i + 1] === 1 }]),
    );
  }

  /** The members of a region with who they are (admin view). */
  async regionMembers(regionId: string): Promise<RegionMember[]> {
    const socketIds = (await this.redis.smembers(Keys.regionMembers(regionId))).sort();
    if (socketIds.length === 0) return [];
    const raws = await this.redis.mget(socketIds.map((id) => Keys.session(id)));
    return socketIds.map((socketId, i) => {
      const raw = raws[i];
      const session = raw ? (JSON.parse(raw) as Partial<Session>) : {};
      return {
        socketId,
        userId: session.userId ?? null,
        nodeId: session.nodeId ?? null,
        lastActivityAt: session.lastActivityAt ?? null,
      };
    });
  }

  /**
   * Refreshes this node's liveness key and registers it among the nodes the reaper watches.
   * Returns whether the key still existed: `false` means Redis lost it (restart, long pause) and the
   * node's sessions may have been reaped, so they must be written back.
   */
  async markAlive(nowMs: number): Promise<boolean> {
    const multi = this.redis.multi();
    multi.exists(Keys.nodeAlive(this.nodeId));
    multi.set(Keys.nodeAlive(this.nodeId), String(nowMs), "EX", this.ttls.nodeLiveness);
    multi.sadd(Keys.nodes, this.nodeId);
    const [existed] = await execOrThrow(multi);
    return existed === 1;
  }

  /**
   * A graceful stop: the liveness key goes at once, so the reaper (on any node) removes whatever
   * this node could not remove itself, without waiting for the TTL.
   */
  async markStopped(): Promise<void> {
    await this.redis.del(Keys.nodeAlive(this.nodeId));
  }
}
