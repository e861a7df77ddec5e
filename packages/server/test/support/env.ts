import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import pino from "pino";
import { type Socket as ClientSocket, io as connectClient } from "socket.io-client";
import { afterAll, beforeAll, inject } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { Logger } from "../../src/log.js";
import { type RunningNode, type StartOptions, startNode } from "../../src/node.js";

export const TEST_JWT_SECRET = "test-secret-0123456789abcdef";

/** A database name no other test file uses. */
export function uniqueDbName(prefix = "t"): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
}

export function mongoUri(dbName: string): string {
  return `${inject("mongoBaseUri")}/${dbName}`;
}

/**
 * The Socket.IO adapter's channel prefix for this test file's nodes. Redis pub/sub ignores the
 * database number: with one shared prefix, a node of a file running alongside would deliver its
 * broadcasts (a segment update at the same test coordinates) to this file's devices.
 */
const ADAPTER_PREFIX = `tf${randomBytes(4).toString("hex")}`;

/** The run's private Redis, in a database number of this worker's own. */
export function redisUrl(): string {
  const db = Number(process.env.VITEST_POOL_ID ?? "1") % 16;
  return `${inject("redisUrl")}/${db}`;
}

/** Environment for a node under test: private services, quiet logs, a test secret. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: "0",
    METRICS_PORT: "0",
    HOST: "127.0.0.1",
    NODE_ID: `test-${randomBytes(3).toString("hex")}`,
    REDIS_URL: redisUrl(),
    MONGODB_URI: mongoUri(uniqueDbName()),
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: "silent",
    ADAPTER_CHANNEL_PREFIX: ADAPTER_PREFIX,
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
  /** The node's metrics listener: `${metricsUrl}/metrics`. */
  metricsUrl: string;
  env: Record<string, string>;
}

/** Starts a node inside the test process, with every API route mounted. */
export async function startTestNode(
  overrides: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestNode> {
  const env = testEnv(overrides);
  const node = await startNode(loadConfig(env), options);
  return Object.assign(node, {
    url: `http://127.0.0.1:${node.port}`,
    metricsUrl: `http://127.0.0.1:${node.metricsPort}`,
    env,
  });
}

/**
 * One in-process node for the whole test file: started before its tests, stopped and its database
 * dropped after them. Call at the top of a `describe`; the getter gives the node inside tests.
 */
export function nodePerFile(overrides: Record<string, string> = {}): () => TestNode {
  let node: TestNode | undefined;
  beforeAll(async () => {
    node = await startTestNode(overrides);
  });
  afterAll(async () => {
    if (node === undefined) return;
    await node.close();
    await dropDatabase(node.env.MONGODB_URI ?? "");
  });
  return () => {
    if (node === undefined) throw new Error("the file's node did not start");
    return node;
  };
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

export interface Account {
  token: string;
  userId: string;
  email: string;
  password: string;
}

/** Registers a fresh account through the HTTP API. */
const PASSWORD = "correct horse battery";

export async function register(baseUrl: string, name = "driver"): Promise<Account> {
  const email = `${name}-${randomBytes(4).toString("hex")}@example.test`;
  const response = await fetch(`${baseUrl}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD, displayName: name }),
  });
  if (response.status !== 201) throw new Error(`register failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { token: string; user: { id: string } };
  return { token: body.token, userId: body.user.id, email, password: PASSWORD };
}

/** A device id issued to the token's account (`POST /api/devices`), as the app gets one at first start. */
export async function registerDevice(baseUrl: string, token: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/devices`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (response.status !== 201) throw new Error(`device registration: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { deviceId: string }).deviceId;
}

/**
 * Opens an authenticated socket.io-client connection and waits until it is connected; a device
 * without an id is registered first.
 */
export async function connectDevice(
  baseUrl: string,
  token: string,
  options: { deviceId?: string; transports?: Array<"websocket" | "polling">; reconnection?: boolean } = {},
): Promise<ClientSocket> {
  const socket = connectClient(baseUrl, {
    auth: { token },
    query: { deviceId: options.deviceId ?? (await registerDevice(baseUrl, token)) },
    transports: options.transports ?? ["websocket"],
    reconnection: options.reconnection ?? false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** The operator's role command (the built `admin-cli.js`) against the database at `uri`. */
export async function adminCli(
  uri: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = fileURLToPath(new URL("../../dist/auth/admin-cli.js", import.meta.url));
  return await new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, MONGODB_URI: uri }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** How often the bound `limit` bit on `node` (`roadpulse_limits_total{limit}`). */
export async function limitsBitten(node: RunningNode, limit: string): Promise<number> {
  const metric = await node.ctx.metrics.limits.get();
  return metric.values.find((value) => value.labels.limit === limit)?.value ?? 0;
}
