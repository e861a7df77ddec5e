import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Cluster,
  fetchHealth,
  type MongoInstance,
  postgresDatabaseFor,
  type RedisInstance,
  StoreSupervisor,
  startFerretDB,
  startRedisServer,
  waitFor,
} from "@roadpulse/devstack";
import { TEST_JWT_SECRET } from "./env.js";

/**
 * The local cluster as `scripts/start.sh` runs it (FerretDB on PostgreSQL watched by its
 * supervisor, nodes restarted when they die, nginx in front), on a store and a Redis of its own, so
 * a fault test can pause, kill and restart every part without touching other test files.
 */
export class FaultStack {
  private constructor(
    /** What the supervisors of the nodes and of the store said (restarts). */
    readonly supervisorLog: string[],
    readonly dir: string,
    readonly cluster: Cluster,
    readonly supervisor: StoreSupervisor,
    private redisInstance: RedisInstance,
    readonly mongoUri: string,
  ) {}

  static async start(options: { name: string; nodes: number; env?: Record<string, string> }): Promise<FaultStack> {
    const dir = mkdtempSync(join(tmpdir(), `roadpulse-${options.name}-`));
    const log: string[] = [];
    const startStore = (port?: number) =>
      startFerretDB({
        ...(port === undefined ? {} : { port }),
        dataDir: join(dir, "store"),
        output: join(dir, "ferretdb.log"),
        backend: "postgresql",
        // Kept across the store's restarts; dropped by stop().
        keepData: true,
        log: (line) => log.push(`store: ${line}`),
      });
    const store = await startStore();
    const supervisor = new StoreSupervisor(store, () => startStore(store.port), {
      database: options.name,
      log: (line) => log.push(line),
    });
    supervisor.start();
    const redis = await startRedisServer({ dir, output: "ignore" });
    const mongoUri = `${store.baseUri}/${options.name}`;
    const cluster = await Cluster.start({
      nodes: options.nodes,
      redisUrl: redis.url,
      mongoUri,
      env: {
        LOG_LEVEL: "warn",
        JWT_SECRET: TEST_JWT_SECRET,
        ADAPTER_CHANNEL_PREFIX: options.name,
        ...options.env,
      },
      dir,
      output: (name) => join(dir, `${name}.log`),
      nodeIdPrefix: `${options.name.slice(0, 3)}${randomBytes(2).toString("hex")}`,
      supervise: { log: (line) => log.push(line) },
    });
    return new FaultStack(log, dir, cluster, supervisor, redis, mongoUri);
  }

  get redis(): RedisInstance {
    return this.redisInstance;
  }

  get store(): MongoInstance {
    return this.supervisor.current;
  }

  /** SIGSTOP for `ms`, then SIGCONT; returns both instants. A hang is a duration, not a condition. */
  async pause(pid: number | undefined, ms: number): Promise<{ pausedAt: number; continuedAt: number }> {
    if (pid === undefined) throw new Error("no process to pause");
    const pausedAt = Date.now();
    process.kill(pid, "SIGSTOP");
    try {
      await new Promise((resolve) => setTimeout(resolve, ms));
    } finally {
      process.kill(pid, "SIGCONT");
    }
    return { pausedAt, continuedAt: Date.now() };
  }

  /** Redis stopped and started again on its port, empty (it keeps nothing on disk, as in the guide). */
  async restartRedis(): Promise<void> {
    const { port } = this.redisInstance;
    await this.redisInstance.stop();
    this.redisInstance = await startRedisServer({ port, dir: this.dir, output: "ignore" });
  }

  /** The store's process killed; its supervisor starts it again on the same port and data. */
  async killStore(): Promise<void> {
    const before = this.supervisor.restarts;
    await this.store.service?.kill();
    await waitFor("the store's supervisor to restart it", () => this.supervisor.restarts > before, 30_000, 50);
  }

  /** The pids of a node's worker processes (with `WORKERS` > 1), from the kernel's process tree. */
  workerPids(nodeIndex: number): number[] {
    const pid = this.cluster.node(nodeIndex).service.pid;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return children === "" ? [] : children.split(/\s+/).map(Number);
  }

  async everyNodeOk(): Promise<boolean> {
    const running = this.cluster.nodes.filter((node) => node !== undefined);
    const bodies = await Promise.all(running.map((node) => fetchHealth(node.url).catch(() => undefined)));
    return bodies.every((health) => health?.status === 200 && health.body.status === "ok");
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
    this.supervisor.stop();
    const store = this.store;
    await Promise.allSettled([store.stop(), this.redisInstance.stop()]);
    await (await postgresDatabaseFor(store.port, join(this.dir, "store"))).drop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
