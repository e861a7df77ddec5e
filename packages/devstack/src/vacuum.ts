import { psql } from "./postgres.js";

export interface StoreVacuumOptions {
  /** How often the tables' dead rows are looked at. */
  intervalMs?: number;
  /** Where a failed pass is reported (it is tried again at the next interval). */
  log?: (line: string) => void;
}

/** A VACUUM of a big table takes seconds on a busy machine; it is bounded all the same. */
const VACUUM_TIMEOUT_MS = 120_000;

/**
 * Keeps a store database on PostgreSQL vacuumed when the server's own autovacuum is off (as on
 * machines whose PostgreSQL is configured for throwaway CI data). FerretDB rewrites a document's
 * whole row on every update and the store's hot collections are updated or deleted all the time
 * (segments at every aggregation round, the ingest journal at every group), so without VACUUM their
 * dead rows pile up without end and every read through an index wades through them: measured on
 * the local cluster after a 3-minute, 300-device run, `road_segments` held 30,721 dead rows for
 * 40,580 live ones and `ingest_batches` 26,404 dead for none live; the next 100-device run had
 * observation acks at p99 367 ms and pushes 22 s late, and after one VACUUM 116 ms and 2.9 s.
 *
 * Statistics too: a table never analyzed has none, and the planner then guessed that a lookup of
 * one observation by `_id` would match 176,113 of 900,000 rows and chose a parallel scan with JIT
 * compilation: 174 ms per lookup instead of well under one (`EXPLAIN ANALYZE` on the local store
 * after a 10-minute soak; the simulator's check of acked ids then managed 160 lookups a second).
 *
 * When autovacuum is on, PostgreSQL does this itself and this does nothing. Otherwise, every
 * interval, it does what autovacuum would with its default settings: VACUUM (ANALYZE) of the
 * tables with more than 50 + 20 % dead rows or 1,000 + 20 % rows inserted since their last vacuum,
 * ANALYZE of those with more than 50 + 10 % rows changed since their last analyze; one pass at a
 * time. Neither takes a lock that stops reads or writes.
 */
export class StoreVacuum {
  readonly #intervalMs: number;
  readonly #log: (line: string) => void;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Tables vacuumed (and analyzed) so far by this instance. */
  vacuumed = 0;
  /** Tables only analyzed so far by this instance. */
  analyzed = 0;

  constructor(
    /** A psql URL of the database (no FerretDB pool parameters). */
    private readonly databaseUrl: string,
    options: StoreVacuumOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#log = options.log ?? ((line) => console.error(`[store vacuum] ${line}`));
  }

  /** Starts the passes unless the server vacuums by itself; tells which it is. */
  async start(): Promise<"server" | "ours"> {
    const setting = (await psql(this.databaseUrl, "SHOW autovacuum")).trim();
    if (setting === "on") return "server";
    this.#timer = setInterval(() => void this.pass(), this.#intervalMs);
    this.#timer.unref();
    return "ours";
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** One pass now (the timer's, or a caller's); resolves when it has ended. */
  pass(): Promise<void> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<void> {
    if (this.#stopped) return;
    try {
      // autovacuum's own default thresholds: dead rows (updates, deletes), rows inserted since the
      // last vacuum (an insert-only table needs one too: it cleans the pending list of its GIN
      // index and lets reads skip the heap), and rows changed since the last ANALYZE.
      const rows = (
        await psql(
          this.databaseUrl,
          "SELECT name || CASE WHEN needs_vacuum THEN ' vacuum' ELSE ' analyze' END FROM (SELECT " +
            "format('%I.%I', schemaname, relname) AS name, " +
            "n_dead_tup > 50 + 0.2 * n_live_tup OR n_ins_since_vacuum > 1000 + 0.2 * n_live_tup AS needs_vacuum, " +
            "n_mod_since_analyze > 50 + 0.1 * n_live_tup AS needs_analyze FROM pg_stat_user_tables) AS due " +
            "WHERE needs_vacuum OR needs_analyze",
        )
      )
        .split("\n")
        .map((line) => line.trim().split(" "))
        .filter((fields): fields is [string, string] => fields.length === 2);
      const vacuum = rows.filter(([, what]) => what === "vacuum").map(([table]) => table);
      const analyze = rows.filter(([, what]) => what === "analyze").map(([table]) => table);
      if (this.#stopped) return;
      if (vacuum.length > 0) {
        await psql(this.databaseUrl, `VACUUM (ANALYZE) ${vacuum.join(", ")}`, { timeoutMs: VACUUM_TIMEOUT_MS });
      }
      if (analyze.length > 0) {
        await psql(this.databaseUrl, `ANALYZE ${analyze.join(", ")}`, { timeoutMs: VACUUM_TIMEOUT_MS });
      }
      this.vacuumed += vacuum.length;
      this.analyzed += analyze.length;
    } catch (error) {
      // A table dropped meanwhile, or PostgreSQL away: the next pass tries again.
      if (!this.#stopped) this.#log(`vacuum pass failed: ${(error as Error).message}`);
    }
  }
}
