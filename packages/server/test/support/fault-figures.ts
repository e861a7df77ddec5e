import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchHealth, waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, onTestFinished } from "vitest";
import { register } from "./env.js";
import { FaultStack } from "./fault-stack.js";
import { TestFleet } from "./fleet.js";

/** What a fault did to a fleet, as `pnpm faults` prints it (targets in `FAULT_TARGETS`). */
export interface FaultFigures {
  fault: string;
  devices: number;
  /** Observations acknowledged as stored over the whole run. */
  acked: number;
  /** Of those, not in the store at the end. */
  ackedMissing: number;
  /** Acks that said "stored" for a batch of which an observation is not in the store. */
  falseAcks: number;
  /** From the fault's end until every device had an ok ack for something it sent after it. */
  backMs: number;
  /** Socket ids in Redis's sessions or presence sets that no device holds, 30 s after the fault. */
  ghosts: number;
  /** Live sockets that two nodes claim as theirs at that moment. */
  doubleServed: number;
  /** Aggregate samples beyond the observations stored (segments and region-days together). */
  doubleCounted: number;
  /** Stored observations missing from the aggregates once the backlog had time to drain. */
  uncounted: number;
  /** Every node's `/health` other than "200 ok" seen during the run, in order of first sight. */
  health: string[];
  /** The nodes' warnings and errors logged during the run: message → times. */
  logs: Record<string, number>;
}

/** Every figure's target; `backMs` is the bound on a device's way back after a fault. */
export const FAULT_TARGETS = {
  ackedMissing: 0,
  falseAcks: 0,
  backMs: 10_000,
  ghosts: 0,
  doubleServed: 0,
  doubleCounted: 0,
  uncounted: 0,
} as const;

/** How long after a fault's end ghosts are counted (the issue's "ghost sessions after 30 s"). */
const GHOST_CHECK_AFTER_MS = 30_000;

/**
 * One fault under a fleet: `start` drives the fleet (and watches every node's `/health`) until it
 * is in its stride; the test applies the fault; `measure` takes the fault's end and returns what
 * it did (appended to `FAULTS_REPORT` when that is set, for `pnpm faults`).
 */
export class FaultRun {
  readonly #health = new Set<string>();
  readonly #watch: NodeJS.Timeout;

  private constructor(
    private readonly stack: FaultStack,
    readonly fleet: TestFleet,
    private readonly startedAt: number,
  ) {
    this.#watch = setInterval(() => void this.#lookAtHealth(), 1_000);
  }

  /**
   * 50 devices, each sending a location and a batch of 5 observations every 2 s and resending
   * what is not acknowledged with the same ids; returns once 500 observations were acknowledged.
   */
  static async start(stack: FaultStack, tokens: string[]): Promise<FaultRun> {
    const startedAt = Date.now();
    const fleet = new TestFleet({
      url: stack.cluster.url,
      tokens,
      devices: 50,
      locationEveryMs: 2_000,
      batchEveryMs: 2_000,
      batchSize: 5,
      ackTimeoutMs: 8_000,
    });
    await fleet.start();
    try {
      await waitFor("the fleet's first observations to be acknowledged", () => fleet.ackedIds.size >= 500, 60_000);
    } catch (error) {
      fleet.close();
      throw error;
    }
    return new FaultRun(stack, fleet, startedAt);
  }

  /** Stops the fleet and the watch (also when the test failed before `measure`). */
  close(): void {
    clearInterval(this.#watch);
    this.fleet.close();
  }

  /**
   * The fault is over at `endedAt`; the fleet is still driving. Measures the way back, then (30 s
   * after the fault) what is left in Redis, then lets every kept batch through, stops the fleet
   * and checks the store and the aggregates.
   */
  async measure(fault: string, endedAt: number): Promise<FaultFigures> {
    const { stack, fleet } = this;
    const backMs = await wayBack(fleet, endedAt);
    const wait = endedAt + GHOST_CHECK_AFTER_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { ghosts, doubleServed } = await leftovers(stack.redis.url, fleet);

    fleet.stopGenerating();
    await waitFor("every kept batch to be acknowledged", () => fleet.unacknowledged === 0, 120_000, 100);
    this.close();

    const mongo = new MongoClient(stack.mongoUri, { serverSelectionTimeoutMS: 10_000 });
    try {
      const stored = await storedOf(mongo, [...fleet.ackedIds]);
      const falseAcks = fleet.okBatches.filter((ids) => ids.some((id) => !stored.has(id))).length;
      const { over, under } = await aggregateBalance(mongo);
      const figures: FaultFigures = {
        fault,
        devices: fleet.devices.length,
        acked: fleet.ackedIds.size,
        ackedMissing: fleet.ackedIds.size - stored.size,
        falseAcks,
        backMs,
        ghosts,
        doubleServed,
        doubleCounted: over,
        uncounted: under,
        health: [...this.#health],
        logs: nodeWarnings(stack.dir, this.startedAt),
      };
      if (process.env.FAULTS_REPORT) appendFileSync(process.env.FAULTS_REPORT, `${JSON.stringify(figures)}\n`);
      return figures;
    } finally {
      await mongo.close();
    }
  }

  async #lookAtHealth(): Promise<void> {
    await Promise.all(
      this.stack.cluster.nodes.map(async (node) => {
        if (node === undefined) return;
        const seen = await fetchHealth(node.url).then(
          ({ status, body }) =>
            `HTTP ${status} ${body.status} (${Object.entries(body.services)
              .map(([name, state]) => `${name} ${state}`)
              .join(", ")})`,
          () => "no answer",
        );
        if (!seen.startsWith("HTTP 200 ok")) this.#health.add(`${node.nodeId}: ${seen}`);
      }),
    );
  }
}

/** Distinct warning and error messages in the nodes' logs (pino JSON lines) since `since`. */
function nodeWarnings(dir: string, since: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".log"))) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; time?: number; msg?: string };
        if ((entry.level ?? 0) >= 40 && (entry.time ?? 0) >= since && entry.msg) {
          counts[entry.msg] = (counts[entry.msg] ?? 0) + 1;
        }
      } catch {
        // Not a log entry of a node (nginx, the store).
      }
    }
  }
  return counts;
}

/** Waits until every device has had an ok ack for an event sent after `since`; how long that took. */
async function wayBack(fleet: TestFleet, since: number): Promise<number> {
  const backAt = new Map<number, number>();
  await waitFor(
    "every device to be answered ok again after the fault",
    () => {
      for (const ack of fleet.acks) {
        if (!ack.ok || ack.sentAt < since) continue;
        const at = ack.sentAt + ack.ms;
        if (at < (backAt.get(ack.device) ?? Number.POSITIVE_INFINITY)) backAt.set(ack.device, at);
      }
      return backAt.size === fleet.devices.length;
    },
    90_000,
    100,
  );
  return Math.max(...backAt.values()) - since;
}

/** Socket ids Redis holds for nobody, and live ones two nodes both claim. */
async function leftovers(redisUrl: string, fleet: TestFleet): Promise<{ ghosts: number; doubleServed: number }> {
  const live = new Set(fleet.devices.filter((device) => device.connected).map((device) => device.id));
  const redis = new Redis(redisUrl);
  try {
    const held = new Set<string>();
    for (const key of await redis.keys("session:*")) held.add(key.slice("session:".length));
    for (const key of await redis.keys("region:*:members")) for (const id of await redis.smembers(key)) held.add(id);
    const claims = new Map<string, number>();
    for (const key of await redis.keys("presence:node:*:sockets")) {
      for (const id of await redis.smembers(key)) {
        held.add(id);
        claims.set(id, (claims.get(id) ?? 0) + 1);
      }
    }
    const ghosts = [...held].filter((id) => !live.has(id)).length;
    const doubleServed = [...claims].filter(([id, n]) => live.has(id) && n > 1).length;
    return { ghosts, doubleServed };
  } finally {
    redis.disconnect();
  }
}

/** Which of `ids` the store holds (read by `_id`, as the store check of the simulator does). */
async function storedOf(mongo: MongoClient, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const observations = mongo.db().collection<{ _id: string }>("observations");
  for (let i = 0; i < ids.length; i += 500) {
    const docs = await observations.find({ _id: { $in: ids.slice(i, i + 500) } }, { projection: { _id: 1 } }).toArray();
    for (const doc of docs) found.add(doc._id);
  }
  return found;
}

/**
 * Every stored observation must be counted once in its segment's `samples` and once in its
 * region-day's `counted`. Waits (the recovery of a dead node's rounds takes up to the journal's
 * stale time plus a recovery pass) until both match the store, and says by how much they do not.
 */
async function aggregateBalance(mongo: MongoClient): Promise<{ over: number; under: number }> {
  const db = mongo.db();
  const balance = async () => {
    const observations = await db.collection("observations").countDocuments({});
    const segments = await db.collection<{ samples: number }>("road_segments").find({}).toArray();
    const days = await db.collection<{ observations: number }>("region_daily_stats").find({}).toArray();
    const samples = segments.reduce((sum, segment) => sum + segment.samples, 0);
    const counted = days.reduce((sum, day) => sum + day.observations, 0);
    return {
      over: Math.max(0, samples - observations) + Math.max(0, counted - observations),
      under: Math.max(0, observations - samples) + Math.max(0, observations - counted),
    };
  };
  let last = await balance();
  await waitFor(
    "the aggregates to count every stored observation",
    async () => {
      last = await balance();
      return last.under === 0 || last.over > 0;
    },
    120_000,
    1_000,
  ).catch(() => undefined);
  return last;
}

/** Fails with every figure that missed its target (all of them, so one run says everything). */
export function missedTargets(figures: FaultFigures): Record<string, number> {
  const missed: Record<string, number> = {};
  for (const [name, target] of Object.entries(FAULT_TARGETS)) {
    const value = figures[name as keyof typeof FAULT_TARGETS];
    if (value > target) missed[name] = value;
  }
  return missed;
}

/**
 * The fault stack of one test file (started before its tests, stopped after them) and a fault
 * run per test, under an account of its own, closed when the test ends.
 */
export function faultStackPerFile(options: Parameters<typeof FaultStack.start>[0]): {
  stack: () => FaultStack;
  runFor: (name: string) => Promise<FaultRun>;
} {
  let stack: FaultStack | undefined;
  beforeAll(async () => {
    stack = await FaultStack.start(options);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });
  const current = () => {
    if (stack === undefined) throw new Error("the fault stack did not start");
    return stack;
  };
  return {
    stack: current,
    async runFor(name) {
      // 50 devices of 10 people: each account well under MAX_SOCKETS_PER_ACCOUNT, even while the
      // sessions a dead node left behind still count until they are reaped.
      const url = current().cluster.url;
      const accounts = await Promise.all(Array.from({ length: 10 }, (_, i) => register(url, `${name}-${i}`)));
      const run = await FaultRun.start(
        current(),
        accounts.map((account) => account.token),
      );
      onTestFinished(() => run.close());
      return run;
    },
  };
}
