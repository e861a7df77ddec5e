import { afterAll, describe, expect, it } from "vitest";
import { INDEXES } from "../../src/store/indexes.js";
import { MongoConnection } from "../../src/store/mongo.js";
import { capturingLogger, dropDatabase, mongoUri, uniqueDbName } from "../support/env.js";

/**
 * Every start runs the index set again: against a database whose indexes exist (a second worker,
 * a restarted node, another node of the cluster) that must be a quiet no-op, also when two
 * processes start at once. On FerretDB 1.24 a command naming several existing indexes used to drop
 * the connection, so every start but the first never got its indexes ready.
 */
describe("index creation at start", () => {
  const dbName = uniqueDbName("indexes");
  const uri = mongoUri(dbName);
  const connections: MongoConnection[] = [];

  afterAll(async () => {
    for (const connection of connections) await connection.close();
    await dropDatabase(uri);
  });

  const start = async (): Promise<{ connection: MongoConnection; lines: Array<Record<string, unknown>> }> => {
    const { log, lines } = capturingLogger("indexes");
    const connection = new MongoConnection(uri, dbName, "roadpulse:indexes-test", log);
    connections.push(connection);
    await connection.start();
    return { connection, lines };
  };

  it("is ready at every start against the same database, one after the other and at once", async () => {
    const first = await start();
    expect(first.connection.indexesReady).toBe(true);
    for (const again of [await start(), ...(await Promise.all([start(), start()]))]) {
      expect(again.connection.indexesReady).toBe(true);
      expect(again.lines.filter((line) => line.level === 40)).toEqual([]);
    }
    const names = await first.connection.db.collection("hazards").indexes();
    expect(names.map((index) => index.name).sort()).toEqual(
      ["_id_", ...(INDEXES.hazards ?? []).map((i) => i.name)].sort(),
    );
  });
});
