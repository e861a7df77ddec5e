import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { freePort, isListening, waitFor } from "./ports.js";
import { type PostgresDatabase, postgresDatabaseFor } from "./postgres.js";
import { type Service, startService } from "./process.js";
import { StoreVacuum } from "./vacuum.js";

export interface MongoInstance {
  /** Connection string without a database name; append `/<db>`. */
  baseUri: string;
  port: number;
  /** Which FerretDB backend holds the data. */
  backend?: StoreBackend;
  /** With the `postgresql` backend: the database on the local PostgreSQL that holds the data. */
  postgresDatabase?: string;
  service?: Service;
  stop(): Promise<void>;
}

/** FerretDB's storage: SQLite files in `dataDir`, or a database of its own on a local PostgreSQL. */
export type StoreBackend = "sqlite" | "postgresql";
export const STORE_BACKENDS: readonly StoreBackend[] = ["sqlite", "postgresql"];

/**
 * The backend named by `ROADPULSE_STORE_BACKEND` (or another variable), else `fallback`. Anything
 * else is refused by name, before a process starts.
 */
export function storeBackendFromEnv(
  fallback: StoreBackend,
  name = "ROADPULSE_STORE_BACKEND",
  env: NodeJS.ProcessEnv = process.env,
): StoreBackend {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!(STORE_BACKENDS as readonly string[]).includes(raw)) {
    throw new Error(`${name} must be one of ${STORE_BACKENDS.join(", ")}, got "${raw}"`);
  }
  return raw as StoreBackend;
}

/** The FerretDB binary installed by scripts/lib/install-ferretdb.sh (or `FERRETDB_BIN`). */
export function ferretdbBinary(): string {
  if (process.env.FERRETDB_BIN) return process.env.FERRETDB_BIN;
  let gobin = "";
  try {
    gobin = execFileSync("go", ["env", "GOBIN"], { encoding: "utf8" }).trim();
    if (gobin === "") gobin = join(execFileSync("go", ["env", "GOPATH"], { encoding: "utf8" }).trim(), "bin");
  } catch {
    gobin = join(process.env.HOME ?? "/root", "go", "bin");
  }
  const bin = join(gobin, "ferretdb");
  if (!existsSync(bin)) {
    throw new Error(`FerretDB not found at ${bin}: run scripts/lib/install-ferretdb.sh (the README's commands do)`);
  }
  return bin;
}

export interface FerretDBOptions {
  port?: number;
  /** SQLite's files and FerretDB's state; with PostgreSQL it also names the database (see postgres.ts). */
  dataDir: string;
  output: string | "inherit-prefixed" | "ignore";
  /** `sqlite` unless given. */
  backend?: StoreBackend;
  /**
   * PostgreSQL only: keep the database when the instance stops (the local cluster's data survives a
   * restart, as its SQLite files do). Tests and benchmarks leave this off, so they leave nothing behind.
   */
  keepData?: boolean;
  /** Where the store's housekeeping reports trouble (the PostgreSQL vacuum, vacuum.ts). */
  log?: (line: string) => void;
}

/**
 * The Go garbage collector's target for the local store (`GOGC`), unless `ROADPULSE_STORE_GOGC` says
 * otherwise. FerretDB decodes every document it reads from JSON and converts it to BSON and back,
 * so at Go's default (100) allocation and marking took over a quarter of its CPU. 400 lets the heap
 * grow to five times what is live (tens of MB here) before a collection: `pnpm bench store-ops`
 * measured 5–28 % less FerretDB CPU per document for a peak RSS of ~70 instead of ~43 MB
 * (docs/store-backend.md).
 */
export const DEFAULT_STORE_GOGC = "400";

/** The environment FerretDB runs in: the caller's, with the collector's target of the local store. */
export function ferretdbEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const gogc = env.ROADPULSE_STORE_GOGC;
  if (gogc !== undefined && gogc !== "" && gogc !== "off" && !/^[1-9][0-9]{0,5}$/.test(gogc)) {
    throw new Error(`ROADPULSE_STORE_GOGC must be a whole number from 1 to 999999 or "off", got "${gogc}"`);
  }
  return { ...env, GOGC: gogc === undefined || gogc === "" ? DEFAULT_STORE_GOGC : gogc };
}

/** FerretDB 1.24 with its SQLite or PostgreSQL backend: the MongoDB wire protocol on a local port. */
export async function startFerretDB(options: FerretDBOptions): Promise<MongoInstance> {
  const backend = options.backend ?? "sqlite";
  const env = ferretdbEnv();
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  let database: PostgresDatabase | undefined;
  const backendArgs = ["--handler=sqlite", `--sqlite-url=file:${options.dataDir}/`];
  if (backend === "postgresql") {
    database = await postgresDatabaseFor(port, options.dataDir);
    backendArgs.splice(0, 2, "--handler=postgresql", `--postgresql-url=${database.ferretdbUrl}`);
  }
  const service = startService(
    `ferretdb:${port}`,
    ferretdbBinary(),
    [
      ...backendArgs,
      "--telemetry=disable",
      `--state-dir=${options.dataDir}`,
      `--listen-addr=127.0.0.1:${port}`,
      "--debug-addr=-",
      "--log-level=warn",
    ],
    { output: options.output, env },
  );
  const dropDatabase = async () => {
    if (database && !options.keepData) await database.drop();
  };
  try {
    await waitFor(`FerretDB on port ${port}`, async () => {
      if (!service.running) throw new Error(`FerretDB exited: ${service.recentOutput}`);
      return await isListening(port);
    });
  } catch (error) {
    await service.kill();
    await dropDatabase().catch(() => undefined);
    throw error;
  }
  // The store's own tables stay vacuumed even where the server's autovacuum is off (vacuum.ts).
  const log = options.log ?? ((line: string) => console.error(`[ferretdb:${port}] ${line}`));
  let vacuum: StoreVacuum | null = database ? new StoreVacuum(database.url, { log }) : null;
  try {
    await vacuum?.start();
  } catch (error) {
    // The store works without it, only slower as its tables bloat: said once, not fatal.
    log(`vacuum not started: ${(error as Error).message}`);
    vacuum = null;
  }
  return {
    baseUri: `mongodb://127.0.0.1:${port}`,
    port,
    backend,
    ...(database ? { postgresDatabase: database.name } : {}),
    service,
    stop: async () => {
      await vacuum?.stop();
      await service.stop("SIGTERM", 5_000);
      await dropDatabase();
    },
  };
}
