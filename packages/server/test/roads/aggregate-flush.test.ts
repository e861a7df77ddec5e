import { MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDevice, dropDatabase, register, startTestNode, type TestNode } from "../support/env.js";
import { observation, offset, submit } from "../support/roads.js";

const FLUSH_MS = 1_000;

/** Rounds of aggregates follow AGGREGATE_FLUSH_MS, not the rate of batches. */
describe("aggregate rounds at most once per flush interval", () => {
  let node: TestNode;
  let uri: string;
  let socket: ClientSocket;

  beforeAll(async () => {
    node = await startTestNode({ AGGREGATE_FLUSH_MS: String(FLUSH_MS) });
    uri = node.env.MONGODB_URI ?? "";
    socket = await connectDevice(node.url, (await register(node.url, "flush")).token);
  });
  afterAll(async () => {
    socket?.close();
    await node?.close();
    await dropDatabase(uri);
  });

  it("folds many quick batches in few rounds and counts each observation once", async () => {
    const started = performance.now();
    const sent: number[] = [];
    // 40 batches as fast as acks come, each on 5 segments of the same street.
    for (let batch = 0; batch < 40; batch++) {
      const items = Array.from({ length: 5 }, (_, i) => observation(offset(i * 60, 0)));
      const ack = await submit(socket, items);
      expect(ack).toMatchObject({ ok: true, accepted: 5 });
      sent.push(items.length);
    }
    await node.services.roads.aggregator.idle();
    const elapsedMs = performance.now() - started;

    const mongo = new MongoClient(uri);
    try {
      const db = mongo.db();
      const lanes = await db.collection<{ _id: number; seq: number }>("aggregate_lanes").find().toArray();
      expect(lanes).toHaveLength(1);
      // One round right away, then at most one per interval.
      expect(lanes[0]?.seq).toBeLessThanOrEqual(Math.floor(elapsedMs / FLUSH_MS) + 1);
      expect(lanes[0]?.seq).toBeLessThan(40);
      const segments = await db.collection<{ samples: number }>("road_segments").find().toArray();
      expect(segments.map((s) => s.samples)).toEqual([40, 40, 40, 40, 40]);
      expect(await db.collection("ingest_batches").countDocuments()).toBe(0);
    } finally {
      await mongo.close();
    }
  });
});
