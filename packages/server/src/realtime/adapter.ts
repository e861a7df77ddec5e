import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import type { Redis } from "ioredis";
import type { NodeContext } from "../context.js";
import { RedisConnection } from "../redis/connection.js";
import type { AppServer } from "./types.js";

/**
 * Wraps the publishing client so every message the adapter sends is counted. Only the publish
 * commands are intercepted; everything else reaches ioredis untouched.
 */
function countingPublisher(client: Redis, onPublish: () => void): Redis {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if ((property === "publish" || property === "spublish") && typeof value === "function") {
        return (...args: unknown[]) => {
          onPublish();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const SUBSCRIPTION_COMMANDS = new Set([
  "subscribe",
  "unsubscribe",
  "psubscribe",
  "punsubscribe",
  "ssubscribe",
  "sunsubscribe",
]);

/**
 * The adapter fires (un)subscribe commands without handling their promises; one rejected while
 * Redis is away would be an unhandled rejection, which ends a Node process. This wrapper attaches a
 * handler to each of them, so a failure is logged instead.
 */
function guardedSubscriber(client: Redis, onError: (error: unknown) => void): Redis {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (typeof property === "string" && SUBSCRIPTION_COMMANDS.has(property)) {
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) result.catch(onError);
          return result;
        };
      }
      return value.bind(target);
    },
  });
}

/**
 * Connects this process to the cluster's Socket.IO Redis adapter, so an emit to a room reaches
 * that room's sockets on every node and worker.
 *
 * Mode `sharded` (the default) uses Redis 7 sharded pub/sub with dynamic subscriptions: a process
 * subscribes to one channel per room it has members in and receives only those rooms' broadcasts.
 * Mode `classic` subscribes every process to one pattern and delivers every broadcast everywhere.
 * The README has the measurement behind the default.
 *
 * Without Redis (`REDIS_URL=off`) the in-memory adapter stays: a single node needs no other.
 */
export function attachRedisAdapter(io: AppServer, ctx: NodeContext): () => Promise<void> {
  const publisher = ctx.redis.client;
  if (publisher === null) return async () => {};
  // The subscriber keeps its SUBSCRIBE commands until Redis is back and ioredis re-subscribes on
  // reconnect; publishes fail fast and the adapter drops them.
  const subscriber = new RedisConnection(ctx.config.redisUrl, ctx.log, `${ctx.redis.name}:sub`, {
    subscriber: true,
    quiet: true,
  });
  const sub = guardedSubscriber(subscriber.client as Redis, (error) =>
    ctx.log.warn({ err: error }, "adapter subscription command failed"),
  );
  const countIn = () => ctx.metrics.adapterMessages.inc({ direction: "in" });
  sub.on("smessageBuffer", countIn);
  sub.on("pmessageBuffer", countIn);
  sub.on("messageBuffer", countIn);
  const pub = countingPublisher(publisher, () => ctx.metrics.adapterMessages.inc({ direction: "out" }));

  io.adapter(
    ctx.config.adapterMode === "sharded"
      ? createShardedAdapter(pub, sub, {
          channelPrefix: ctx.config.adapterChannelPrefix,
          subscriptionMode: "dynamic",
        })
      : createAdapter(pub, sub, { key: ctx.config.adapterChannelPrefix }),
  );
  return () => subscriber.close();
}
