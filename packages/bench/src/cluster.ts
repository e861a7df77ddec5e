/**
 * `pnpm bench cluster`: cross-node delivery through the Socket.IO Redis adapter, for both adapter
 * modes, with three nodes and many regions.
 *
 * Each region has members on exactly one node; every broadcast is emitted to one region's room by
 * a node that has no member there, so each delivery crosses Redis. Reported per mode:
 * - delivery latency p50/p99 (emit on one node → event received by a client of another node),
 *   with broadcasts spaced out so the cluster is at rest;
 * - adapter messages received by all nodes per useful delivery, where a useful delivery is one
 *   broadcast reaching one node that has members in the room (1.0 is ideal).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFerretDB, startRedisServer, waitFor } from "@roadpulse/devstack";
import { loadConfig, type RunningNode, regionRoom, startNode } from "@roadpulse/server";
import { io as connectClient, type Socket } from "socket.io-client";
import { runBenchmark } from "./lib/run.js";
import { formatMs, printTable, Samples } from "./stats.js";

const NODES = 3;
const REGIONS = 60;
const DEVICES_PER_REGION = 2;
const BROADCASTS = Number(process.env.BENCH_BROADCASTS ?? 3000);
const SPACING_MS = 2;

interface ModeResult {
  mode: string;
  deliveries: number;
  p50: number;
  p99: number;
  messagesIn: number;
  usefulDeliveries: number;
}

async function adapterMessagesIn(nodes: RunningNode[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const metric = await node.ctx.metrics.adapterMessages.get();
    total += metric.values.find((value) => value.labels.direction === "in")?.value ?? 0;
  }
  return total;
}

async function runMode(mode: "classic" | "sharded", redisUrl: string, mongoUri: string): Promise<ModeResult> {
  const prefix = `bench${randomBytes(3).toString("hex")}`;
  const nodes: RunningNode[] = [];
  for (let i = 0; i < NODES; i++) {
    const config = loadConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_ID: `${mode}-${i + 1}`,
      REDIS_URL: redisUrl,
      MONGODB_URI: mongoUri,
      ADAPTER_MODE: mode,
      ADAPTER_CHANNEL_PREFIX: prefix,
      LOG_LEVEL: "warn",
    });
    nodes.push(await startNode(config));
  }
  const userId = "0123456789abcdef01234567";
  // A login session of its own that nothing revokes: the bench measures broadcasts, not sign-in.
  const token = await nodes[0]?.ctx.tokens.issue({ userId, role: "user", sessionId: randomBytes(16).toString("hex") });
  const clients: Socket[] = [];
  const received = new Samples();
  const reached = new Set<number>();
  const homeOf = (region: number) => region % NODES;

  for (let region = 0; region < REGIONS; region++) {
    const home = nodes[homeOf(region)] as RunningNode;
    for (let d = 0; d < DEVICES_PER_REGION; d++) {
      const client = connectClient(`http://127.0.0.1:${home.port}`, {
        auth: { token },
        query: { deviceId: home.ctx.devices.withNonce(userId, `bench-${region}-${d}`) },
        transports: ["websocket"],
        reconnection: false,
      });
      // Only the first device of a region records: one sample per (broadcast, node) delivery.
      if (d === 0) {
        client.on("bench", (sentAt: string) => {
          received.add(Number(process.hrtime.bigint() - BigInt(sentAt)));
          reached.add(region);
        });
      }
      clients.push(client);
    }
  }
  await waitFor("bench clients to connect", () => clients.every((client) => client.connected), 30_000);
  for (const [index, client] of clients.entries()) {
    const region = Math.floor(index / DEVICES_PER_REGION);
    await nodes[homeOf(region)]?.io.in(client.id as string).socketsJoin(regionRoom(`bench${region}`));
  }

  const emitRound = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const region = i % REGIONS;
      const emitter = nodes[(homeOf(region) + 1 + (i % (NODES - 1))) % NODES] as RunningNode;
      emitter.io.to(regionRoom(`bench${region}`)).emit("bench", process.hrtime.bigint().toString());
      await new Promise((resolve) => setTimeout(resolve, SPACING_MS));
    }
  };
  // Warm-up until every region has heard a broadcast: dynamic subscriptions are made
  // asynchronously after a join, and the JIT warms the paths. Then measure from zero.
  await waitFor(
    "every region to be reachable",
    async () => {
      await emitRound(REGIONS);
      return reached.size === REGIONS;
    },
    20_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  received.reset();
  const before = await adapterMessagesIn(nodes);
  await emitRound(BROADCASTS);
  await waitFor("every broadcast to be delivered", () => received.count >= BROADCASTS, 30_000);
  const messagesIn = (await adapterMessagesIn(nodes)) - before;

  for (const client of clients) client.close();
  for (const node of nodes) await node.close();
  return {
    mode,
    deliveries: received.count,
    p50: received.quantileMs(0.5),
    p99: received.quantileMs(0.99),
    messagesIn,
    usefulDeliveries: BROADCASTS,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-"));
  const redis = await startRedisServer({ dir, output: "ignore" });
  const mongo = process.env.MONGODB_URI
    ? undefined
    : await startFerretDB({ dataDir: join(dir, "ferretdb"), output: "ignore" });
  const mongoUri = process.env.MONGODB_URI ?? `${mongo?.baseUri}/bench_cluster`;
  try {
    const results: ModeResult[] = [];
    const modes = (process.env.BENCH_MODES ?? "classic,sharded").split(",") as Array<"classic" | "sharded">;
    for (const mode of modes) results.push(await runMode(mode, redis.url, mongoUri));
    console.log(
      `\n${NODES} nodes, ${REGIONS} regions (members on one node each), ${BROADCASTS} cross-node broadcasts, one every ${SPACING_MS} ms\n`,
    );
    printTable(
      ["adapter mode", "deliveries", "latency p50", "latency p99", "adapter msgs in", "msgs per useful delivery"],
      results.map((r) => [
        r.mode,
        r.deliveries,
        formatMs(r.p50),
        formatMs(r.p99),
        r.messagesIn,
        (r.messagesIn / r.usefulDeliveries).toFixed(2),
      ]),
    );
  } finally {
    await redis.stop();
    await mongo?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchmark(main);
