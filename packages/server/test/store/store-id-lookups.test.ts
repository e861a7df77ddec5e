import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, postgresAdminUrl, psql, startFerretDB, waitFor } from "@roadpulse/devstack";
import { type Collection, MongoClient, ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metrics } from "../../src/metrics/registry.js";
import { type HazardDoc, HazardsRepository } from "../../src/store/hazards.js";

/**
 * The local store on PostgreSQL (the local cluster's default): a read or update by `_id` is an index
 * lookup, not a scan of the collection's table, however many documents the collection holds
 * (packages/devstack/sql/ferretdb-id-lookups.sql). Checked with PostgreSQL's own scan counters.
 */
describe("FerretDB on PostgreSQL: reads by _id", () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-id-lookups-"));
  let store: MongoInstance | undefined;
  let client: MongoClient | undefined;

  const start = (port?: number) =>
    startFerretDB({
      ...(port === undefined ? {} : { port }),
      dataDir: join(dir, "ferretdb"),
      output: join(dir, "ferretdb.log"),
      backend: "postgresql",
    });
  const connect = async (instance: MongoInstance) => {
    await client?.close();
    client = new MongoClient(`${instance.baseUri}/idlookups`, { serverSelectionTimeoutMS: 10_000 });
    return client.db();
  };
  /** The database's URL for psql, and the PostgreSQL table FerretDB keeps `collection` in. */
  const database = () => {
    const url = new URL(postgresAdminUrl());
    url.pathname = `/${store?.postgresDatabase}`;
    return url.toString();
  };
  const tableOf = async (collection: string) =>
    (
      await psql(
        database(),
        `SELECT relname FROM pg_stat_user_tables WHERE schemaname = 'idlookups' AND relname LIKE '${collection}\\_%'`,
      )
    ).trim();
  /** Sequential and index scans of a table so far (PostgreSQL's statistics). */
  const scans = async (table: string) => {
    const [seq, idx] = (
      await psql(
        database(),
        `SELECT seq_scan || ',' || coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = '${table}'`,
      )
    )
      .trim()
      .split(",")
      .map(Number) as [number, number];
    return { seq, idx };
  };
  /** The table's scan counts once PostgreSQL has counted `count` more index scans than `before`. */
  const indexScans = async (table: string, before: { idx: number }, count: number) =>
    await waitFor(
      `PostgreSQL to count ${count} index scans`,
      async () => {
        const now = await scans(table);
        return now.idx - before.idx >= count ? now : false;
      },
      30_000,
      250,
    );
  /** Pages the GIN index held in its pending list (read in full by every search), folded in by this call. */
  const pendingPages = async (index: string) =>
    Number((await psql(database(), `SELECT gin_clean_pending_list('idlookups."${index}"'::regclass)`)).trim());
  const fastupdateOff = async (index: string) =>
    (
      await psql(
        database(),
        `SELECT coalesce(reloptions, '{}') @> ARRAY['fastupdate=off'] FROM pg_class WHERE relname = '${index}'`,
      )
    ).trim() === "t";
  /**
   * 20 findOne and 20 upserts by _id on a collection of 3,000 documents, more than five executions
   * of each of FerretDB's prepared statements (past PostgreSQL's switch to a generic plan): the
   * table scans they cost. Each is an index scan when the read uses an index (a findOne one, an
   * upsert two: its read and its write by the btree); without, the 40 reads are sequential scans
   * and only the 20 writes are index scans, so the 60 never come. A backend reports its counts
   * within seconds of going idle; the table's creation (its two index builds) may be counted late,
   * as two sequential scans.
   */
  const lookups = async (segments: Collection<{ _id: string; n: number }>) => {
    const table = await tableOf(segments.collectionName);
    expect(table).not.toBe("");
    const before = await scans(table);
    for (let i = 0; i < 20; i++) {
      expect(await segments.findOne({ _id: `s${i * 137}` })).toMatchObject({ _id: `s${i * 137}` });
      await segments.updateOne({ _id: `s${i * 149}` }, { $inc: { n: 1 } }, { upsert: true });
    }
    return (await indexScans(table, before, 60)).seq - before.seq;
  };

  beforeAll(async () => {
    store = await start();
  });
  afterAll(async () => {
    await client?.close();
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds and updates by _id through an index, on new and re-created collections", async () => {
    const db = await connect(store as MongoInstance);
    const segments = db.collection<{ _id: string; n: number }>("segments");
    const docs = Array.from({ length: 3_000 }, (_, i) => ({ _id: `s${i}`, n: 1 }));
    await segments.insertMany(docs);
    expect(await lookups(segments)).toBeLessThanOrEqual(2);

    // A collection FerretDB creates again (a new table) gets the index too.
    await segments.drop();
    await segments.insertMany(docs);
    expect(await lookups(segments)).toBeLessThanOrEqual(2);
  });

  it("keeps no pending list: new segments are in the index at once, not in a list every lookup reads", async () => {
    const table = await tableOf("segments");
    const segments = (await connect(store as MongoInstance)).collection<{ _id: string; n: number }>("segments");
    await segments.insertMany(Array.from({ length: 2_000 }, (_, i) => ({ _id: `new${i}`, n: 1 })));
    expect(await fastupdateOff(`${table}_id_gin`)).toBe(true);
    // gin_clean_pending_list answers how many pending pages it folded in: none were left pending.
    expect(await pendingPages(`${table}_id_gin`)).toBe(0);
  });

  it("finds the open hazards of a cell through an index, not by reading every hazard", async () => {
    const db = await connect(store as MongoInstance);
    const repository = new HazardsRepository(db, new Metrics("test-node", "0.0.0"));
    const hazards = db.collection<HazardDoc>("hazards");
    const at = new Date();
    const hazard = (i: number): HazardDoc => ({
      _id: new ObjectId(),
      type: i % 2 === 0 ? "pothole" : "bump",
      latitude: 52,
      longitude: 5,
      cell: `c${i % 1_500}`,
      region: "u1hcy",
      status: "reported",
      reporters: ["a"],
      reports: 1,
      fixVotes: {},
      firstReportedAt: at,
      lastSeenAt: at,
      updatedAt: at,
    });
    await hazards.insertMany(Array.from({ length: 3_000 }, (_, i) => hazard(i)));
    const table = await tableOf("hazards");
    const before = await scans(table);
    for (let i = 0; i < 10; i++) {
      const found = await repository.openNear("pothole", [`c${i * 2}`, `c${i * 2 + 2}`, "c-none"]);
      // Cells c0, c2, … hold two potholes each (i and i + 1,500).
      expect(found.map((doc) => doc.cell).sort()).toEqual(
        [`c${i * 2}`, `c${i * 2}`, `c${i * 2 + 2}`, `c${i * 2 + 2}`].sort(),
      );
    }
    const after = await indexScans(table, before, 30);
    // Without the index each of the 30 reads scans the table. The new table's three index builds
    // (FerretDB's and the two GIN ones) may be counted late, as sequential scans.
    expect(after.seq - before.seq).toBeLessThanOrEqual(3);
  });

  it("gives the index to tables of a database made before it existed, at the store's next start", async () => {
    const table = await tableOf("segments");
    await psql(database(), `DROP INDEX idlookups."${table}_id_gin"`);
    // An index made before they were kept without a pending list keeps one until the next start.
    const hazardsIndex = `${await tableOf("hazards")}_cell_gin`;
    await psql(database(), `ALTER INDEX idlookups."${hazardsIndex}" SET (fastupdate = on)`);
    const port = store?.port as number;
    await client?.close();
    client = undefined;
    await store?.service?.stop("SIGTERM", 5_000);
    store = await start(port);
    const segments = (await connect(store)).collection<{ _id: string; n: number }>("segments");
    expect(await lookups(segments)).toBeLessThanOrEqual(2);
    expect(await fastupdateOff(hazardsIndex)).toBe(true);
  });
});
