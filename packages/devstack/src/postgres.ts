import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A database of its own on the local PostgreSQL, for one FerretDB instance with the `postgresql`
 * backend. Administered with `psql` (from the `postgresql` Debian package), so no PostgreSQL client
 * library is needed.
 */
export interface PostgresDatabase {
  name: string;
  /** The database's URL for psql. */
  url: string;
  /** `--postgresql-url` for FerretDB: the database plus its pool size. */
  ferretdbUrl: string;
  /** Drops the database and everything in it (connections left open are ended first). */
  drop(): Promise<void>;
}

/**
 * Where databases are created: `ROADPULSE_POSTGRES_URL`, else the local server's unix socket as
 * the OS user (Debian's default `peer` authentication; scripts/lib/common.sh's ensure_postgresql
 * gives that user a role). FerretDB gets the same URL with its own database, so it runs as that
 * user too.
 */
export function postgresAdminUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.ROADPULSE_POSTGRES_URL || "postgres:///postgres?host=/var/run/postgresql";
}

/**
 * FerretDB's connections to PostgreSQL, per instance. FerretDB 1.24 holds one per `updateOne`
 * statement until its `update` command ends, so the pool must stay far above what the nodes' update
 * commands hold at once (a round of folds holds at most 24: 4 commands of 5 statements, or 8
 * single-document writes; see packages/server/src/store/durability.ts), or the store waits forever
 * for a connection. Its own
 * default, 50, would let two instances (a test run and the local cluster) take all of PostgreSQL's
 * default 100; 40 leaves room for a second one and for psql.
 */
const DEFAULT_POOL_MAX_CONNS = "40";
/** Every `psql` call is bounded: a PostgreSQL that accepts but never answers is an error, not a hang. */
const PSQL_TIMEOUT_MS = 15_000;

/**
 * The database for the instance on `port` with `dataDir`: the same pair (a store restarted by its
 * supervisor, a test reviving its store) finds the same data, as it does with SQLite's files.
 * Created when missing.
 */
export async function postgresDatabaseFor(port: number, dataDir: string): Promise<PostgresDatabase> {
  const adminUrl = postgresAdminUrl();
  const name = `roadpulse_${port}_${createHash("sha1").update(resolve(dataDir)).digest("hex").slice(0, 8)}`;
  const exists = await psql(adminUrl, `SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  if (exists.trim() !== "1") {
    try {
      await psql(adminUrl, `CREATE DATABASE "${name}"`);
    } catch (error) {
      // Two starts of the same pair at once: the other one created it.
      if (!/already exists/.test((error as Error).message)) throw error;
    }
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // Every start, so a database made before this existed gets it too (the script is idempotent).
  const plainUrl = url.toString();
  await psql(plainUrl, { file: ID_LOOKUPS_SQL, vars: { dbname: name } });
  if (!url.searchParams.has("pool_max_conns")) {
    url.searchParams.set("pool_max_conns", process.env.ROADPULSE_POSTGRES_POOL || DEFAULT_POOL_MAX_CONNS);
  }
  return {
    name,
    url: plainUrl,
    ferretdbUrl: url.toString(),
    drop: async () => void (await psql(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** Indexes and plan settings that make FerretDB's reads by `_id` index lookups (see the file). */
const ID_LOOKUPS_SQL = fileURLToPath(new URL("../sql/ferretdb-id-lookups.sql", import.meta.url));

/**
 * Runs one statement, or a script file with psql variables, through `psql`; the error says how to
 * get a PostgreSQL when there is none.
 */
export function psql(
  adminUrl: string,
  sql: string | { file: string; vars?: Record<string, string> },
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? PSQL_TIMEOUT_MS;
  const input =
    typeof sql === "string"
      ? ["-c", sql]
      : [...Object.entries(sql.vars ?? {}).flatMap(([k, v]) => ["-v", `${k}=${v}`]), "-f", sql.file];
  const shown = typeof sql === "string" ? sql : sql.file;
  return new Promise((done, fail) => {
    execFile(
      "psql",
      ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", adminUrl, ...input],
      { timeout: timeoutMs, env: { ...process.env, PGCONNECT_TIMEOUT: "5" }, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (!error) return done(stdout);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          return fail(
            new Error("psql not found: install PostgreSQL (`apt-get install postgresql`, as scripts/start.sh does)"),
          );
        }
        const why = stderr.trim() || (error.killed ? `no answer within ${timeoutMs} ms` : error.message);
        if (
          /could not connect|connection to server|connection refused|no answer|No such file|timeout expired/i.test(why)
        ) {
          return fail(
            new Error(
              `PostgreSQL at ${redact(adminUrl)} is not reachable (${why}). Start it with ` +
                "`pg_ctlcluster $(ls /etc/postgresql) main start` (scripts/start.sh does), or point " +
                "ROADPULSE_POSTGRES_URL at one, or use ROADPULSE_STORE_BACKEND=sqlite",
            ),
          );
        }
        fail(new Error(`psql failed on "${shown}": ${why}`));
      },
    );
  });
}

/** The URL without its password, for error messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(ROADPULSE_POSTGRES_URL)";
  }
}
