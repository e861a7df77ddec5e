import { hostname } from "node:os";
import { MongoClient } from "mongodb";
import { weakSecretReason } from "./secret-strength.js";

/**
 * Node configuration, read once from the environment and validated before anything starts.
 * Every variable is documented in docs/configuration.md with its default.
 */
export interface Config {
  port: number;
  host: string;
  /** Port of the metrics listener (metrics/server.ts), apart from the API's; 0 = any free port. */
  metricsPort: number;
  metricsHost: string;
  nodeId: string;
  /**
   * This process's identity among the node's workers: equal to `nodeId` with one worker,
   * `nodeId#<n>` in worker n when WORKERS > 1. Whatever a process owns in Redis is keyed by it.
   */
  instanceId: string;
  nodeEnv: string;
  /** `null` when `REDIS_URL=off`: the node runs without Redis on purpose. */
  redisUrl: string | null;
  /** A Redis command unanswered this long fails and the node serves without Redis until it answers. */
  redisCommandTimeoutMs: number;
  mongodbUri: string;
  mongodbDbName: string;
  /** Deadline of each MongoDB call: waiting for a pooled connection, and waiting for the answer. */
  mongodbTimeoutMs: number;
  /** How long a node gathers observation batches before one group insert (ms; 0 = next tick). */
  ingestCommitLingerMs: number;
  /** Observations waiting for a group insert at most; past it batches are refused at once. */
  ingestMaxPending: number;
  /** Aggregate rounds start at most this often per node (docs/road-aggregates.md). */
  aggregateFlushMs: number;
  /**
   * TEST ONLY (`AGGREGATE_TEST_CRASH_AT`): the process SIGKILLs itself at this step of its
   * aggregate folds (docs/road-aggregates.md), to prove crash recovery. Null in normal use.
   */
  aggregateTestCrashAt: number | null;
  jwtSecret: string;
  /** Life of an access token; a refresh token renews it (auth/login-sessions.ts). */
  accessTokenTtlSeconds: number;
  /** Life of a login session's refresh token, renewed at each refresh. */
  refreshTokenTtlSeconds: number;
  /** Bearer token of the ML pipeline (`POST /api/ml/*`); `null` disables those routes. */
  mlServiceToken: string | null;
  sessionTtlSeconds: number;
  heartbeatTtlSeconds: number;
  /** TTL of this node's liveness key; a node silent this long is dead and gets reaped. */
  nodeLivenessTtlSeconds: number;
  /** How often a node tries to take the reaper lock and reap dead nodes and expired sessions. */
  reaperIntervalMs: number;
  regionPrecision: number;
  workers: number;
  /**
   * How far V8 lets the heap grow past what survived its last full collection, in percent (0: V8's
   * own factor, up to 4×). Applied by main.ts at start; see docs/configuration.md.
   */
  heapGrowingPercent: number;
  logLevel: string;
  /** Origins allowed to open a browser Socket.IO connection; `*` allows any, `[]` none. */
  allowedOrigins: string[] | "*";
  shutdownTimeoutMs: number;
  /** Socket.IO Redis adapter: `sharded` (dynamic per-room channels) or `classic` (one pattern). */
  adapterMode: "sharded" | "classic";
  /** Prefix of the adapter's pub/sub channels; clusters sharing one Redis need different ones. */
  adapterChannelPrefix: string;
  /** Which peers may set X-Forwarded-For (proxy-addr syntax): nginx in front of the nodes. */
  trustProxy: string;
  /** Whether `/docs` (the OpenAPI document and its UI) is served. */
  docsEnabled: boolean;
  /** Events one connection may send per second, sustained (realtime/event-budget.ts). */
  socketEventsPerSecond: number;
  /** Events one connection may send at once after a quiet spell. */
  socketEventBurst: number;
  /** Refused events within 10 s after which a connection is closed as abusive. */
  socketAbuseDisconnectAfter: number;
  /** Events of one connection being handled at once, at most; more are answered RATE_LIMITED. */
  socketMaxInFlight: number;
  /** Bytes waiting to be sent to one connection, at most; past it the connection is closed. */
  socketMaxBufferedBytes: number;
  /** Connections one account may hold across the cluster; more are refused at the handshake. */
  maxSocketsPerAccount: number;
  /** HTTP requests per client address per minute, every route (http/rate-limit.ts). */
  /** HTTP requests per account per minute, whichever addresses they come from. */
  accountRateLimitPerMinute: number;
  httpRateLimitPerMinute: number;
  /** Registrations and logins per client address per minute. */
  authRateLimitPerMinute: number;
  /** Engine.IO sessions not yet authenticated, per client address, at most (realtime/pending-sessions.ts). */
  maxPendingSessionsPerAddress: number;
  /** The ops map's raster tiles (`{z}/{x}/{y}` URL, http or https); null draws on a plain background. */
  mapTileUrl: string | null;
  mapTileAttribution: string;
  /** Where the ops map opens when its address names no view: latitude, longitude, zoom. */
  mapCenter: [number, number, number] | null;
}

export const DEV_JWT_SECRET = "roadpulse-dev-secret-change-me";
/** The only environments where `JWT_SECRET` may be missing or weak (secret-strength.ts). */
const RELAXED_ENVIRONMENTS = ["development", "test"];
const DEFAULT_DB = "roadpulse";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** A configuration problem, always naming the variable at fault. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  }
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(name, `must be true or false, got "${raw.slice(0, 40)}"`);
}

/** `MAP_TILE_URL`: an absolute http(s) URL with {z}, {x} and {y}, or unset. */
function mapTileUrl(env: Env): string | null {
  const raw = read(env, "MAP_TILE_URL");
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw.replaceAll(/\{[a-z]\}/g, "0"));
  } catch {
    throw new ConfigError("MAP_TILE_URL", "must be an absolute http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError("MAP_TILE_URL", "must be an absolute http(s) URL");
  }
  if (!["{z}", "{x}", "{y}"].every((part) => raw.includes(part))) {
    throw new ConfigError("MAP_TILE_URL", "must hold {z}, {x} and {y}");
  }
  return raw;
}

/** `MAP_CENTER`: `latitude,longitude,zoom`, or unset. */
function mapCenter(env: Env): [number, number, number] | null {
  const raw = read(env, "MAP_CENTER");
  if (raw === undefined) return null;
  const parts = raw.split(",").map((part) => Number(part.trim()));
  const [lat, lon, zoom] = parts as [number, number, number];
  if (
    parts.length !== 3 ||
    !parts.every(Number.isFinite) ||
    Math.abs(lat) > 90 ||
    Math.abs(lon) > 180 ||
    zoom < 1 ||
    zoom > 20
  ) {
    throw new ConfigError("MAP_CENTER", "must be latitude,longitude,zoom (zoom 1 to 20)");
  }
  return [lat, lon, zoom];
}

function redisUrl(env: Env): string | null {
  const raw = read(env, "REDIS_URL") ?? "redis://localhost:6379";
  if (raw === "off") return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("REDIS_URL", `is not a URL (expected redis://host:port or "off")`);
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ConfigError("REDIS_URL", `must use redis:// or rediss://, got ${url.protocol}//`);
  }
  if (url.hostname === "") throw new ConfigError("REDIS_URL", "has no host");
  const db = url.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) {
    throw new ConfigError("REDIS_URL", `database must be a number, got "${db}"`);
  }
  return raw;
}

function mongodb(env: Env): { uri: string; dbName: string } {
  const uri = read(env, "MONGODB_URI") ?? `mongodb://localhost:27017/${DEFAULT_DB}`;
  let dbName: string;
  try {
    // The driver's own parser, so "valid" means exactly what the driver will accept later.
    // Constructing a client does not connect.
    dbName = new MongoClient(uri).options.dbName || DEFAULT_DB;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError("MONGODB_URI", `is not a MongoDB connection string (${reason})`);
  }
  if (dbName === "test" && !/\/test(\?|$)/.test(uri)) dbName = DEFAULT_DB;
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(dbName)) {
    throw new ConfigError("MONGODB_URI", `has an invalid database name "${dbName}"`);
  }
  return { uri, dbName };
}

/**
 * Browser origins allowed to connect. Development and test allow any when unset; elsewhere the
 * list must be given and `*` is refused: any web page could otherwise open a socket with a token
 * it got hold of. `none` allows no browser at all (devices send no Origin and always pass).
 */
function origins(env: Env, nodeEnv: string): string[] | "*" {
  const given = read(env, "ALLOWED_ORIGINS");
  const relaxed = RELAXED_ENVIRONMENTS.includes(nodeEnv);
  if (!relaxed && (given === undefined || given === "*")) {
    throw new ConfigError(
      "ALLOWED_ORIGINS",
      `must list the web origins allowed to connect when NODE_ENV=${nodeEnv} (or "none"); "*" is for development`,
    );
  }
  const raw = given ?? "*";
  if (raw === "*") return "*";
  if (raw === "none") return [];
  const list = raw.split(",").map((o) => o.trim());
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError("ALLOWED_ORIGINS", `has an invalid origin "${origin}"`);
    }
    if (url.origin !== origin) {
      throw new ConfigError("ALLOWED_ORIGINS", `entries must be bare origins, got "${origin}"`);
    }
  }
  return list;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = read(env, "NODE_ENV") ?? "development";
  const jwtSecret = read(env, "JWT_SECRET") ?? DEV_JWT_SECRET;
  if (!RELAXED_ENVIRONMENTS.includes(nodeEnv)) {
    // Staging and the like guard real accounts too: only development and test may use weak keys.
    if (read(env, "JWT_SECRET") === undefined) {
      throw new ConfigError("JWT_SECRET", `must be set when NODE_ENV=${nodeEnv} (e.g. openssl rand -hex 32)`);
    }
    const weak = weakSecretReason(jwtSecret);
    if (weak !== null) throw new ConfigError("JWT_SECRET", `${weak} when NODE_ENV=${nodeEnv}`);
  }
  if (jwtSecret.length < 16) throw new ConfigError("JWT_SECRET", "must be at least 16 characters");

  if (read(env, "ADMIN_EMAILS") !== undefined) {
    // Whoever registered a listed address first became an admin: roles are an operator's command now.
    throw new ConfigError(
      "ADMIN_EMAILS",
      "is no longer read: grant the admin role with node packages/server/dist/auth/admin-cli.js grant <email>",
    );
  }

  const nodeId = read(env, "NODE_ID") ?? `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) {
    throw new ConfigError("NODE_ID", "may hold only letters, digits and . _ : - (at most 64)");
  }
  const workerIndex = read(env, "WORKER_INDEX");
  if (workerIndex !== undefined && !/^\d{1,2}$/.test(workerIndex)) {
    throw new ConfigError("WORKER_INDEX", "is set by the node itself and must be a small integer");
  }
  const adapterMode = read(env, "ADAPTER_MODE") ?? "sharded";
  if (adapterMode !== "sharded" && adapterMode !== "classic") {
    throw new ConfigError("ADAPTER_MODE", `must be "sharded" or "classic", got "${adapterMode}"`);
  }
  const adapterChannelPrefix = read(env, "ADAPTER_CHANNEL_PREFIX") ?? "roadpulse";
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(adapterChannelPrefix)) {
    throw new ConfigError("ADAPTER_CHANNEL_PREFIX", "may hold only letters, digits and . _ : - (at most 64)");
  }
  const logLevel = read(env, "LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const mlServiceToken = read(env, "ML_SERVICE_TOKEN") ?? null;
  if (mlServiceToken !== null && mlServiceToken.length < 16) {
    throw new ConfigError("ML_SERVICE_TOKEN", "must be at least 16 characters");
  }
  const { uri, dbName } = mongodb(env);
  if (nodeEnv === "production" && read(env, "AGGREGATE_TEST_CRASH_AT") !== undefined) {
    throw new ConfigError("AGGREGATE_TEST_CRASH_AT", "is a test hook that kills the node; never set it in production");
  }

  const port = integer(env, "PORT", 5000, 0, 65535);
  const host = read(env, "HOST") ?? "0.0.0.0";
  const metricsPort = integer(env, "METRICS_PORT", 9464, 0, 65535);
  if (metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError("METRICS_PORT", `must differ from PORT (${port}): the metrics have a listener of their own`);
  }
  const sessionTtlSeconds = integer(env, "SESSION_TTL_SECONDS", 3600, 10, 7 * 24 * 3600);
  const heartbeatTtlSeconds = integer(env, "HEARTBEAT_TTL_SECONDS", 300, 5, 24 * 3600);
  if (heartbeatTtlSeconds > sessionTtlSeconds) {
    throw new ConfigError("HEARTBEAT_TTL_SECONDS", "must not exceed SESSION_TTL_SECONDS");
  }
  const nodeLivenessTtlSeconds = integer(env, "NODE_LIVENESS_TTL_SECONDS", 10, 2, 20);
  const reaperIntervalMs = integer(env, "REAPER_INTERVAL_MS", 5_000, 100, 10_000);
  // A dead node's sockets are gone at the latest one liveness TTL plus two reaper periods after it
  // died (one period to notice, one more if the lock holder died too and its lock must expire).
  // The contract promises 30 s, so no setting may break that.
  if (nodeLivenessTtlSeconds * 1000 + 2 * reaperIntervalMs > 30_000) {
    throw new ConfigError(
      "REAPER_INTERVAL_MS",
      "together with NODE_LIVENESS_TTL_SECONDS must keep liveness TTL + 2 × interval within 30 s",
    );
  }

  return {
    port,
    host,
    metricsPort,
    metricsHost: read(env, "METRICS_HOST") ?? host,
    nodeId,
    instanceId: workerIndex === undefined ? nodeId : `${nodeId}#${workerIndex}`,
    nodeEnv,
    redisUrl: redisUrl(env),
    redisCommandTimeoutMs: integer(env, "REDIS_COMMAND_TIMEOUT_MS", 1_000, 50, 60_000),
    mongodbUri: uri,
    mongodbDbName: dbName,
    mongodbTimeoutMs: integer(env, "MONGODB_TIMEOUT_MS", 10_000, 500, 300_000),
    ingestCommitLingerMs: integer(env, "INGEST_COMMIT_LINGER_MS", 2, 0, 100),
    ingestMaxPending: integer(env, "INGEST_MAX_PENDING", 20_000, 100, 1_000_000),
    aggregateFlushMs: integer(env, "AGGREGATE_FLUSH_MS", 1_000, 50, 10_000),
    aggregateTestCrashAt:
      read(env, "AGGREGATE_TEST_CRASH_AT") === undefined
        ? null
        : integer(env, "AGGREGATE_TEST_CRASH_AT", 1, 1, 1_000_000),
    jwtSecret,
    mlServiceToken,
    sessionTtlSeconds,
    heartbeatTtlSeconds,
    nodeLivenessTtlSeconds,
    reaperIntervalMs,
    regionPrecision: integer(env, "REGION_PRECISION", 6, 1, 12),
    workers: integer(env, "WORKERS", 1, 1, 64),
    heapGrowingPercent: integer(env, "HEAP_GROWING_PERCENT", 20, 0, 300),
    logLevel,
    allowedOrigins: origins(env, nodeEnv),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 100, 120_000),
    trustProxy: read(env, "TRUST_PROXY") ?? "loopback,linklocal,uniquelocal",
    // The API's map is for its developers; a deployment shows it only when asked to.
    docsEnabled: flag(env, "DOCS_ENABLED", RELAXED_ENVIRONMENTS.includes(nodeEnv)),
    socketEventsPerSecond: integer(env, "SOCKET_EVENTS_PER_SECOND", 20, 1, 100_000),
    socketEventBurst: integer(env, "SOCKET_EVENT_BURST", 60, 1, 100_000),
    socketAbuseDisconnectAfter: integer(env, "SOCKET_ABUSE_DISCONNECT_AFTER", 200, 1, 1_000_000),
    socketMaxInFlight: integer(env, "SOCKET_MAX_IN_FLIGHT", 32, 1, 10_000),
    httpRateLimitPerMinute: integer(env, "HTTP_RATE_LIMIT_PER_MINUTE", 1_200, 1, 10_000_000),
    authRateLimitPerMinute: integer(env, "AUTH_RATE_LIMIT_PER_MINUTE", 60, 1, 10_000_000),
    accountRateLimitPerMinute: integer(env, "ACCOUNT_RATE_LIMIT_PER_MINUTE", 600, 1, 10_000_000),
    maxPendingSessionsPerAddress: integer(env, "MAX_PENDING_SESSIONS_PER_ADDRESS", 64, 1, 1_000_000),
    socketMaxBufferedBytes: integer(env, "SOCKET_MAX_BUFFERED_BYTES", 8 * 1024 * 1024, 64 * 1024, 1024 ** 3),
    maxSocketsPerAccount: integer(env, "MAX_SOCKETS_PER_ACCOUNT", 20, 1, 1_000_000),
    accessTokenTtlSeconds: integer(env, "ACCESS_TOKEN_TTL_SECONDS", 900, 10, 24 * 3600),
    refreshTokenTtlSeconds: integer(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 60, 365 * 24 * 3600),
    adapterMode,
    adapterChannelPrefix,
    mapTileUrl: mapTileUrl(env),
    mapTileAttribution: (read(env, "MAP_TILE_ATTRIBUTION") ?? "").slice(0, 300),
    mapCenter: mapCenter(env),
  };
}
