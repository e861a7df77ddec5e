import { waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { type Collection, MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Keys } from "../../src/presence/keys.js";
import { connectDevice, dropDatabase, redisUrl, register, startTestNode, type TestNode } from "../support/env.js";
import { observation, offset, submit } from "../support/roads.js";

// MONGODB_TIMEOUT_MS 10 s: entries go stale after 30 s, queued ones are looked at every 7.5 s, a
// renewal later than 15 s after the last one waits for the fold lock, and the lock lives 20 s.
// AGGREGATE_FLUSH_MS 10 s keeps the batches queued meanwhile.
const HALF_STALE_MS = 15_000;

interface Entry {
  _id: unknown;
  claimedAt: Date;
}

/** Blocks this whole process, the node in it included, as a SIGSTOP or a long pause would. */
function pauseProcess(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A node keeps the journal entries of its queued batches claimed, so that only a dead node's
 * batches are taken over. FerretDB does not isolate two updates of one entry: a renewal at the
 * instant another node claims it could leave both holding it, and the batch counted twice. A claim
 * needs the entry stale, so only a late renewal (its node was paused) can meet one: that waits for
 * the cluster-wide fold lock the take-overs hold; a timely one does not, so a node that keeps losing
 * the lock to busy rounds does not lose its queue.
 */
describe("renewing queued journal entries", { timeout: 150_000 }, () => {
  let node: TestNode;
  let uri: string;
  let token: string;
  let redis: Redis;
  let mongo: MongoClient;
  let journal: Collection<Entry>;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    node = await startTestNode({ AGGREGATE_FLUSH_MS: "10000", MONGODB_TIMEOUT_MS: "10000" });
    uri = node.env.MONGODB_URI ?? "";
    token = (await register(node.url, "renewal")).token;
    redis = new Redis(redisUrl());
    mongo = new MongoClient(uri);
    journal = mongo.db().collection<Entry>("ingest_batches");
  });
  beforeEach(async () => {
    // Another node holds the fold lock (it is taking entries over, say).
    expect(await redis.set(Keys.foldLock, "another-node", "PX", 90_000)).toBe("OK");
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await redis?.del(Keys.foldLock);
    redis?.disconnect();
    await mongo?.close();
    await node?.close();
    await dropDatabase(uri);
  });

  const device = async () => {
    const socket = await connectDevice(node.url, token);
    sockets.push(socket);
    return socket;
  };

  /** Submits 5 observations 60 m apart, `metresEast` east of the base, and returns their entry. */
  const submitBatch = async (socket: ClientSocket, metresEast: number): Promise<Entry> => {
    const before = new Set((await journal.find().toArray()).map((e) => String(e._id)));
    const items = Array.from({ length: 5 }, (_, i) => observation(offset(i * 60, metresEast)));
    expect(await submit(socket, items)).toMatchObject({ ok: true, accepted: 5 });
    const entry = (await journal.find().toArray()).find((e) => !before.has(String(e._id)));
    if (entry === undefined) throw new Error("the batch left no journal entry");
    return entry;
  };
  const claimedAt = async (entry: Entry) =>
    (await journal.findOne({ _id: entry._id } as never))?.claimedAt.getTime() ?? Number.NaN;

  /** Frees the lock and waits for every queued batch to be folded; returns each segment's samples. */
  const foldAll = async (): Promise<number[]> => {
    await redis.del(Keys.foldLock);
    await waitFor("the batches to be folded", async () => (await journal.countDocuments()) === 0, 60_000, 200);
    const segments = mongo.db().collection<{ samples: number }>("road_segments");
    return (await segments.find().toArray()).map((s) => s.samples);
  };

  it("keeps a queued batch claimed while another node holds the fold lock, and counts it once", async () => {
    const entry = await submitBatch(await device(), 0);
    const first = entry.claimedAt.getTime();
    await waitFor("the entry to be renewed", async () => (await claimedAt(entry)) > first, 30_000, 200);
    expect(await foldAll()).toEqual([1, 1, 1, 1, 1]);
  });

  it("after a pause of half the stale time, renews the batches it held only under the fold lock", async () => {
    const late = await submitBatch(await device(), 300);
    const lateClaimedAt = late.claimedAt.getTime();
    pauseProcess(HALF_STALE_MS + 1_000);

    // The renewal timer runs at once on waking. A batch submitted now is renewed in its time (so
    // the node did look at its queue), while the one held across the pause waits for the lock.
    const fresh = await submitBatch(await device(), 600);
    const freshClaimedAt = fresh.claimedAt.getTime();
    await waitFor("the new entry to be renewed", async () => (await claimedAt(fresh)) > freshClaimedAt, 30_000, 200);
    expect(await claimedAt(late)).toBe(lateClaimedAt);

    // Both batches of this test and the first test's: 15 segments, each counted once.
    expect(await foldAll()).toEqual(Array.from({ length: 15 }, () => 1));
  });
});
