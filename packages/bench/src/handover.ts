/**
 * `pnpm bench handover`: fresh connections to one node with WORKERS > 1 (default 2), counting
 * those the node never answers.
 *
 * Starts a private redis-server and FerretDB, one node process whose cluster primary hands every
 * TCP connection to a worker, registers an account, then opens HANDOVER_CONNECTIONS (default
 * 3000) fresh Socket.IO connections, HANDOVER_PARALLEL (default 8) at a time, each closed once
 * connected. A connection is "unanswered" when neither `connect` nor `connect_error` arrives within
 * HANDOVER_WAIT_MS (default 5000); it is told apart by how far it got (no Engine.IO open packet,
 * or open but no Socket.IO CONNECT reply). The node's own count of accepted Socket.IO connections
 * (`roadpulse_socket_events_total{event="connect",outcome="ok"}`, node-wide) is printed next to it.
 *
 * HANDOVER_TRANSPORT=websocket (default) connects the way devices do; `polling` starts with
 * long-polling and upgrades, which also exercises routing by session id over new connections.
 * Exits 1 when any connection was unanswered or refused.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startFerretDB, startNodeProcess, startRedisServer } from "@roadpulse/devstack";
import { io as connectClient } from "socket.io-client";
import { printTable } from "./stats.js";

const CONNECTIONS = Number(process.env.HANDOVER_CONNECTIONS ?? 3000);
const PARALLEL = Number(process.env.HANDOVER_PARALLEL ?? 8);
const WAIT_MS = Number(process.env.HANDOVER_WAIT_MS ?? 5000);
const WORKERS = process.env.HANDOVER_WORKERS ?? "2";
const TRANSPORT = process.env.HANDOVER_TRANSPORT === "polling" ? "polling" : "websocket";
const SECRET = "bench-secret-0123456789abcdef";

type Outcome = "connected" | "refused" | "unanswered, no open packet" | "unanswered after open packet";

function connectOnce(url: string, token: string, deviceId: string, index: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connectClient(url, {
      auth: { token },
      query: { deviceId },
      transports: TRANSPORT === "websocket" ? ["websocket"] : ["polling", "websocket"],
      reconnection: false,
      forceNew: true,
    });
    let opened = false;
    socket.io.on("open", () => {
      opened = true;
    });
    const finish = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.close();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(opened ? "unanswered after open packet" : "unanswered, no open packet"),
      WAIT_MS,
    );
    socket.once("connect", () => finish("connected"));
    socket.once("connect_error", (error) => {
      if (process.env.HANDOVER_VERBOSE) console.error(`connection ${index}: ${error.message}`);
      finish("refused");
    });
  });
}

async function connectedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("roadpulse_socket_events_total{") && line.includes('event="connect"')) {
      if (line.includes('outcome="ok"')) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-bench-handover-"));
  const redis = await startRedisServer({ dir, output: "ignore" });
  const mongo = await startFerretDB({ dataDir: join(dir, "ferretdb"), output: join(dir, "ferretdb.log") });
  const port = await freePort();
  const node = await startNodeProcess({
    nodeId: "handover",
    port,
    metricsPort: await freePort(),
    env: {
      REDIS_URL: `${redis.url}/0`,
      MONGODB_URI: `${mongo.baseUri}/bench_handover`,
      JWT_SECRET: SECRET,
      LOG_LEVEL: process.env.HANDOVER_LOG_LEVEL ?? "warn",
      WORKERS,
    },
    output: process.env.HANDOVER_NODE_LOG ?? join(dir, "node.log"),
    readyTimeoutMs: 40_000,
  });
  try {
    const response = await fetch(`${node.url}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "handover@example.test", password: "correct horse battery", displayName: "h" }),
    });
    if (response.status !== 201) throw new Error(`register failed: ${response.status}`);
    const { token } = (await response.json()) as { token: string };
    // One device reconnecting over and over: every connection is a fresh hand-over all the same.
    const device = await fetch(`${node.url}/api/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    if (device.status !== 201) throw new Error(`device registration failed: ${device.status}`);
    const { deviceId } = (await device.json()) as { deviceId: string };

    const outcomes = new Map<Outcome, number>();
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < CONNECTIONS) {
          const outcome = await connectOnce(node.url, token, deviceId, next++);
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const serverSide = await connectedCount(node.metricsUrl);
    console.log(
      `WORKERS=${WORKERS}, transport ${TRANSPORT}, ${CONNECTIONS} fresh connections, ${PARALLEL} at a time, ${seconds.toFixed(1)} s`,
    );
    printTable(
      ["outcome", "connections"],
      [
        ...(["connected", "refused", "unanswered, no open packet", "unanswered after open packet"] as Outcome[]).map(
          (outcome) => [outcome, outcomes.get(outcome) ?? 0],
        ),
        ["Socket.IO connections the node counted", serverSide],
      ],
    );
    process.exitCode = (outcomes.get("connected") ?? 0) === CONNECTIONS ? 0 : 1;
  } finally {
    await node.service.stop("SIGTERM", 15_000);
    await Promise.allSettled([redis.stop(), mongo.stop()]);
    if (!process.env.HANDOVER_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
