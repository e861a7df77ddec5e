import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MongoInstance, startFerretDB, waitFor } from "@roadpulse/devstack";
import { MongoClient } from "mongodb";
import type { Socket as ClientSocket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectDevice,
  dropDatabase,
  register,
  registerDevice,
  startTestNode,
  type TestNode,
  uniqueDbName,
} from "../support/env.js";
import { type AckReply, emitWithAck, getJson, observation, submit } from "../support/roads.js";

describe("exactly-once ingest", () => {
  let nodeA: TestNode;
  let nodeB: TestNode;
  let uri: string;
  let mongo: MongoClient;
  let token: string;
  const sockets: ClientSocket[] = [];

  const stored = (ids: string[]) =>
    mongo
      .db()
      .collection("observations")
      .countDocuments({ _id: { $in: ids } as never });

  beforeAll(async () => {
    nodeA = await startTestNode();
    uri = nodeA.env.MONGODB_URI ?? "";
    nodeB = await startTestNode({ MONGODB_URI: uri });
    mongo = new MongoClient(uri);
    token = (await register(nodeA.url, "ingest")).token;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([nodeA.close(), nodeB.close()]);
    await mongo.close();
    await dropDatabase(uri);
  });

  async function device(node: TestNode, deviceId?: string): Promise<ClientSocket> {
    const socket = await connectDevice(node.url, token, deviceId ? { deviceId } : {});
    sockets.push(socket);
    return socket;
  }

  it("stores a batch once and reports the resend as duplicates", async () => {
    const socket = await device(nodeA);
    const batch = Array.from({ length: 50 }, (_, i) => observation({ roughness: i / 10 }));
    expect(await submit(socket, batch)).toEqual({ ok: true, accepted: 50, duplicates: 0, rejected: [] });
    expect(await submit(socket, batch)).toEqual({ ok: true, accepted: 0, duplicates: 50, rejected: [] });
    expect(await stored(batch.map((o) => o.id))).toBe(50);
  });

  it("stores a batch sent concurrently to two nodes once, the two acks splitting it", async () => {
    const twin = await registerDevice(nodeA.url, token);
    const [onA, onB] = await Promise.all([device(nodeA, twin), device(nodeB, twin)]);
    const batch = Array.from({ length: 300 }, () => observation());
    const [ackA, ackB] = await Promise.all([submit(onA, batch), submit(onB, batch)]);
    if (!ackA.ok || !ackB.ok) throw new Error(`unexpected acks ${JSON.stringify([ackA, ackB])}`);
    expect(ackA.accepted + ackB.accepted).toBe(300);
    expect(ackA.duplicates + ackB.duplicates).toBe(300);
    expect(ackA.accepted + ackA.duplicates).toBe(300);
    expect(await stored(batch.map((o) => o.id))).toBe(300);
    // The road map counts each observation once too.
    const segment = await waitFor("the segment to count the batch", async () => {
      const { status, body } = await getJson<{ samples: number }>(`${nodeA.url}/api/segments/u3butzxb.ew`);
      return status === 200 && body.samples >= 300 ? body : undefined;
    });
    expect(segment.samples).toBe(300 + 50);
  });

  it("accepts a full batch of 500 with every number at full double precision", async () => {
    const socket = await device(nodeA);
    const batch = Array.from({ length: 500 }, () =>
      observation({
        latitude: 55.67610000000001 + Math.random() / 1e6,
        longitude: 12.568300000000001 + Math.random() / 1e6,
        roughness: Math.random() * 49.99999999,
        speed: 10 + Math.random() * 10,
        heading: 359 * Math.random() + 0.123456789012345,
      }),
    );
    expect(JSON.stringify({ observations: batch }).length).toBeGreaterThan(96 * 1024);
    expect(await submit(socket, batch)).toMatchObject({ ok: true, accepted: 500, duplicates: 0, rejected: [] });
  });

  it("counts an id repeated inside one batch, or in another case, as one observation", async () => {
    const socket = await device(nodeA);
    const one = observation();
    const ack = await submit(socket, [one, { ...one }, { ...one, id: one.id.toUpperCase() }]);
    expect(ack).toEqual({ ok: true, accepted: 1, duplicates: 2, rejected: [] });
  });

  it("stores exactly the valid items of a mixed batch and names each rejected one with its reason", async () => {
    const socket = await device(nodeA);
    const now = Date.now();
    const good = [
      observation(),
      observation({ event: "pothole" }),
      observation({ speed: undefined, heading: undefined }),
    ];
    const bad: Array<[unknown, string]> = [
      [observation({ latitude: 91 }), "BAD_COORDINATES"],
      [observation({ longitude: -180.5 }), "BAD_COORDINATES"],
      [{ ...observation(), latitude: null }, "BAD_COORDINATES"],
      [observation({ latitude: "55.1" as never }), "BAD_COORDINATES"],
      [observation({ recordedAt: new Date(now + 6 * 60_000).toISOString() }), "IN_FUTURE"],
      [observation({ recordedAt: new Date(now - 31 * 24 * 3600_000).toISOString() }), "TOO_OLD"],
      [observation({ recordedAt: "yesterday" }), "BAD_TIME"],
      [observation({ roughness: 50.1 }), "BAD_ROUGHNESS"],
      [observation({ roughness: -1 }), "BAD_ROUGHNESS"],
      [observation({ speed: 100.5 }), "BAD_SPEED"],
      [observation({ heading: 361 }), "BAD_HEADING"],
      [observation({ event: "crater" }), "UNKNOWN_EVENT"],
      [observation({ colour: "red" }), "UNKNOWN_FIELD"],
      [observation({ roughness: { $gt: 0 } as never }), "BAD_ROUGHNESS"],
      [{ id: randomUUID(), latitude: 1, longitude: 1, roughness: 1 }, "MISSING_FIELD"],
    ];
    const items = [...good, ...bad.map(([item]) => item), { ...observation(), id: "not-a-uuid" }];
    const ack = await submit(socket, items);
    expect(ack).toEqual({
      ok: true,
      accepted: 3,
      duplicates: 0,
      rejected: [
        ...bad.map(([item, code]) => ({ id: (item as { id: string }).id, code })),
        { id: `#${good.length + bad.length}`, code: "BAD_ID" },
      ],
    });
    expect(await stored(good.map((o) => o.id))).toBe(3);
    expect(await stored(bad.map(([item]) => (item as { id: string }).id))).toBe(0);
  });

  it.each([
    ["no observations key", {}],
    ["an empty batch", { observations: [] }],
    ["501 observations", { observations: Array.from({ length: 501 }, () => ({})) }],
    ["a string instead of the list", { observations: "lots" }],
    ["a number among the items", { observations: [42] }],
    ["an unknown top-level field", { observations: [{}], admin: true }],
    ["an operator object", { observations: { $gt: "" } }],
    ["no payload", null],
  ])("refuses %s as a whole and stores nothing", async (_what, payload) => {
    const socket = await device(nodeA);
    const before = await mongo.db().collection("observations").countDocuments();
    const ack = await emitWithAck<AckReply>(socket, "observations:submit", payload);
    expect(ack).toEqual({ ok: false, error: { code: "VALIDATION_FAILED", message: expect.any(String) } });
    expect(await mongo.db().collection("observations").countDocuments()).toBe(before);
  });

  it("takes the same batch over HTTP, on the same path (duplicates across transports)", async () => {
    const batch = [observation(), observation()];
    const deviceId = await registerDevice(nodeB.url, token);
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${nodeB.url}/api/observations`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${token}`,
          "x-device-id": deviceId,
          ...headers,
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    const first = await post({ observations: batch });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ ok: true, accepted: 2, duplicates: 0, rejected: [] });
    const socket = await device(nodeA);
    expect(await submit(socket, batch)).toEqual({ ok: true, accepted: 0, duplicates: 2, rejected: [] });

    expect((await post({ observations: batch }, { authorization: "Bearer forged" })).status).toBe(401);
    expect((await post({ observations: batch }, { "x-device-id": "x" })).status).toBe(400);
    // A made-up id, or another account's device: refused, nothing stored.
    const other = await register(nodeB.url, "someone-else");
    const othersDevice = await registerDevice(nodeB.url, other.token);
    const fresh = [observation()];
    for (const id of ["device-offline-01", othersDevice, `${deviceId.split(".")[0]}.${othersDevice.split(".")[1]}`]) {
      const refused = await post({ observations: fresh }, { "x-device-id": id });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({ error: { code: "FORBIDDEN", message: expect.any(String) } });
    }
    expect(await stored(fresh.map((o) => o.id))).toBe(0);
    const huge = { observations: Array.from({ length: 500 }, () => ({ ...observation(), pad: "x".repeat(600) })) };
    const tooLarge = await post(huge);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toEqual({ error: { code: "PAYLOAD_TOO_LARGE", message: expect.any(String) } });
    expect((await post('{"observations": [')).status).toBe(400);
  });

  it("answers STORAGE_UNAVAILABLE and claims nothing while MongoDB is down", async () => {
    const mongoDown: MongoInstance = await startFerretDB({
      dataDir: join(tmpdir(), uniqueDbName("ferret")),
      output: "ignore",
    });
    const node = await startTestNode({ MONGODB_URI: `${mongoDown.baseUri}/${uniqueDbName()}` });
    try {
      const account = await register(node.url, "offline");
      const socket = await connectDevice(node.url, account.token);
      sockets.push(socket);
      expect(await submit(socket, [observation()])).toMatchObject({ ok: true, accepted: 1 });
      await mongoDown.service?.kill();
      const ack = await submit(socket, [observation()]);
      expect(ack).toEqual({ ok: false, error: { code: "STORAGE_UNAVAILABLE", message: expect.any(String) } });
    } finally {
      await node.close();
      await mongoDown.stop();
    }
  });
});
