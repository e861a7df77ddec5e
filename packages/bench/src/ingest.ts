import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, startFerretDB, waitFor } from "@roadpulse/devstack";
import { loadConfig, startNode } from "@roadpulse/server";
import { MongoClient } from "mongodb";
import { io as connectClient, type Socket } from "socket.io-client";
import { runBenchmark } from "./lib/run.js";
import { printTable } from "./stats.js";

/**
 * `pnpm bench ingest`: end-to-end observations/s (Socket.IO `observations:submit` → durable ack) and,
 * in the same run against the same server, raw `insertMany` throughput of the same number of
 * documents with the same batch size, concurrency and write concern. Raw runs before and after the
 * end-to-end run and the two are averaged, so drift of the machine does not favour either side.
 *
 * Workload: DEVICES devices drive along 4 shared roads at 10–30 m/s, one sample a second, a pothole
 * now and then; each sends BATCHES batches of BATCH observations, one batch in flight per device.
 * Also reported: how long the aggregates (segments, hazards, daily history) took to catch up.
 *
 * Environment: MONGODB_URI (else a private FerretDB is started), DEVICES (4), BATCHES (5), BATCH (500).
 */
const DEVICES = Number(process.env.DEVICES ?? 4);
const BATCHES = Number(process.env.BATCHES ?? 5);
const BATCH = Number(process.env.BATCH ?? 500);
const DURABLE = { w: "majority" as const, j: true };

interface Sample {
  id: string;
  latitude: number;
  longitude: number;
  recordedAt: string;
  roughness: number;
  speed: number;
  heading: number;
  event?: "pothole";
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/** One device's drive: along road `road % 4` (east-west lines 300 m apart), from a random start. */
function drive(device: number, count: number): Sample[] {
  const road = device % 4;
  const lat0 = 55.67 + road * 0.0027;
  let lon = 12.5 + Math.random() * 0.02;
  const start = Date.now() - count * 1000;
  return Array.from({ length: count }, (_, i) => {
    const speed = 10 + Math.random() * 20;
    lon += speed / (111_195 * Math.cos((lat0 * Math.PI) / 180));
    // Rounded as a phone app would send them (GPS is good to metres, not nanometres).
    return {
      id: randomUUID(),
      latitude: round(lat0 + (Math.random() - 0.5) * 0.00005, 6),
      longitude: round(lon, 6),
      recordedAt: new Date(start + i * 1000).toISOString(),
      roughness: round(Math.random() * 8, 2),
      speed: round(speed, 1),
      heading: round(88 + Math.random() * 4, 1),
      ...(Math.random() < 0.002 ? { event: "pothole" as const } : {}),
    };
  });
}

function workload(): Sample[][][] {
  return Array.from({ length: DEVICES }, (_, d) => {
    const samples = drive(d, BATCHES * BATCH);
    return Array.from({ length: BATCHES }, (_, b) => samples.slice(b * BATCH, (b + 1) * BATCH));
  });
}

/** The document shape the ingest path stores, so raw inserts move the same bytes. */
function asDoc(s: Sample, device: number) {
  return {
    _id: s.id,
    userId: "0123456789abcdef01234567",
    deviceId: `bench-device-${device}`,
    latitude: s.latitude,
    longitude: s.longitude,
    recordedAt: new Date(s.recordedAt),
    receivedAt: new Date(),
    roughness: s.roughness,
    speed: s.speed,
    heading: s.heading,
    segmentId: "u3butzxb.ew",
    region: "u3but",
    counted: true,
  };
}

async function rawInsertMany(client: MongoClient, dbName: string, run: string): Promise<number> {
  const collection = client.db(dbName).collection<ReturnType<typeof asDoc>>(`raw_${run}`);
  const batches = workload();
  const started = process.hrtime.bigint();
  await Promise.all(
    batches.map(async (deviceBatches, device) => {
      for (const batch of deviceBatches) {
        await collection.insertMany(
          batch.map((s) => asDoc(s, device)),
          { ordered: false, writeConcern: DURABLE },
        );
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (DEVICES * BATCHES * BATCH) / seconds;
}

async function register(url: string, name: string): Promise<string> {
  const response = await fetch(`${url}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `${name}-${randomUUID()}@bench.test`,
      password: "bench password",
      displayName: name,
    }),
  });
  if (response.status !== 201) throw new Error(`register failed: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

async function endToEnd(
  url: string,
  client: MongoClient,
  dbName: string,
): Promise<{ acked: number; aggregated: number; acks: number }> {
  const token = await register(url, "bench");
  const deviceIds = await Promise.all(
    Array.from({ length: DEVICES }, async () => {
      const response = await fetch(`${url}/api/devices`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      if (response.status !== 201) throw new Error(`device registration failed: ${response.status}`);
      return ((await response.json()) as { deviceId: string }).deviceId;
    }),
  );
  const sockets: Socket[] = await Promise.all(
    Array.from(
      { length: DEVICES },
      (_, d) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connectClient(url, {
            auth: { token },
            query: { deviceId: deviceIds[d] },
            transports: ["websocket"],
            reconnection: false,
          });
          socket.once("connect", () => resolve(socket));
          socket.once("connect_error", reject);
        }),
    ),
  );
  const batches = workload();
  let acks = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    sockets.map(async (socket, device) => {
      for (const batch of batches[device] ?? []) {
        const ack = (await socket.timeout(120_000).emitWithAck("observations:submit", { observations: batch })) as {
          ok: boolean;
          accepted?: number;
        };
        if (!ack.ok || ack.accepted !== batch.length) throw new Error(`unexpected ack ${JSON.stringify(ack)}`);
        acks += 1;
      }
    }),
  );
  const ackedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Aggregates are done when the journal of pending batches is empty.
  const journal = client.db(dbName).collection("ingest_batches");
  await waitFor("aggregates to catch up", async () => (await journal.countDocuments()) === 0, 900_000, 50);
  const aggregatedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const socket of sockets) socket.close();
  const total = DEVICES * BATCHES * BATCH;
  return { acked: total / ackedSeconds, aggregated: total / aggregatedSeconds, acks };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-"));
  let ferret: MongoInstance | undefined;
  let baseUri = process.env.MONGODB_URI?.replace(/\/[^/]*$/, "");
  if (baseUri === undefined) {
    ferret = await startFerretDB({ dataDir: join(dir, "ferretdb"), output: join(dir, "ferretdb.log") });
    baseUri = ferret.baseUri;
  }
  const dbName = `bench_ingest_${Date.now().toString(36)}`;
  const client = new MongoClient(`${baseUri}/${dbName}`);
  const node = await startNode(
    loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_ID: "bench-node",
      REDIS_URL: "off",
      MONGODB_URI: `${baseUri}/${dbName}`,
      JWT_SECRET: "bench-secret-0123456789abcdef",
      LOG_LEVEL: "error",
    }),
  );
  const url = `http://127.0.0.1:${node.port}`;
  try {
    console.log(
      `ingest benchmark: ${DEVICES} devices × ${BATCHES} batches × ${BATCH} observations, against ${ferret ? "a private FerretDB" : baseUri}`,
    );
    const rawBefore = await rawInsertMany(client, dbName, "before");
    const e2e = await endToEnd(url, client, dbName);
    const rawAfter = await rawInsertMany(client, dbName, "after");
    const raw = (rawBefore + rawAfter) / 2;
    const ratio = (100 * e2e.acked) / raw;
    printTable(
      ["measure", "observations/s"],
      [
        ["raw insertMany (before)", rawBefore.toFixed(0)],
        ["raw insertMany (after)", rawAfter.toFixed(0)],
        ["end-to-end submit → durable ack", e2e.acked.toFixed(0)],
        ["end-to-end until aggregates caught up", e2e.aggregated.toFixed(0)],
      ],
    );
    console.log(
      `\nend-to-end keeps ${ratio.toFixed(1)}% of raw insertMany (target ≥ 80%): ${ratio >= 80 ? "met" : "NOT met"}`,
    );
    console.log(
      "aggregates (segments, hazards, daily history) follow the ack; on FerretDB 1.24 every update scans its " +
        "collection, so their catch-up rate falls as road_segments grows (see README, Road data).",
    );
  } finally {
    await node.close();
    await client
      .db(dbName)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
    await ferret?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchmark(main);
