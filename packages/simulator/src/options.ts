import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import type { TruthOptions } from "./truth/run.js";

/**
 * Devices per account when the accounts are not given: a household's few phones, so that an account
 * stays well under the server's MAX_SOCKETS_PER_ACCOUNT (20) even while a dead node's sessions still
 * count, and the password hashes of registering stay affordable (one per 8 devices).
 */
const DEVICES_PER_ACCOUNT = 8;
function autoAccounts(devices: number): number {
  return Math.ceil(devices / DEVICES_PER_ACCOUNT);
}

/** `15s`, `2m`, `500ms`, `1h`, or a bare number of seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${flag} must be a duration such as 500ms, 15s, 2m or 1h, got "${text}"`);
  const value = Number(match[1]);
  const unit = match[2] ?? "s";
  return value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
}

export class UsageError extends Error {}

/** A period that may be switched off: `off` gives 0 (the event is never sent), else a duration > 0. */
function parsePeriod(text: string, flag: string): number {
  if (text.trim() === "off") return 0;
  const ms = parseDuration(text, flag);
  if (ms <= 0) throw new UsageError(`--${flag} must be a duration above 0, or off, got "${text}"`);
  return ms;
}

function int(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer between ${min} and ${max}, got "${text}"`);
  }
  return value;
}

function num(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a number between ${min} and ${max}, got "${text}"`);
  }
  return value;
}

export interface FleetOptions {
  url: string;
  /** Local address every connection and request of the fleet comes from ("" = the machine's choice). */
  localAddress: string;
  devices: number;
  workers: number;
  rampMs: number;
  durationMs: number;
  transport: "websocket" | "polling";
  locationIntervalMs: number;
  batchIntervalMs: number;
  batchSize: number;
  heartbeatIntervalMs: number;
  /** Batches sent and not yet acknowledged, at most, per device (the app keeps a small window). */
  maxInflight: number;
  /** Batches a device keeps for sending or resending; older ones are dropped (counted) beyond this. */
  maxQueued: number;
  ackTimeoutMs: number;
  eventRate: number;
  area: { latitude: number; longitude: number; radiusKm: number };
  accounts: number;
  accountPrefix: string;
  password: string;
  progressMs: number;
  json: string | undefined;
  thresholds: string[];
  /** `auto`: find the local cluster's processes behind the URL; `none`; or a list of pids. */
  procs: string;
  mongoUri: string | undefined;
  quiet: boolean;
}

/** Flags shared by `fleet`, `truth` and `soak`, each with its default and its help line. */
export const FLEET_FLAGS = {
  url: { type: "string", default: "http://127.0.0.1:8080", help: "RoadPulse base URL (nginx or one node)" },
  "local-address": {
    type: "string",
    default: "",
    help: "local address to connect from (e.g. 127.0.0.2: per-address limits then count the fleet)",
  },
  devices: { type: "string", default: "100", help: "simulated phones" },
  workers: { type: "string", default: "auto", help: "generator processes (auto: one per 250 devices, ≤ cores)" },
  ramp: { type: "string", default: "10s", help: "time over which devices connect" },
  duration: { type: "string", default: "60s", help: "steady time after the ramp" },
  transport: { type: "string", default: "websocket", help: "websocket | polling" },
  "location-interval": { type: "string", default: "5s", help: "location:update period, or off" },
  "batch-interval": { type: "string", default: "1s", help: "observations:submit period, or off" },
  "batch-size": { type: "string", default: "5", help: "observations per batch" },
  "heartbeat-interval": { type: "string", default: "30s", help: "heartbeat period, or off" },
  "max-inflight": { type: "string", default: "3", help: "unacknowledged batches per device, at most" },
  "max-queued": { type: "string", default: "120", help: "batches a device keeps for (re)sending" },
  "ack-timeout": { type: "string", default: "10s", help: "an ack later than this is a timeout (batch resent)" },
  "event-rate": { type: "string", default: "0.002", help: "share of samples that carry a pothole/bump event" },
  area: { type: "string", default: "28.6139,77.2090,5", help: "lat,lon,radiusKm the fleet drives in" },
  accounts: { type: "string", default: "auto", help: "accounts the devices share (auto: one per 8 devices)" },
  "account-prefix": { type: "string", default: "", help: "reuse accounts across runs (login, else register)" },
  password: { type: "string", default: "simulated fleet password", help: "password of the accounts" },
  progress: { type: "string", default: "5s", help: "progress line period" },
  json: { type: "string", help: "write machine-readable results to this file" },
  threshold: { type: "string", multiple: true, help: "e.g. 'obs_ack_p99<250' 'errors==0' (repeatable)" },
  procs: { type: "string", default: "auto", help: "cluster processes to sample: auto | none | pid,pid,…" },
  "mongo-uri": { type: "string", help: "check that every acked observation is in this store" },
  quiet: { type: "boolean", default: false, help: "no progress line" },
  "dry-run": { type: "boolean", default: false, help: "check the flags and thresholds, print the plan, exit" },
} as const;

type FlagValues = Record<string, string | boolean | string[] | undefined>;

export function parseFlags<T extends Record<string, { type: "string" | "boolean"; multiple?: boolean }>>(
  argv: string[],
  flags: T,
): FlagValues {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.multiple ? { multiple: true } : {}),
        ...("default" in spec ? { default: spec.default } : {}),
      },
    ]),
  );
  try {
    return parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false })
      .values as FlagValues;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function fleetOptions(values: FlagValues): FleetOptions {
  const s = (name: string) => String(values[name] ?? "");
  const devices = int(s("devices"), "devices", 1, 200_000);
  const cores = availableParallelism();
  const workers =
    s("workers") === "auto" ? Math.min(cores, Math.ceil(devices / 250)) : int(s("workers"), "workers", 1, 64);
  const transport = s("transport");
  if (transport !== "websocket" && transport !== "polling")
    throw new UsageError("--transport must be websocket or polling");
  if (s("local-address") && transport === "polling") {
    throw new UsageError("--local-address needs --transport websocket (long-polling requests cannot choose it)");
  }
  const area = s("area").split(",").map(Number);
  if (area.length !== 3 || area.some((v) => !Number.isFinite(v)))
    throw new UsageError("--area must be lat,lon,radiusKm");
  const url = s("url").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  return {
    url,
    devices,
    workers: Math.min(workers, devices),
    localAddress: s("local-address"),
    rampMs: parseDuration(s("ramp"), "ramp"),
    durationMs: parseDuration(s("duration"), "duration"),
    transport,
    locationIntervalMs: parsePeriod(s("location-interval"), "location-interval"),
    batchIntervalMs: parsePeriod(s("batch-interval"), "batch-interval"),
    batchSize: int(s("batch-size"), "batch-size", 1, 500),
    heartbeatIntervalMs: parsePeriod(s("heartbeat-interval"), "heartbeat-interval"),
    maxInflight: int(s("max-inflight"), "max-inflight", 1, 100),
    maxQueued: int(s("max-queued"), "max-queued", 1, 100_000),
    ackTimeoutMs: parseDuration(s("ack-timeout"), "ack-timeout"),
    eventRate: num(s("event-rate"), "event-rate", 0, 1),
    area: { latitude: area[0] as number, longitude: area[1] as number, radiusKm: area[2] as number },
    // More accounts than devices would only cost password hashes: never more than one per device.
    accounts: Math.min(
      devices,
      s("accounts") === "auto" ? autoAccounts(devices) : int(s("accounts"), "accounts", 1, 200_000),
    ),
    accountPrefix: s("account-prefix"),
    password: s("password"),
    progressMs: parseDuration(s("progress"), "progress"),
    json: values.json === undefined ? undefined : s("json"),
    thresholds: (values.threshold as string[] | undefined) ?? [],
    procs: s("procs"),
    mongoUri: values["mongo-uri"] === undefined ? undefined : s("mongo-uri"),
    quiet: values.quiet === true,
  };
}

export function flagHelp(flags: Record<string, { default?: string | boolean; help: string }>): string {
  return Object.entries(flags)
    .map(
      ([name, spec]) =>
        `  --${name.padEnd(20)} ${spec.help}${spec.default !== undefined && spec.default !== "" ? ` (${spec.default})` : ""}`,
    )
    .join("\n");
}

/** `roadpulse-sim truth`: the network, the noise, and how fast the drives are sent. */
export const TRUTH_FLAGS = {
  url: FLEET_FLAGS.url,
  devices: { type: "string", default: "8", help: "devices driving the network (distinct device ids)" },
  passes: { type: "string", default: "2", help: "passes of every device over every road" },
  roads: { type: "string", default: "4", help: "roads (E–W, N–S, NE, NW, then again further north)" },
  "road-km": { type: "string", default: "0.5", help: "length of each road" },
  "stretch-m": { type: "string", default: "50", help: "length of a stretch of constant true IRI" },
  "potholes-per-km": { type: "string", default: "4", help: "real potholes per km of road" },
  "gps-sigma": { type: "string", default: "4", help: "GPS noise σ, metres (each axis)" },
  "roughness-sigma": { type: "string", default: "0.6", help: "roughness noise σ, m/km" },
  "bogus-share": { type: "string", default: "0.05", help: "bogus single-device pothole reports, share of real ones" },
  "slow-share": { type: "string", default: "0.1", help: "share of passes below the 15 km/h speed gate" },
  detection: { type: "string", default: "0.9", help: "chance that a device passing a pothole reports it" },
  seed: { type: "string", default: "random", help: "makes the network and drives reproducible" },
  origin: { type: "string", default: "random", help: "lat,lon of the network (random: somewhere near 52.0,5.0)" },
  "min-n": { type: "string", default: "5", help: "segments with fewer counted samples are not scored" },
  "batch-size": { type: "string", default: "20", help: "observations per batch" },
  "batch-interval": { type: "string", default: "200ms", help: "batch period per device (faster than real time)" },
  "max-inflight": FLEET_FLAGS["max-inflight"],
  "ack-timeout": { type: "string", default: "30s", help: FLEET_FLAGS["ack-timeout"].help },
  "settle-timeout": { type: "string", default: "180s", help: "how long to wait for the aggregates, at most" },
  "settle-quiet": { type: "string", default: "20s", help: "stop waiting once the aggregates stop changing this long" },
  accounts: { type: "string", default: "auto", help: "accounts the devices share (auto: 10, or one per 8 devices)" },
  password: FLEET_FLAGS.password,
  transport: FLEET_FLAGS.transport,
  json: FLEET_FLAGS.json,
  threshold: FLEET_FLAGS.threshold,
  quiet: FLEET_FLAGS.quiet,
  "dry-run": FLEET_FLAGS["dry-run"],
} as const;

export function truthOptions(values: FlagValues): TruthOptions {
  const s = (name: string) => String(values[name] ?? "");
  const devices = int(s("devices"), "devices", 1, 10_000);
  const seed = s("seed") === "random" ? Math.floor(Math.random() * 2 ** 31) : int(s("seed"), "seed", 0, 2 ** 31);
  let origin = {
    latitude: 52 + ((seed % 1000) / 1000) * 0.4,
    longitude: 5 + ((Math.floor(seed / 1000) % 1000) / 1000) * 0.4,
  };
  if (s("origin") !== "random") {
    const [latitude, longitude] = s("origin").split(",").map(Number);
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) throw new UsageError("--origin must be lat,lon");
    origin = { latitude: latitude as number, longitude: longitude as number };
  }
  const transport = s("transport");
  if (transport !== "websocket" && transport !== "polling")
    throw new UsageError("--transport must be websocket or polling");
  return {
    url: s("url").replace(/\/+$/, ""),
    devices,
    passes: int(s("passes"), "passes", 1, 1000),
    roads: int(s("roads"), "roads", 1, 40),
    roadKm: num(s("road-km"), "road-km", 0.1, 20),
    stretchM: num(s("stretch-m"), "stretch-m", 10, 1000),
    potholesPerKm: num(s("potholes-per-km"), "potholes-per-km", 0, 15),
    gpsSigmaM: num(s("gps-sigma"), "gps-sigma", 0, 50),
    roughnessSigma: num(s("roughness-sigma"), "roughness-sigma", 0, 10),
    bogusShare: num(s("bogus-share"), "bogus-share", 0, 1),
    slowShare: num(s("slow-share"), "slow-share", 0, 1),
    detection: num(s("detection"), "detection", 0, 1),
    seed,
    origin,
    minN: int(s("min-n"), "min-n", 1, 1000),
    batchSize: int(s("batch-size"), "batch-size", 1, 500),
    batchIntervalMs: parseDuration(s("batch-interval"), "batch-interval"),
    maxInflight: int(s("max-inflight"), "max-inflight", 1, 100),
    ackTimeoutMs: parseDuration(s("ack-timeout"), "ack-timeout"),
    settleTimeoutMs: parseDuration(s("settle-timeout"), "settle-timeout"),
    settleQuietMs: parseDuration(s("settle-quiet"), "settle-quiet"),
    accounts: Math.min(
      devices,
      s("accounts") === "auto" ? Math.max(10, autoAccounts(devices)) : int(s("accounts"), "accounts", 1, 200_000),
    ),
    password: s("password"),
    transport,
    json: values.json === undefined ? undefined : s("json"),
    thresholds: (values.threshold as string[] | undefined) ?? [],
    quiet: values.quiet === true,
  };
}

/** `roadpulse-sim soak`: the fleet flags plus these. */
export const SOAK_FLAGS = {
  ...FLEET_FLAGS,
  minutes: { type: "string", default: "30", help: "how long the fleet drives (replaces --duration)" },
  "check-interval": { type: "string", default: "5s", help: "period of the health / memory / fd checks" },
  "health-timeout": { type: "string", default: "1s", help: "a /health slower than this is a failure" },
  "mongo-uri": { type: "string", default: "auto", help: "store to check acked ids in (auto: a local node's)" },
} as const;

export function soakOptions(values: FlagValues): {
  fleet: FleetOptions;
  checkIntervalMs: number;
  healthTimeoutMs: number;
} {
  const fleet = fleetOptions(values);
  const minutes = num(String(values.minutes), "minutes", 0.1, 60 * 24 * 7);
  return {
    fleet: { ...fleet, durationMs: minutes * 60_000 },
    checkIntervalMs: parseDuration(String(values["check-interval"]), "check-interval"),
    healthTimeoutMs: parseDuration(String(values["health-timeout"]), "health-timeout"),
  };
}
