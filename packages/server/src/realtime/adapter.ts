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
  // The subscriber keeps its SUBSCRIBE commands queued while Redis is away (bounded by the number
  // of rooms) and ioredis re-subscribes on reconnect; publishes fail fast and the adapter drops them.
  const subscriber = new RedisConnection(ctx.config.redisUrl, ctx.log, `${ctx.redis.name}:sub`, {
    offlineQueue: true,
    quiet: true,
  });
  const sub = subscriber.client as Redis;
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
