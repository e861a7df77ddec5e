import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type MongoInstance,
  type RedisInstance,
  startFerretDB,
  startRedisServer,
  storeBackendFromEnv,
} from "@roadpulse/devstack";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    /** Whether redisUrl is the run's own redis-server (test files may empty their database). */
    redisPrivate: boolean;
    mongoBaseUri: string;
  }
}

/**
 * One private redis-server and one FerretDB for the whole run, on free ports, so tests never touch
 * the machine's shared Redis. Each test file then works in its own MongoDB database and its own
 * Redis database number or key space (see env.ts), emptied before the file (file-setup.ts).
 * `TEST_MONGODB_BASE_URI` (a connection string without a database name) and `TEST_REDIS_URL` point
 * the run at existing servers instead.
 * `TEST_STORE_BACKEND=postgresql` runs the suite on FerretDB's PostgreSQL backend (SQLite by default;
 * store-backend.test.ts covers the other one either way).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-test-"));
  let redis: RedisInstance | undefined;
  let mongo: MongoInstance | undefined;
  let redisUrl = process.env.TEST_REDIS_URL;
  if (redisUrl === undefined) {
    redis = await startRedisServer({ dir, output: "ignore" });
    redisUrl = redis.url;
  }
  let mongoBaseUri = process.env.TEST_MONGODB_BASE_URI;
  if (mongoBaseUri === undefined) {
    mongo = await startFerretDB({
      dataDir: join(dir, "ferretdb"),
      output: join(dir, "ferretdb.log"),
      backend: storeBackendFromEnv("sqlite", "TEST_STORE_BACKEND"),
    });
    mongoBaseUri = mongo.baseUri;
  }
  project.provide("redisUrl", redisUrl);
  project.provide("redisPrivate", redis !== undefined);
  project.provide("mongoBaseUri", mongoBaseUri);
  return async () => {
    await Promise.allSettled([redis?.stop(), mongo?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
}
