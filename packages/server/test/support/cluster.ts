import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, type MongoInstance, type StoreBackend, startFerretDB } from "@roadpulse/devstack";
import { onTestFinished } from "vitest";
import { dropDatabase, mongoUri, redisUrl, registerDevice, TEST_JWT_SECRET, uniqueDbName } from "./env.js";

export interface TestCluster extends Cluster {
  dir: string;
  mongoUri: string;
  redisUrl: string;
  /** The private store, when `store` was given. */
  store?: MongoInstance;
  dispose(): Promise<void>;
}

/**
 * N node processes behind nginx on free ports, on the run's private Redis (own adapter channel
 * prefix) and a MongoDB database of their own. Node logs go to files in `dir` (kept on failure
 * is not needed: `recentOutput` of each service holds the tail). With `store`, the nodes get a
 * private FerretDB on that backend instead of the run's shared one (dropped on dispose).
 */
export async function startTestCluster(
  options: { nodes: number; env?: Record<string, string>; store?: StoreBackend } = { nodes: 3 },
): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), "roadpulse-cluster-"));
  let store: MongoInstance | undefined;
  if (options.store !== undefined) {
    store = await startFerretDB({ backend: options.store, dataDir: join(dir, "store"), output: "ignore" });
  }
  const database = store === undefined ? mongoUri(uniqueDbName("c")) : `${store.baseUri}/${uniqueDbName("c")}`;
  const redis = redisUrl();
  const cluster = await Cluster.start({
    nodes: options.nodes,
    redisUrl: redis,
    mongoUri: database,
    env: {
      LOG_LEVEL: "warn",
      JWT_SECRET: TEST_JWT_SECRET,
      ADAPTER_CHANNEL_PREFIX: `t${randomBytes(4).toString("hex")}`,
      ...options.env,
    },
    dir,
    output: (name) => join(dir, `${name}.log`),
    nodeIdPrefix: `n${randomBytes(2).toString("hex")}`,
  });
  return Object.assign(cluster, {
    dir,
    mongoUri: database,
    redisUrl: redis,
    store,
    async dispose() {
      await cluster.stop();
      // The run's shared store keeps only what tests still use; a private one goes with its data.
      if (store === undefined) await dropDatabase(database).catch(() => undefined);
      await store?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The node nginx sends a device to: the same hash key (deviceId) routes /health and the socket. */
export async function nodeForDevice(lbUrl: string, deviceId: string): Promise<string> {
  const response = await fetch(`${lbUrl}/health?deviceId=${encodeURIComponent(deviceId)}`);
  const node = response.headers.get("x-node-id");
  if (!node) throw new Error("no X-Node-Id on the balancer's answer");
  return node;
}

/**
 * A device id issued to the token's account that nginx routes to `nodeId` (found by probing, as
 * ops would with curl).
 */
export async function deviceIdOn(lbUrl: string, nodeId: string, token: string): Promise<string> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const deviceId = await registerDevice(lbUrl, token);
    if ((await nodeForDevice(lbUrl, deviceId)) === nodeId) return deviceId;
  }
  throw new Error(`no device id routed to ${nodeId} in 500 tries`);
}

/**
 * Pauses a cluster's private store (SIGSTOP: it keeps its connections and answers nothing) and
 * returns what resumes it; it is also resumed when the test finishes, whatever happens.
 */
export function pauseStore(cluster: TestCluster): () => void {
  const pid = cluster.store?.service?.child.pid;
  if (pid === undefined) throw new Error("the private store has no process to pause");
  process.kill(pid, "SIGSTOP");
  let continued = false;
  const resume = () => {
    if (!continued) process.kill(pid, "SIGCONT");
    continued = true;
  };
  onTestFinished(resume);
  return resume;
}
