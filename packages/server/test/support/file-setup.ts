import { Redis } from "ioredis";
import { inject } from "vitest";
import { redisUrl } from "./env.js";

/**
 * Before each test file: an empty Redis database for it. A worker's database number (env.ts) is
 * reused by every file that worker runs, one after the other, and keys with a time to live outlast
 * the file that made them: a fold lock held by a node a file SIGKILLed stays for up to 20 s and
 * kept the next file's aggregation waiting (the simulator's fleet test then saw no segment update
 * in its 15 s). Files running at the same time have different database numbers, so emptying this
 * one touches nothing in use. Only the run's own redis-server is emptied, never one given by
 * TEST_REDIS_URL.
 */
if (inject("redisPrivate")) {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
}
