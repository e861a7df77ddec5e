import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { STORE_BACKENDS, type StoreBackend, startFerretDB } from "@roadpulse/devstack";
import { type FoldWrite, writeFoldsReturning } from "@roadpulse/server";
import { type Collection, MongoClient, ObjectId } from "mongodb";
import { cpuSeconds, postgresCpuSeconds } from "./lib/proc-cpu.js";
import { runBenchmark } from "./lib/run.js";
import { observationDoc } from "./raw-insert.js";

/**
 * `pnpm bench store-ops`: what one command of each kind the nodes send costs the local store, in
 * CPU per document, with nothing of RoadPulse around it. Per garbage-collector target of FerretDB
 * (`ROADPULSE_STORE_GOGC`, alternating, --rounds times): a fresh FerretDB on --backend, a
 * `road_segments`-like collection of --documents segments, then for --seconds each:
 *
 * - `insertMany` of 200 observation documents per call (the group commit's insert), --clients at once;
 * - `findOne` by `_id`, --clients at once;
 * - a fold round: `writeFoldsReturning` (the aggregator's own segment upserts, store/folds.ts) of
 *   200 existing segments per round, one round at a time (it runs its own writes in parallel).
 *
 * CPU per document is FerretDB's (its process), PostgreSQL's (every `postgres` process of the
 * machine: run it on an otherwise idle server) and this client's (the driver's share, as a node
 * would spend it). Writes bench/results/store-ops.json and store-ops.md.
 *
 * Flags: --backend postgresql  --gogc 100,400  --rounds 2  --documents 20000  --seconds 8  --clients 4
 */
const ROOT = resolve(new URL("../../..", import.meta.url).pathname);
const RESULTS = join(ROOT, "bench/results");
const DURABLE = { w: "majority" as const, j: true };
const INSERT_BATCH = 200;
const FOLD_ROUND = 200;

const args = parseArgs({
  args: process.argv.slice(2),
  options: {
    backend: { type: "string", default: "postgresql" },
    gogc: { type: "string", default: "100,400" },
    rounds: { type: "string", default: "2" },
    documents: { type: "string", default: "20000" },
    seconds: { type: "string", default: "8" },
    clients: { type: "string", default: "4" },
  },
});
const backend = args.values.backend as StoreBackend;
if (!STORE_BACKENDS.includes(backend)) throw new Error(`--backend must be one of ${STORE_BACKENDS.join(", ")}`);
const targets = (args.values.gogc as string).split(",").map((v) => v.trim());
const rounds = Number(args.values.rounds);
const documents = Number(args.values.documents);
const seconds = Number(args.values.seconds);
const clients = Number(args.values.clients);

interface Row {
  gogc: string;
  round: number;
  operation: string;
  docsPerSecond: number;
  ferretMsPerDoc: number;
  postgresMsPerDoc: number;
  clientMsPerDoc: number;
  ferretPeakRssMb: number;
}

function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

/** A document keyed by a string `_id`, as a segment is (by its segment key). */
interface Keyed {
  _id: string;
  [field: string]: unknown;
}

function segment(id: string): Keyed {
  const at = new Date();
  return {
    _id: id,
    geohash: id.slice(0, 8),
    axis: "ew",
    latitude: 28.61,
    longitude: 77.2,
    region: id.slice(0, 5),
    samples: 12,
    count: 11,
    sum: 13.2,
    sumSquares: 18.4,
    devices: ["device-1", "device-2", "device-3"],
    firstObservedAt: at,
    lastObservedAt: at,
    updatedAt: at,
    folds: { l1: 1 },
  };
}

/** Runs `op` back to back on `parallel` callers for `seconds`; CPU per document it reports done. */
async function measure(
  pid: number,
  parallel: number,
  op: () => Promise<number>,
): Promise<Omit<Row, "gogc" | "round" | "operation">> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const [f0, p0, c0, t0] = [cpuSeconds(pid), postgresCpuSeconds(), process.cpuUsage(), Date.now()];
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (Date.now() < until) done += await op();
    }),
  );
  const elapsed = (Date.now() - t0) / 1000;
  const client = process.cpuUsage(c0);
  const perDoc = (cpu: number) => Number(((1000 * cpu) / Math.max(1, done)).toFixed(3));
  return {
    docsPerSecond: Math.round(done / elapsed),
    ferretMsPerDoc: perDoc(cpuSeconds(pid) - f0),
    postgresMsPerDoc: backend === "postgresql" ? perDoc(postgresCpuSeconds() - p0) : 0,
    clientMsPerDoc: perDoc((client.user + client.system) / 1e6),
    ferretPeakRssMb: peakRssMb(pid),
  };
}

async function oneStore(gogc: string, round: number, dir: string): Promise<Row[]> {
  process.env.ROADPULSE_STORE_GOGC = gogc;
  const store = await startFerretDB({ dataDir: join(dir, `${gogc}-${round}`), output: "ignore", backend });
  const client = new MongoClient(`${store.baseUri}/bench`, { maxPoolSize: 32 });
  try {
    await client.connect();
    const db = client.db("bench");
    const segments: Collection<Keyed> = db.collection<Keyed>("road_segments");
    const ids = Array.from({ length: documents }, (_, i) => `ttnf${String(i).padStart(6, "0")}.ew`);
    for (let start = 0; start < ids.length; start += 500) {
      await segments.insertMany(ids.slice(start, start + 500).map(segment), { writeConcern: DURABLE });
    }
    const pid = store.service?.pid as number;
    const rows: Row[] = [];
    const add = (operation: string, result: Omit<Row, "gogc" | "round" | "operation">) => {
      rows.push({ gogc, round, operation, ...result });
      console.log(`GOGC=${gogc} round ${round} ${operation}: ${JSON.stringify(result)}`);
    };
    // Each call is one group commit: its documents share a batch id, as the nodes' do.
    const observations = db.collection("observations");
    add(
      `insertMany ${INSERT_BATCH} observations`,
      await measure(pid, clients, async () => {
        const batch = new ObjectId();
        await observations.insertMany(
          Array.from({ length: INSERT_BATCH }, () => observationDoc(batch)),
          {
            writeConcern: DURABLE,
            ordered: false,
          },
        );
        return INSERT_BATCH;
      }),
    );
    let next = 0;
    const anId = () => ids[(next++ * 7919) % ids.length] as string;
    add(
      "findOne by _id",
      await measure(pid, clients, async () => {
        await segments.findOne({ _id: anId() });
        return 1;
      }),
    );
    let seq = 1;
    add(
      `fold round of ${FOLD_ROUND} segment upserts`,
      await measure(pid, 1, async () => {
        seq += 1;
        const writes: FoldWrite[] = Array.from({ length: FOLD_ROUND }, () => ({
          id: anId(),
          update: {
            $inc: { samples: 5, count: 5, sum: 6.1, sumSquares: 8.3 },
            $max: { lastObservedAt: new Date() },
            $set: { updatedAt: new Date() },
            $addToSet: { devices: { $each: ["device-4"] } },
          },
        }));
        const unique = [...new Map(writes.map((w) => [w.id, w])).values()];
        await writeFoldsReturning(segments, unique, { lane: 2, seq });
        return unique.length;
      }),
    );
    return rows;
  } finally {
    await client.close();
    await store.stop();
  }
}

function writeResults(rows: Row[]): void {
  mkdirSync(RESULTS, { recursive: true });
  const at = new Date().toISOString();
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? "?", node: process.version };
  const settings = { backend, documents, seconds, clients, insertBatch: INSERT_BATCH, foldRound: FOLD_ROUND };
  writeFileSync(join(RESULTS, "store-ops.json"), `${JSON.stringify({ at, machine, settings, rows }, null, 2)}\n`);
  const lines = [
    `\`pnpm bench store-ops\`, ${at.slice(0, 16)}Z, ${machine.cores} × ${machine.cpu}, Node ${machine.node}; ` +
      `FerretDB on ${backend}, ${documents} segments, ${seconds} s per operation, ${clients} clients ` +
      "(the fold round: one at a time, its own 8 writes in flight). CPU in ms per document.",
    "",
    "| GOGC | round | operation | docs/s | FerretDB ms | PostgreSQL ms | client ms | total ms | FerretDB peak RSS MB |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.gogc} | ${r.round} | ${r.operation} | ${r.docsPerSecond.toLocaleString("en-US")} | ${r.ferretMsPerDoc} | ` +
        `${r.postgresMsPerDoc} | ${r.clientMsPerDoc} | ${(r.ferretMsPerDoc + r.postgresMsPerDoc + r.clientMsPerDoc).toFixed(2)} | ` +
        `${r.ferretPeakRssMb} |`,
    ),
  ];
  writeFileSync(join(RESULTS, "store-ops.md"), `${lines.join("\n")}\n`);
}

runBenchmark(async () => {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-store-ops-"));
  const rows: Row[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      // Alternating targets within a round, so a drift of the machine's load hits both alike.
      for (const gogc of round % 2 === 1 ? targets : [...targets].reverse()) {
        rows.push(...(await oneStore(gogc, round, dir)));
      }
    }
    writeResults(rows);
    console.log(readFileSync(join(RESULTS, "store-ops.md"), "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
