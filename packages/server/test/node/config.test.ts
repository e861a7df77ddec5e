import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, DEV_JWT_SECRET, loadConfig } from "../../src/config.js";

/** The value deploy/k8s/secret.yaml ships with (read from it, so the two cannot drift apart). */
const K8S_PLACEHOLDER =
  /JWT_SECRET: (\S+)/.exec(readFileSync(new URL("../../../../deploy/k8s/secret.yaml", import.meta.url), "utf8"))?.[1] ??
  "";

function errorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 5000,
      host: "0.0.0.0",
      redisUrl: "redis://localhost:6379",
      mongodbUri: "mongodb://localhost:27017/roadpulse",
      mongodbDbName: "roadpulse",
      sessionTtlSeconds: 3600,
      heartbeatTtlSeconds: 300,
      nodeLivenessTtlSeconds: 10,
      reaperIntervalMs: 5000,
      regionPrecision: 6,
      workers: 1,
      jwtSecret: DEV_JWT_SECRET,
    });
    expect(config.nodeId).toMatch(/-\d+$/);
  });

  it("accepts redis://, rediss://, passwords, database numbers and off", () => {
    expect(loadConfig({ REDIS_URL: "rediss://cache.example.net:6380" }).redisUrl).toBe(
      "rediss://cache.example.net:6380",
    );
    expect(loadConfig({ REDIS_URL: "redis://:s3cret@redis:6379/2" }).redisUrl).toBe("redis://:s3cret@redis:6379/2");
    expect(loadConfig({ REDIS_URL: "off" }).redisUrl).toBeNull();
  });

  it("takes the database name from MONGODB_URI, including replica-set URIs", () => {
    expect(loadConfig({ MONGODB_URI: "mongodb://a:27017,b:27017/fleet?replicaSet=rs0" }).mongodbDbName).toBe("fleet");
    expect(loadConfig({ MONGODB_URI: "mongodb://localhost:27017" }).mongodbDbName).toBe("roadpulse");
  });

  it.each([
    ["PORT", { PORT: "http" }, /PORT must be an integer/],
    ["PORT", { PORT: "70000" }, /PORT must be between 0 and 65535/],
    ["PORT", { PORT: "-1" }, /PORT must be an integer/],
    ["REDIS_URL", { REDIS_URL: "localhost:6379" }, /REDIS_URL must use redis:\/\/ or rediss:\/\//],
    ["REDIS_URL", { REDIS_URL: "not a url" }, /REDIS_URL is not a URL/],
    ["REDIS_URL", { REDIS_URL: "http://localhost:6379" }, /REDIS_URL must use redis/],
    ["REDIS_URL", { REDIS_URL: "redis://localhost:6379/abc" }, /REDIS_URL database must be a number/],
    ["MONGODB_URI", { MONGODB_URI: "postgres://localhost/db" }, /MONGODB_URI is not a MongoDB connection string/],
    ["MONGODB_URI", { MONGODB_URI: "mongodb://" }, /MONGODB_URI is not a MongoDB connection string/],
    ["JWT_SECRET", { NODE_ENV: "production" }, /JWT_SECRET must be set/],
    ["JWT_SECRET", { JWT_SECRET: "short" }, /JWT_SECRET must be at least 16/],
    ["ADMIN_EMAILS", { ADMIN_EMAILS: "boss@example.org" }, /ADMIN_EMAILS is no longer read: grant the admin role with/],
    ["SESSION_TTL_SECONDS", { SESSION_TTL_SECONDS: "1h" }, /SESSION_TTL_SECONDS must be an integer/],
    ["HEARTBEAT_TTL_SECONDS", { SESSION_TTL_SECONDS: "60", HEARTBEAT_TTL_SECONDS: "300" }, /must not exceed/],
    ["REGION_PRECISION", { REGION_PRECISION: "13" }, /REGION_PRECISION must be between 1 and 12/],
    ["WORKERS", { WORKERS: "0" }, /WORKERS must be between 1 and 64/],
    ["NODE_ID", { NODE_ID: "node 1" }, /NODE_ID may hold only/],
    [
      "ALLOWED_ORIGINS",
      { ALLOWED_ORIGINS: "https://app.example/path" },
      /ALLOWED_ORIGINS entries must be bare origins/,
    ],
  ])("refuses a bad %s with a message naming it", (variable, env, message) => {
    const error = errorFor(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain("\n");
  });

  it("keeps dead-node reaping within 30 s whatever the reaper settings", () => {
    expect(loadConfig({ NODE_LIVENESS_TTL_SECONDS: "20", REAPER_INTERVAL_MS: "5000" })).toMatchObject({
      nodeLivenessTtlSeconds: 20,
      reaperIntervalMs: 5000,
    });
    expect(errorFor({ NODE_LIVENESS_TTL_SECONDS: "20", REAPER_INTERVAL_MS: "6000" }).variable).toBe(
      "REAPER_INTERVAL_MS",
    );
    expect(errorFor({ NODE_LIVENESS_TTL_SECONDS: "1" }).variable).toBe("NODE_LIVENESS_TTL_SECONDS");
    expect(errorFor({ REAPER_INTERVAL_MS: "soon" }).message).toBe(
      'Invalid configuration: REAPER_INTERVAL_MS must be an integer, got "soon"',
    );
  });

  it.each([
    ["unset", {}],
    ["any origin", { ALLOWED_ORIGINS: "*" }],
  ])("refuses %s as ALLOWED_ORIGINS in production, naming it", (_, env) => {
    const error = errorFor({ NODE_ENV: "production", JWT_SECRET: randomBytes(32).toString("hex"), ...env });
    expect(error.variable).toBe("ALLOWED_ORIGINS");
    expect(error.message).toMatch(/must list the web origins allowed to connect when NODE_ENV=production/);
  });

  it("takes an origin list or none in production, and any origin in development when unset", () => {
    const production = { NODE_ENV: "production", JWT_SECRET: randomBytes(32).toString("hex") };
    expect(
      loadConfig({ ...production, ALLOWED_ORIGINS: "https://a.example.org, https://b.example.org" }).allowedOrigins,
    ).toEqual(["https://a.example.org", "https://b.example.org"]);
    expect(loadConfig({ ...production, ALLOWED_ORIGINS: "none" }).allowedOrigins).toEqual([]);
    expect(loadConfig({}).allowedOrigins).toBe("*");
  });

  it("serves /docs in development and test only, unless DOCS_ENABLED says otherwise", () => {
    const production = { NODE_ENV: "production", JWT_SECRET: randomBytes(32).toString("hex"), ALLOWED_ORIGINS: "none" };
    expect(loadConfig(production).docsEnabled).toBe(false);
    expect(loadConfig({ ...production, DOCS_ENABLED: "true" }).docsEnabled).toBe(true);
    expect(loadConfig({}).docsEnabled).toBe(true);
    expect(loadConfig({ DOCS_ENABLED: "0" }).docsEnabled).toBe(false);
    expect(errorFor({ DOCS_ENABLED: "yes" }).message).toMatch(/DOCS_ENABLED must be true or false, got "yes"/);
  });

  // What an operator might leave in place outside development: each is refused by name.
  it.each([
    ["the development default", "production", DEV_JWT_SECRET, /at least 32 characters/],
    ["unset, on staging", "staging", undefined, /must be set when NODE_ENV=staging/],
    ["the Kubernetes placeholder", "production", K8S_PLACEHOLDER, /placeholder \(contains "change-me"\)/],
    ["31 random hex digits", "production", randomBytes(16).toString("hex").slice(0, 31), /at least 32/],
    ["one character repeated", "production", "x".repeat(64), /not random enough/],
    ["a short pattern repeated", "staging", "ab12".repeat(16), /not random enough/],
    ["a sentence with a giveaway", "production", "our production signing secret for tokens", /contains "secret"/],
  ])("refuses %s as JWT_SECRET outside development and test", (_, nodeEnv, secret, message) => {
    const error = errorFor({ NODE_ENV: nodeEnv, ...(secret === undefined ? {} : { JWT_SECRET: secret }) });
    expect(error.variable).toBe("JWT_SECRET");
    expect(error.message).toMatch(message);
  });

  it("accepts a random secret of one's own in production, and a weak one in development and test", () => {
    const origins = { ALLOWED_ORIGINS: "https://ops.example.org" };
    const secret = randomBytes(32).toString("hex");
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: secret, ...origins }).nodeEnv).toBe("production");
    expect(
      loadConfig({ NODE_ENV: "production", JWT_SECRET: randomBytes(32).toString("base64"), ...origins }).nodeEnv,
    ).toBe("production");
    for (const nodeEnv of ["development", "test"]) {
      expect(loadConfig({ NODE_ENV: nodeEnv, JWT_SECRET: "test-secret-0123456789abcdef" }).nodeEnv).toBe(nodeEnv);
    }
  });
});
