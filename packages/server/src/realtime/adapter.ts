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

/** Each subscribe command and the command that undoes it. */
const SUBSCRIPTIONS = { subscribe: "unsubscribe", psubscribe: "punsubscribe", ssubscribe: "sunsubscribe" } as const;
type SubscribeCommand = keyof typeof SUBSCRIPTIONS;
const UNSUBSCRIBE_OF = new Map<string, SubscribeCommand>(
  Object.entries(SUBSCRIPTIONS).map(([on, off]) => [off, on as SubscribeCommand]),
);

/**
 * The adapter fires (un)subscribe commands without handling their promises; one rejected while
 * Redis is away, or cut by the node's shutdown, would be an unhandled rejection, which ends a Node
 * process. This wrapper attaches a handler to each of them, so a failure is logged instead.
 *
 * It also keeps the subscriptions itself and renews them after every reconnection, with handled
 * promises: ioredis' own re-subscription (`autoResubscribe`, turned off for this connection) sends
 * them with none, so a shutdown right after Redis came back crashed the process.
 */
function guardedSubscriber(client: Redis, onError: (error: unknown) => void): Redis {
  const active: Record<SubscribeCommand, Set<string>> = {
    subscribe: new Set(),
    psubscribe: new Set(),
    ssubscribe: new Set(),
  };
  const channelsOf = (args: unknown[]) => args.flat().filter((arg): arg is string => typeof arg === "string");
  let connectedBefore = false;
  client.on("ready", () => {
    if (connectedBefore) {
      for (const command of Object.keys(active) as SubscribeCommand[]) {
        for (const channel of active[command]) client[command](channel).catch(onError);
      }
    }
    connectedBefore = true;
  });
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      const subscribing = typeof property === "string" && Object.hasOwn(SUBSCRIPTIONS, property);
      const undone = typeof property === "string" ? UNSUBSCRIBE_OF.get(property) : undefined;
      if (subscribing || undone !== undefined) {
        return (...args: unknown[]) => {
          const channels = channelsOf(args);
          if (subscribing) for (const channel of channels) active[property as SubscribeCommand].add(channel);
          else if (undone !== undefined) {
            // No channel named: every subscription of that kind ends.
            if (channels.length === 0) active[undone].clear();
            for (const channel of channels) active[undone].delete(channel);
          }
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
