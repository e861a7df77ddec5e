import { waitFor } from "@roadpulse/devstack";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Keys } from "../../src/presence/keys.js";
import { connectDevice, dropDatabase, redisUrl, register, startTestNode, type TestNode } from "../support/env.js";
import { observation, offset, submit } from "../support/roads.js";

// MONGODB_TIMEOUT_MS 10 s: entries go stale after 30 s, queued ones are renewed every 7.5 s, and
// the fold lock lives 20 s. AGGREGATE_FLUSH_MS 10 s keeps the batch queued meanwhile.
const RENEW_EVERY_MS = 7_500;

/**
 * A queued batch's journal entry is renewed only by a node holding the cluster-wide fold lock, as
 * the take-overs it competes with are: FerretDB does not isolate two updates of one entry, so a
 * renewal unlocked at the instant another node claims the entry left both holding it, and the
 * batch was counted twice (a node waking from a 30 s SIGSTOP renews at once).
 */
describe("renewing queued journal entries", { timeout: 90_000 }, () => {
  let node: TestNode;
  let uri: string;
  let socket: ClientSocket;
  let redis: Redis;

  beforeAll(async () => {
    node = await startTestNode({ AGGREGATE_FLUSH_MS: "10000", MONGODB_TIMEOUT_MS: "10000" });
    uri = node.env.MONGODB_URI ?? "";
    socket = await connectDevice(node.url, (await register(node.url, "renewal")).token);
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    socket?.close();
    await redis?.del(Keys.foldLock);
    redis?.disconnect();
    await node?.close();
    await dropDatabase(uri);
  });

  it("waits for the fold lock another node holds, then the batch is counted once", async () => {
    // Another node holds the fold lock (it is taking entries over, say).
    expect(await redis.set(Keys.foldLock, "another-node", "PX", 60_000)).toBe("OK");
    const items = Array.from({ length: 5 }, (_, i) => observation(offset(i * 60, 0)));
    expect(await submit(socket, items)).toMatchObject({ ok: true, accepted: 5 });

    const mongo = new MongoClient(uri);
    try {
      const journal = mongo.db().collection<{ claimedAt: Date }>("ingest_batches");
      const [entry] = await journal.find().toArray();
      expect(entry).toBeDefined();
      const claimedAt = entry?.claimedAt.getTime();

      // Past the renewal time the entry is due, but its node must not write it without the lock.
      await new Promise((resolve) => setTimeout(resolve, RENEW_EVERY_MS + 4_500));
      const [still] = await journal.find().toArray();
      expect(still?.claimedAt.getTime()).toBe(claimedAt);

      // The lock is free again: the batch is folded, once, and its entry closed.
      await redis.del(Keys.foldLock);
      const segments = mongo.db().collection<{ samples: number }>("road_segments");
      await waitFor("the batch to be folded", async () => (await journal.countDocuments()) === 0, 60_000, 200);
      expect((await segments.find().toArray()).map((s) => s.samples)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await mongo.close();
    }
  });
});
