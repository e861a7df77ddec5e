import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, postgresAdminUrl, psql, StoreVacuum, startFerretDB, waitFor } from "@roadpulse/devstack";
import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The local store on PostgreSQL sheds the dead rows its updates and deletes leave, even where the
 * server's autovacuum is off (packages/devstack/src/vacuum.ts): without it, every index read of a
 * hot collection wades through more and more of them. Checked with PostgreSQL's own statistics.
 */
describe("FerretDB on PostgreSQL: dead rows are vacuumed", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-vacuum-"));
  let store: MongoInstance | undefined;
  let client: MongoClient | undefined;
  let db: Db;

  const database = () => {
    const url = new URL(postgresAdminUrl());
    url.pathname = `/${store?.postgresDatabase}`;
    return url.toString();
  };
  /** PostgreSQL's table for `collection`, and its dead rows and vacuums so far. */
  const stats = async (collection: string) => {
    const row = (
      await psql(
        database(),
        "SELECT relname || ',' || n_dead_tup || ',' || (vacuum_count + autovacuum_count) FROM pg_stat_user_tables " +
          `WHERE schemaname = 'vacuum' AND relname LIKE '${collection}\\_%'`,
      )
    ).trim();
    const [table = "", dead = "0", vacuums = "0"] = row.split(",");
    return { table, dead: Number(dead), vacuums: Number(vacuums) };
  };
  /** 400 documents inserted, all updated once, then all deleted: 800 dead rows, none live. */
  const churn = async (collection: string) => {
    const docs = db.collection<{ _id: string; n: number }>(collection);
    await docs.insertMany(Array.from({ length: 400 }, (_, i) => ({ _id: `d${i}`, n: 0 })));
    await docs.updateMany({}, { $inc: { n: 1 } });
    await docs.deleteMany({});
    // A backend reports its counts shortly after its transactions; wait until they show.
    return await waitFor(
      `PostgreSQL to count the dead rows of ${collection}`,
      async () => {
        const now = await stats(collection);
        return now.dead >= 400 ? now : false;
      },
      15_000,
      250,
    );
  };

  beforeAll(async () => {
    store = await startFerretDB({
      dataDir: join(dir, "ferretdb"),
      output: join(dir, "ferretdb.log"),
      backend: "postgresql",
    });
    client = new MongoClient(`${store.baseUri}/vacuum`, { serverSelectionTimeoutMS: 10_000 });
    db = client.db();
  });
  afterAll(async () => {
    await client?.close();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs `work` on a database of its own, dropped afterwards: no store runs on it, so no other
   * vacuum can get to its tables first. `stat(table, columns)` reads PostgreSQL's statistics.
   */
  const withScratchDatabase = async (
    work: (url: string, stat: (table: string, columns: string) => Promise<number[]>) => Promise<void>,
  ) => {
    const name = `roadpulse_vacuum_${process.pid}_${Date.now()}`;
    const admin = postgresAdminUrl();
    await psql(admin, `CREATE DATABASE "${name}"`);
    const url = new URL(admin);
    url.pathname = `/${name}`;
    const scratch = url.toString();
    const stat = async (table: string, columns: string) =>
      (await psql(scratch, `SELECT concat_ws(',', ${columns}) FROM pg_stat_user_tables WHERE relname = '${table}'`))
        .trim()
        .split(",")
        .map(Number);
    try {
      await work(scratch, stat);
    } finally {
      await psql(admin, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  };

  it("vacuums the tables past autovacuum's threshold, and leaves the work to the server when its autovacuum is on", async () => {
    await withScratchDatabase(async (scratch, stat) => {
      await psql(scratch, "CREATE TABLE churn (id int PRIMARY KEY, n int)");
      await psql(scratch, "INSERT INTO churn SELECT i, 0 FROM generate_series(1, 400) i");
      await psql(scratch, "UPDATE churn SET n = n + 1");
      await psql(scratch, "DELETE FROM churn");
      const counts = () => stat("churn", "n_dead_tup, vacuum_count");
      await waitFor("PostgreSQL to count the dead rows", async () => ((await counts())[0] ?? 0) >= 400, 15_000, 250);

      const vacuum = new StoreVacuum(scratch, { intervalMs: 3_600_000 });
      const serverVacuums = (await psql(scratch, "SHOW autovacuum")).trim() === "on";
      expect(await vacuum.start()).toBe(serverVacuums ? "server" : "ours");
      await vacuum.pass();
      await vacuum.stop();
      expect(vacuum.vacuumed).toBe(1);
      const [dead, vacuums] = await waitFor(
        "the vacuum to show in the statistics",
        async () => {
          const now = await counts();
          return (now[1] ?? 0) >= 1 ? now : false;
        },
        15_000,
        250,
      );
      expect(vacuums).toBe(1);
      expect(dead).toBe(0);
    });
  });

  it("vacuums and analyzes an insert-only table, so the planner knows its size", async () => {
    await withScratchDatabase(async (scratch, stat) => {
      await psql(scratch, "CREATE TABLE log (id int PRIMARY KEY, n int)");
      await psql(scratch, "INSERT INTO log SELECT i, 0 FROM generate_series(1, 3000) i");
      const counts = () => stat("log", "n_ins_since_vacuum, vacuum_count, analyze_count");
      await waitFor("PostgreSQL to count the inserts", async () => ((await counts())[0] ?? 0) >= 3000, 15_000, 250);
      // Never vacuumed nor analyzed: the planner does not know how many rows there are.
      const rows = async () => (await psql(scratch, "SELECT reltuples FROM pg_class WHERE relname = 'log'")).trim();
      expect(await rows()).toBe("-1");

      const vacuum = new StoreVacuum(scratch, { intervalMs: 3_600_000 });
      await vacuum.pass();
      expect(vacuum.vacuumed).toBe(1);
      await waitFor(
        "the vacuum and analyze to show in the statistics",
        async () => {
          const [, vacuums = 0, analyzes = 0] = await counts();
          return vacuums >= 1 && analyzes >= 1;
        },
        15_000,
        250,
      );
      expect(await rows()).toBe("3000");
    });
  });

  it("keeps the local store's tables vacuumed without being asked", async () => {
    const before = await churn("segments");
    // The store's own vacuum passes every 10 s, or the server's autovacuum every minute.
    const after = await waitFor(
      "the dead rows of a churned collection to be vacuumed",
      async () => {
        const now = await stats("segments");
        return now.vacuums > before.vacuums && now.dead < 50 ? now : false;
      },
      150_000,
      1_000,
    );
    expect(after.table).toBe(before.table);
  });
});
