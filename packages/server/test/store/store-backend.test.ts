import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  type MongoInstance,
  type NodeProcess,
  postgresAdminUrl,
  psql,
  startFerretDB,
  startNodeProcess,
  storeBackendFromEnv,
  waitFor,
} from "@roadpulse/devstack";
import type { SegmentSummary } from "@roadpulse/protocol";
import { MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bulkWriteInChunks, MAX_UPDATES_PER_COMMAND } from "../../src/store/durability.js";
import { connectDevice, redisUrl, register, TEST_JWT_SECRET } from "../support/env.js";
import { getJson, observation, submit } from "../support/roads.js";

// The suite runs on one FerretDB backend (TEST_STORE_BACKEND, SQLite unless set); this file runs a
// node process, as the local cluster does, on the other one, so both backends stay working.
const suiteBackend = storeBackendFromEnv("sqlite", "TEST_STORE_BACKEND");
const other = suiteBackend === "sqlite" ? "postgresql" : "sqlite";

describe(`a cluster node on FerretDB's ${other} backend`, () => {
  const dir = mkdtempSync(join(tmpdir(), `roadpulse-store-${other}-`));
  let store: MongoInstance | undefined;
  let node: NodeProcess | undefined;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    store = await startFerretDB({ dataDir: join(dir, "ferretdb"), output: join(dir, "ferretdb.log"), backend: other });
    node = await startNodeProcess({
      nodeId: `store-${other}`,
      port: await freePort(),
      env: {
        HOST: "127.0.0.1",
        REDIS_URL: redisUrl(),
        MONGODB_URI: `${store.baseUri}/roadpulse`,
        JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: "warn",
      },
      output: join(dir, "node.log"),
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await node?.service.stop("SIGTERM", 10_000);
    await store?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("acks and stores a batch once, and serves the segment it falls on", async () => {
    const url = node?.url as string;
    const account = await register(url, `on-${other}`);
    const socket = await connectDevice(url, account.token);
    sockets.push(socket);
    const batch = Array.from({ length: 20 }, (_, i) => observation({ roughness: 2 + (i % 3) }));
    expect(await submit(socket, batch)).toEqual({ ok: true, accepted: 20, duplicates: 0, rejected: [] });
    // The resend is recognised by the store's unique _id on this backend too.
    expect(await submit(socket, batch)).toEqual({ ok: true, accepted: 0, duplicates: 20, rejected: [] });

    const client = new MongoClient(`${store?.baseUri}/roadpulse`, { serverSelectionTimeoutMS: 10_000 });
    try {
      const ids = batch.map((o) => o.id);
      expect(
        await client
          .db()
          .collection("observations")
          .countDocuments({ _id: { $in: ids } as never }),
      ).toBe(20);
    } finally {
      await client.close();
    }

    const segment = await waitFor(
      "the segment to count the batch",
      async () => {
        const { status, body } = await getJson<SegmentSummary>(`${url}/api/segments/u3butzxb.ew`);
        return status === 200 && body.samples >= 20 ? body : undefined;
      },
      30_000,
      100,
    );
    expect(segment).toMatchObject({ id: "u3butzxb.ew", samples: 20, count: 20, devices: 1 });
    // 2, 3, 4, 2, 3, 4, …: seven 2s, seven 3s, six 4s.
    expect(segment.meanIri).toBeCloseTo((7 * 2 + 7 * 3 + 6 * 4) / 20, 6);
  });

  it("answers the aggregator's chunked bulk updates of existing documents, several at once", async () => {
    // FerretDB holds a backend connection per updateOne statement until its command ends: chunks
    // too big for its pool never answer (see durability.ts). Three writers at once, as nodes do.
    const client = new MongoClient(`${store?.baseUri}/roadpulse`, { serverSelectionTimeoutMS: 10_000 });
    try {
      const collection = client.db().collection<{ _id: number; n: number }>("chunked_updates");
      // Each writer its own documents: FerretDB's updates are read-modify-write, so concurrent
      // updates of one document can lose each other's increments (not what this test is about).
      const perWriter = 3 * MAX_UPDATES_PER_COMMAND;
      await collection.insertMany(Array.from({ length: 3 * perWriter }, (_, i) => ({ _id: i, n: 0 })));
      const writers = Promise.all(
        [0, 1, 2].map((w) =>
          bulkWriteInChunks(
            collection,
            Array.from({ length: perWriter }, (_, i) => ({
              updateOne: { filter: { _id: w * perWriter + i }, update: { $inc: { n: 1 } } },
            })),
            { ordered: false },
          ),
        ),
      );
      const answered = await Promise.race([
        writers.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000).unref()),
      ]);
      expect(answered).toBe(true);
      expect(await collection.countDocuments({ n: 1 })).toBe(3 * perWriter);
    } finally {
      await client.close(true);
    }
  });

  it.runIf(other === "postgresql")("drops its PostgreSQL database when the store stops", async () => {
    const name = store?.postgresDatabase as string;
    const exists = async () =>
      (await psql(postgresAdminUrl(), `SELECT count(*) FROM pg_database WHERE datname = '${name}'`)).trim();
    expect(name).toMatch(/^roadpulse_\d+_[0-9a-f]{8}$/);
    expect(await exists()).toBe("1");
    await node?.service.stop("SIGTERM", 10_000);
    await store?.stop();
    store = undefined;
    expect(await exists()).toBe("0");
  });
});
