import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisInstance, startRedisServer } from "@roadpulse/devstack";
import { applyLocation, Keys, newSession, RedisPresenceStore, type Session } from "@roadpulse/server";
import { Redis } from "ioredis";
import { formatMs, printTable, Samples } from "./stats.js";

/**
 * `pnpm bench presence`: latency and throughput of the three presence operations the seed promises
 * under a millisecond, through the node's own code (RedisPresenceStore), against a local
 * redis-server started for the run (or `--redis-url redis://127.0.0.1:6379/N`: a database number
 * of your own; the bench deletes only the keys it wrote).
 *
 * - session write: the `location:update` MULTI (session, heartbeat, user set, region set, node set,
 *   with their TTLs), one round trip;
 * - session read:  GET session:{socketId} and JSON parse;
 * - region query:  SMEMBERS region:{regionId}:members of a region with 20 members.
 *
 * A node serves many sockets at once, so requests are issued by `--concurrency` independent
 * workers sharing one connection (ioredis pipelines them on the socket), as a node would.
 */

interface Options {
  redisUrl: string | undefined;
  sessions: number;
  ops: number;
  concurrency: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { redisUrl: undefined, sessions: 10_000, ops: 100_000, concurrency: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ""];
    if (flag === "--redis-url") options.redisUrl = value;
    else if (flag === "--sessions") options.sessions = Number(value);
    else if (flag === "--ops") options.ops = Number(value);
    else if (flag === "--concurrency") options.concurrency = Number(value);
    else throw new Error(`unknown option ${flag} (use --redis-url, --sessions, --ops, --concurrency)`);
  }
  return options;
}

const NODE_ID = `bench-${process.pid}`;
const MEMBERS_PER_REGION = 20;
const DELHI = { latitude: 28.7037, longitude: 77.2079 };

/** Sessions spread over a grid of cells around Delhi, 20 per cell. */
function makeSessions(count: number): Session[] {
  const now = new Date();
  return Array.from({ length: count }, (_, i) => {
    const cell = Math.floor(i / MEMBERS_PER_REGION);
    const base = newSession({
      socketId: `bench${process.pid}-${i.toString(36).padStart(6, "0")}`,
      userId: i.toString(16).padStart(24, "0"),
      nodeId: NODE_ID,
      userAgent: "mobile-app/1.0",
      connectedAt: now.toISOString(),
    });
    const position = {
      latitude: DELHI.latitude + (cell % 50) * 0.006,
      longitude: DELHI.longitude + Math.floor(cell / 50) * 0.012,
    };
    return applyLocation(base, position, 6, now).session;
  });
}

/** Runs `op` `total` times from `concurrency` workers; returns per-op latency and wall time. */
async function measure(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ samples: Samples; seconds: number }> {
  const samples = new Samples();
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await op(i);
        samples.add(Number(process.hrtime.bigint() - t0));
      }
    }),
  );
  return { samples, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  let server: RedisInstance | undefined;
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-"));
  let url = options.redisUrl;
  if (url === undefined) {
    server = await startRedisServer({ dir, output: "ignore" });
    url = server.url;
  }
  const redis = new Redis(url);
  const store = new RedisPresenceStore(redis, { session: 3600, heartbeat: 300, nodeLiveness: 10 }, NODE_ID);
  const sessions = makeSessions(options.sessions);
  const regions = [...new Set(sessions.map((s) => s.currentRegionId ?? ""))];
  const pick = (i: number) => sessions[(i * 7919) % sessions.length] as Session;

  try {
    // Fill Redis with the sessions the reads will hit, and warm up connection and caches.
    await store.upsertMany(sessions, () => [], Date.now());
    await measure(5_000, options.concurrency, (i) => store.session(pick(i).socketId));

    const write = await measure(options.ops, options.concurrency, (i) => store.upsert(pick(i), [], Date.now()));
    const read = await measure(options.ops, options.concurrency, async (i) => {
      const session = await store.session(pick(i).socketId);
      if (session === null) throw new Error("session missing");
    });
    const query = await measure(options.ops, options.concurrency, async (i) => {
      const members = await redis.smembers(Keys.regionMembers(regions[i % regions.length] ?? ""));
      if (members.length !== MEMBERS_PER_REGION) throw new Error(`expected ${MEMBERS_PER_REGION} members`);
    });

    const info = await redis.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    console.log(
      `presence bench: Redis ${version} at ${url.replace(/\/\/[^@]*@/, "//")}, ${options.sessions} sessions in ` +
        `${regions.length} regions, ${options.ops} ops per operation, concurrency ${options.concurrency}, ` +
        `node ${process.version}\n`,
    );
    const row = (name: string, result: { samples: Samples; seconds: number }) => [
      name,
      formatMs(result.samples.quantileMs(0.5)),
      formatMs(result.samples.quantileMs(0.99)),
      Math.round(result.samples.count / result.seconds).toLocaleString("en-US"),
    ];
    printTable(
      ["operation", "p50", "p99", "ops/s"],
      [row("session write", write), row("session read", read), row("region query", query)],
    );
  } finally {
    // Only the keys this run wrote: safe on a shared server too.
    const pipeline = redis.pipeline();
    for (const session of sessions) {
      pipeline.del(Keys.session(session.socketId), Keys.heartbeat(session.socketId), Keys.userSessions(session.userId));
    }
    for (const regionId of regions) pipeline.del(Keys.regionMembers(regionId));
    pipeline.del(Keys.nodeSockets(NODE_ID));
    await pipeline.exec();
    redis.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
