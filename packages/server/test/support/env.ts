import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { MongoClient } from "mongodb";
import pino from "pino";
import { inject } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { Logger } from "../../src/log.js";
import { type RunningNode, type StartOptions, startNode } from "../../src/node.js";
import { apiRoutes } from "../../src/routes.js";

export const TEST_JWT_SECRET = "test-secret-0123456789abcdef";

/** A database name no other test file uses. */
export function uniqueDbName(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

export function mongoUri(dbName: string): string {
  return `${inject("mongoBaseUri")}/${dbName}`;
}

/** The run's private Redis, in a database number of this worker's own. */
export function redisUrl(): string {
  const db = Number(process.env.VITEST_POOL_ID ?? "1") % 16;
  return `${inject("redisUrl")}/${db}`;
}

/** Environment for a node under test: private services, quiet logs, a test secret. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ID: `test-${randomBytes(3).toString("hex")}`,
    REDIS_URL: redisUrl(),
    MONGODB_URI: mongoUri(uniqueDbName()),
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "silent",
    ...overrides,
  };
}

/** A logger that keeps every line in memory, for tests that assert on what a node logged. */
export function capturingLogger(nodeId: string): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { log: pino({ level: "info", base: { node: nodeId } }, sink), lines };
}

export interface TestNode extends RunningNode {
  url: string;
  env: Record<string, string>;
}

/** Starts a node inside the test process, with every API route mounted. */
export async function startTestNode(
  overrides: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestNode> {
  const env = testEnv(overrides);
  const node = await startNode(loadConfig(env), { routes: apiRoutes, ...options });
  return Object.assign(node, { url: `http://127.0.0.1:${node.port}`, env });
}

/** Drops a test database (FerretDB keeps one SQLite file per database). */
export async function dropDatabase(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 2_000 });
  try {
    await client.db().dropDatabase();
  } finally {
    await client.close();
  }
}
